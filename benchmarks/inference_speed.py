"""Inference speed and memory of the HPPNet variants (and basic-pitch when installed).

    python benchmarks/inference_speed.py                    # 60 s and 10 min, sp/base/tiny, 3 runs
    python benchmarks/inference_speed.py --memory           # peak RSS for 1, 10 and 60 min of audio
    python benchmarks/inference_speed.py --durations 20 --runs 2 --variants tiny   # quick look
    python benchmarks/inference_speed.py --max-isa avx2     # as on an AVX2-only CPU (see below)

Prints a table and writes a JSON (default benchmarks/results-<host>.json). Real-time
factor = wall time / audio duration (median of --runs after one warm-up), split into
load+resample, CQT, model and decoding. Variants without shipped weights run with
random weights (speed does not depend on the values; decoding time does a little,
through the number of notes, so the JSON records which weights were used).
Achieved GFLOP/s is the analytic FLOP count of the model per audio second times the
audio seconds per wall second, against this machine's own dense GEMM rate in the same
precision (fp32, or bf16 for rows that ran in bf16). Each variant runs in fp32 and in
the default "auto" precision side by side (--precisions).

``--max-isa avx2`` caps the kernels at AVX2 (oneDNN's ONEDNN_MAX_CPU_ISA, MKL's
MKL_ENABLE_INSTRUCTIONS and ATEN_CPU_CAPABILITY, also TensorFlow's oneDNN for basic-pitch),
so an AVX-512 or AMX machine measures what AVX2-only CPUs (most laptops) run: the same cores
and clocks, AVX2 kernels. The JSON records the cap.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

VARIANTS = ("sp", "base", "tiny")


def synthetic_piano(seconds: float, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """Deterministic stereo 'piano-like' audio: decaying harmonic notes, 4 notes/s, 88 keys."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    t_note = np.arange(int(0.8 * sr)) / sr
    envelope = np.exp(-4 * t_note).astype(np.float32)
    for start in np.arange(0, seconds - 0.8, 0.25):
        pitch = int(rng.integers(21, 109))
        f0 = 440 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * h * t_note) / h for h in range(1, 5) if f0 * h < sr / 2)
        i = int(start * sr)
        out[i:i + len(t_note)] += (0.1 * tone * envelope).astype(np.float32)
    return np.stack([out, out * 0.9], axis=1)


def write_audio(seconds: float, folder: Path) -> Path:
    import soundfile as sf

    path = folder / f"bench-{int(seconds)}s.flac"
    if not path.exists():
        sf.write(path, synthetic_piano(seconds), 44100, subtype="PCM_16")
    return path


def model_flops_by_stage(config, heads=3) -> dict:
    """Analytic FLOPs (2 per multiply-add) of each stage of HPPNet inference per audio second."""
    fps = config.sample_rate / config.hop_length
    s, e, f, keys = config.stem_channels, config.channels, config.n_bins, 88
    trunk = {"stem": 2 * (1 * s * 49 * f + 2 * s * s * 49 * f),     # three 7x7 convs
             "hdconv+pool": 2 * (17 * s * e * f),                     # HD-Conv as one GEMM
             "context": 2 * (4 * e * e * 15 * keys)}                  # four 5x3 convs on 88 keys
    hidden = e // 2

    def head(inputs):
        return keys * (2 * 2 * 4 * hidden * (inputs + hidden) + 2 * 2 * hidden)

    stages = {f"trunk {name}": flops for name, flops in trunk.items()}
    if config.variant == "sp":
        stages.update({f"onset trunk {name}": flops for name, flops in trunk.items()})
        stages["onset head"] = head(e)
        stages.update({f"head {i + 2}": head(e + 1) for i in range(heads - 1)})
    else:
        stages.update({f"head {i + 1}": head(e) for i in range(heads)})
    return {name: flops * fps for name, flops in stages.items()}


def model_flops_per_audio_second(config, heads=3) -> float:
    """Analytic FLOPs (2 per multiply-add) of HPPNet inference per second of audio."""
    return sum(model_flops_by_stage(config, heads).values())


