"""Which arithmetic the model runs in: the CPU's features, its measured GEMM rates, and the rule
that turns them into ``precision="auto"``.

A CPU with AVX512-BF16 or AMX computes bf16 natively, but that does not make bf16 faster: on a
2-core AMD EPYC with AVX512-BF16 oneDNN's bf16 GEMM ran at 2.9x its fp32 rate (HPPNet 1.6-2x
faster in bf16), on a 2-core Intel Xeon with AVX512-BF16 and AMX at half its fp32 rate (sp 7 %
faster, tiny 13 % slower in bf16; README benchmarks). So "auto" measures: bf16 where the CPU has
it natively *and* a bf16 GEMM runs at least :data:`BF16_MIN_SPEEDUP` times the fp32 rate here.
Without native bf16 nothing is timed: an emulated bf16 GEMM takes minutes.
"""
from __future__ import annotations

import functools
import platform
import statistics
import time
from pathlib import Path

BF16_MIN_SPEEDUP = 1.2
"""The bf16 / fp32 GEMM rate above which "auto" runs the model in bf16 on a CPU."""

REPORTED_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    """The CPU's model name (platform.processor() is empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features() -> list:
    """The features that decide HPPNet's speed that this CPU has (of REPORTED_FEATURES)."""
    return [f for f in REPORTED_FEATURES if f in cpu_flags()]


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16: bf16 arithmetic in hardware rather than emulated."""
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
