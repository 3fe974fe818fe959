"""What this CPU offers and how the runtime uses it: its features, its measured GEMM rates and the
rule that turns them into ``precision="auto"``, and how many threads to run on the cores that are
idle now.

Threads: OpenMP threads spin while they wait, so on a core another process is using they slow
both down. hppnet-tiny on a 2-core machine with one other busy process took 6x longer with
torch's default 2 threads than idle, and about as long as idle with 1 thread; a passive OpenMP
wait policy fixed the busy case too but made the idle one 2.9x slower
(benchmarks/threads_under_load.py). So the default is the number of cores idle when a
transcription starts (measured over 50 ms from /proc/stat, on the cores this process may use).

A CPU with AVX512-BF16 or AMX computes bf16 natively, but that does not make bf16 faster: on a
2-core AMD EPYC with AVX512-BF16 oneDNN's bf16 GEMM ran at 2.9x its fp32 rate (HPPNet 1.6-2x
faster in bf16), on one 2-core Intel Xeon with AVX512-BF16 at half its fp32 rate (sp 7 % faster,
tiny 13 % slower in bf16), on another with AMX at 6.8x (sp 2x faster; README benchmarks). So "auto" measures: bf16 where the CPU has
it natively *and* a bf16 GEMM runs at least :data:`BF16_MIN_SPEEDUP` times the fp32 rate here.
Without native bf16 nothing is timed: an emulated bf16 GEMM takes minutes.
"""
from __future__ import annotations

import functools
import os
import platform
import statistics
import time
from pathlib import Path

BF16_MIN_SPEEDUP = 1.2
"""The bf16 / fp32 GEMM rate above which "auto" runs the model in bf16 on a CPU."""

REPORTED_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@functools.lru_cache(maxsize=None)
def _cpuinfo(field: str) -> str:
    """The first ``field`` of /proc/cpuinfo (Linux); "" elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == field:
                return value.strip()
    except OSError:
        pass
    return ""


def cpu_flags() -> frozenset:
    """The CPU's feature flags (Linux); empty elsewhere."""
    return frozenset(_cpuinfo("flags").split())


def cpu_model() -> str:
    """The CPU's model name (platform.processor() is empty on Linux)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_features() -> list:
    """The features that decide HPPNet's speed that this CPU has (of REPORTED_FEATURES)."""
    return [f for f in REPORTED_FEATURES if f in cpu_flags()]


def isa_limit() -> str:
    """The instruction set oneDNN is capped at (``ONEDNN_MAX_CPU_ISA``, e.g. AVX2), "" when not capped."""
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return "" if limit == "ALL" else limit


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16: bf16 arithmetic in hardware rather than emulated, and oneDNN not
    capped below them (an ``ONEDNN_MAX_CPU_ISA`` such as AVX2 or AVX512_CORE leaves bf16 emulated)."""
    limit = isa_limit()
    if limit and not any(isa in limit for isa in ("BF16", "AMX", "AVX10", "FP16")):
        return False
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def gemm_gflops(n: int = 2048, repeats: int = 5, dtype=None) -> float:
    """This machine's dense n x n matrix product rate, GFLOP/s (median of ``repeats``)."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


@functools.lru_cache(maxsize=None)
def _bf16_speedup(threads: int) -> float:
    import torch

    return gemm_gflops(1024, 5, torch.bfloat16) / gemm_gflops(1024, 5)


def bf16_is_faster_on_cpu() -> bool:
    """Whether "auto" runs the model in bf16 on this CPU (measured once per thread count, in
    about 0.2 s; never on a CPU without native bf16)."""
    import torch

    return cpu_has_native_bf16() and _bf16_speedup(torch.get_num_threads()) >= BF16_MIN_SPEEDUP


def usable_cores() -> list:
    """The CPUs this process may run on (its affinity), or all of them where that is unknown."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _cpu_times(cores) -> dict:
    """{core: (idle, total) jiffies} from /proc/stat."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            values = [int(v) for v in rest.split()]
            times[int(name[3:])] = (values[3] + (values[4] if len(values) > 4 else 0), sum(values[:8]))
    return times


def idle_cores(sample_s: float = 0.05):
    """How many of the usable cores were idle over the last ``sample_s`` seconds (a float), or
    None where /proc/stat cannot tell (not Linux)."""
    cores = set(usable_cores())
    try:
        before = _cpu_times(cores)
        time.sleep(sample_s)
        after = _cpu_times(cores)
    except (OSError, ValueError, IndexError):
        return None
    idle = 0.0
    for core, (idle_after, total_after) in after.items():
        idle_before, total_before = before.get(core, (idle_after, total_after))
        elapsed = total_after - total_before
        idle += (idle_after - idle_before) / elapsed if elapsed > 0 else 1.0
    return idle if after else None


def default_threads() -> int:
    """Threads for a transcription that starts now: the idle usable cores, at least 1, at most
    torch's own default (its one thread per physical core)."""
    import torch

    cores = len(usable_cores())
    idle = idle_cores()
    ceiling = min(cores, torch.get_num_threads()) if torch.get_num_threads() > 0 else cores
    if idle is None:
        return max(1, ceiling)
    return max(1, min(ceiling, int(idle + 0.5)))