def load(variant: str, threads: int, precision: str = "auto"):
    import torch

    from hppnet_plugin.config import HPPNetConfig
    from hppnet_plugin.model import HPPNet
    from hppnet_plugin.registry import load_transcriber
    from hppnet_plugin.weights import WEIGHTS_FORMAT

    name = f"hppnet-{variant}"
    try:
        return load_transcriber(name, device="cpu", threads=threads, precision=precision), "shipped"
    except FileNotFoundError:
        torch.manual_seed(0)
        model = HPPNet(HPPNetConfig.for_variant(variant))
        path = Path(tempfile.gettempdir()) / f"hppnet-bench-random-{variant}.pt"
        torch.save({"format": WEIGHTS_FORMAT, "config": model.config.to_dict(), "state_dict": model.state_dict()}, path)
        return load_transcriber(name, checkpoint=path, device="cpu", threads=threads, precision=precision), "random"


def bench_transcriber(transcriber, path: Path, duration: float, runs: int) -> dict:
    # Warm-up (allocator, oneDNN primitives, TF graphs) on a 20 s file: same window shapes.
    transcriber.transcribe(write_audio(20, path.parent))
    walls, stages = [], []
    for _ in range(runs):
        timings = {}
        start = time.perf_counter()
        result = transcriber.transcribe(path, timings=timings) if hasattr(transcriber, "config") \
            else transcriber.transcribe(path)
        walls.append(time.perf_counter() - start)
        stages.append(timings)
    row = {"rtf": statistics.median(walls) / duration, "rtf_runs": [w / duration for w in walls],
           "notes": len(result.notes)}
    for stage in ("audio", "cqt", "model", "decode"):
        values = [s.get(stage) for s in stages if s.get(stage) is not None]
        if values:
            row[f"rtf_{stage}"] = statistics.median(values) / duration
    return row


def run_speed(args) -> dict:
    import torch

    import hppnet_plugin.model as hppnet_model

    default_block = hppnet_model.HDCONV_TIME_BLOCK
    from hppnet_plugin.cpu import cpu_features, cpu_has_native_bf16, cpu_model, gemm_gflops

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.gettempdir()) / "hppnet-bench-audio"
    folder.mkdir(exist_ok=True)
    files = {d: write_audio(d, folder) for d in args.durations}
    native_bf16 = cpu_has_native_bf16()
    # Without native bf16 a bf16 GEMM is emulated and takes minutes: neither timed nor run.
    gemm = {"fp32": gemm_gflops(), "bf16": gemm_gflops(dtype=torch.bfloat16) if native_bf16 else None}
    precisions = [p for p in args.precisions if native_bf16 or p != "bf16"]
    if precisions != args.precisions:
        print("bf16 not measured: this CPU has no native bf16 (AVX512-BF16 / AMX)", file=sys.stderr)
    results = {"machine": {"platform": platform.platform(), "processor": cpu_model(),
                           "cpu_features": cpu_features(), "max_isa": args.max_isa, "cpus": os.cpu_count(),
                           "threads": args.threads,
                           "competing_load_processes": args.load, "torch": torch.__version__,
                           "gemm_fp32_gflops": round(gemm["fp32"], 1),
                           "gemm_bf16_gflops": round(gemm["bf16"], 1) if gemm["bf16"] else None},
               "rows": []}
    for variant, precision in itertools.product(args.variants, precisions):
        whole_window = precision == "fp32-whole"
        if whole_window:  # the pre-slicing baseline: HD-Conv over the whole window at once
            precision = "fp32"
            hppnet_model.HDCONV_TIME_BLOCK = 1 << 30
        transcriber, weights = load(variant, args.threads, precision)
        flops = model_flops_per_audio_second(transcriber.config)
        peak = gemm["bf16"] if transcriber.precision == "bf16" and gemm["bf16"] else gemm["fp32"]
        for duration, path in files.items():
            row = {"transcriber": f"hppnet-{variant}", "precision": transcriber.precision, "weights": weights,
                   "hdconv_time_block": hppnet_model.HDCONV_TIME_BLOCK if not whole_window else "whole window",
                   "duration_s": duration, **bench_transcriber(transcriber, path, duration, args.runs)}
            model_rtf = row.get("rtf_model")
            row["model_gflop_per_audio_s"] = round(flops / 1e9, 2)
            if model_rtf:
                row["model_gflops_achieved"] = round(flops / 1e9 / model_rtf, 1)
                row["fraction_of_gemm_peak"] = round(flops / 1e9 / model_rtf / peak, 3)
            results["rows"].append(row)
            print_row(row)
        hppnet_model.HDCONV_TIME_BLOCK = default_block
    if args.basic_pitch:
        try:
            from hppnet_plugin.registry import load_transcriber

            bp = load_transcriber("basic-pitch")
        except ImportError as error:
            print(f"basic-pitch not measured: {error}", file=sys.stderr)
        else:
            for duration, path in files.items():
                row = {"transcriber": "basic-pitch", "duration_s": duration,
                       **bench_transcriber(bp, path, duration, args.runs)}
                results["rows"].append(row)
                print_row(row)
    return results


def print_row(row):
    label = row.get("precision", "") + ("-whole" if row.get("hdconv_time_block") == "whole window" else "")
    parts = [f"{row['transcriber']:12s} {label:10s} {row['duration_s']:>6.0f}s  RTF {row['rtf']:.4f}"]
    for stage in ("audio", "cqt", "model", "decode"):
        if f"rtf_{stage}" in row:
            parts.append(f"{stage} {row[f'rtf_{stage}']:.4f}")
    if "model_gflops_achieved" in row:
        parts.append(f"model {row['model_gflops_achieved']} GFLOP/s ({100 * row['fraction_of_gemm_peak']:.0f}% of GEMM)")
    print("  ".join(parts), flush=True)


def child_peak_rss(variant: str, path: Path, threads: int) -> dict:
    """Transcribe in a fresh process; return its peak RSS (MiB) and wall time."""
    code = ("import sys, time, resource; sys.path.insert(0, %r); from inference_speed import load; "
            "t, w = load(%r, %d or None); s = time.perf_counter(); r = t.transcribe(%r); "
            "print(time.perf_counter() - s, len(r.notes), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            % (str(Path(__file__).parent), variant, threads or 0, str(path)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, notes, rss_kib = out.stdout.split()[-3:]
    return {"wall_s": float(wall), "notes": int(notes), "peak_rss_mib": int(rss_kib) / 1024}


def run_memory(args) -> dict:
    folder = Path(tempfile.gettempdir()) / "hppnet-bench-audio"
    folder.mkdir(exist_ok=True)
    rows = []
    for minutes in args.memory_minutes:
        path = write_audio(minutes * 60, folder)
        for variant in args.variants:
            row = {"transcriber": f"hppnet-{variant}", "minutes": minutes, **child_peak_rss(variant, path, args.threads)}
            rows.append(row)
            print(f"{row['transcriber']:12s} {minutes:>3d} min  peak RSS {row['peak_rss_mib']:.0f} MiB  "
                  f"wall {row['wall_s']:.1f} s", flush=True)
    return {"memory": rows}


@contextmanager
def competing_load(processes: int):
    """``processes`` busy CPU loops in other processes while the block runs."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for p in busy:
            p.kill()
            p.wait()


ISA_ENVIRONMENT = {"avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                            "ATEN_CPU_CAPABILITY": "avx2"}}


def cap_instruction_set(max_isa, script: str, argv=None) -> None:
    """Run ``script`` again with the kernels capped at ``max_isa`` (no-op when None or already capped):
    the libraries read these variables once, when they load."""
    if not max_isa:
        return
    environment = ISA_ENVIRONMENT[max_isa]
    if any(os.environ.get(k) != v for k, v in environment.items()):
        os.execve(sys.executable, [sys.executable, script] + (argv if argv is not None else sys.argv[1:]),
                  {**os.environ, **environment})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="sp,base,tiny", type=lambda s: s.split(","))
    parser.add_argument("--durations", default="60,600", type=lambda s: [float(x) for x in s.split(",")])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--precisions", default="fp32,auto", type=lambda s: s.split(","),
                        help="model precisions to compare side by side (auto = bf16 where native); "
                             "fp32-whole = fp32 with HD-Conv over whole windows, the pre-slicing baseline")
    parser.add_argument("--threads", type=lambda v: None if v == "auto" else int(v), default=2,
                        help="torch threads, or auto: the transcriber's default (the cores idle when it starts)")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="run N busy processes beside the transcriber (a browser, a DAW, another job)")
    parser.add_argument("--no-basic-pitch", dest="basic_pitch", action="store_false")
    parser.add_argument("--memory", action="store_true", help="measure peak RSS vs length instead of speed")
    parser.add_argument("--memory-minutes", default="1,10,60", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--max-isa", choices=sorted(ISA_ENVIRONMENT), default=None,
                        help="cap the kernels at this instruction set (measure an AVX2-only CPU's speed here)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cap_instruction_set(args.max_isa, __file__, argv)
    with competing_load(args.load):
        results = run_memory(args) if args.memory else run_speed(args)
    out = Path(args.json or Path(__file__).with_name(
        f"results-{'memory' if args.memory else 'speed'}-{platform.node() or 'host'}.json"))
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
