"""Throughput of a collection: the single-process CLI against `--ray` with 1 and 2 actors.

    python benchmarks/collections.py                      # 8 files x 30 s, hppnet-tiny, 3 repeats
    python benchmarks/collections.py --files 16 --seconds 60 --repeats 5 --json out.json

The same files go through each command in turn, each repeat in the same order of commands,
each a fresh process as a user runs it (`hppnet transcribe DIR -o OUT ...`), so Python, torch
and (for --ray) a local Ray start are inside the wall time. Reported: audio hours transcribed
per wall-clock hour (median over repeats) for the whole command and after start-up (from the
manifest: the files finished after the first one, over the time between the first and the
last), the wall time, and, measured apart, the model load time of one process. The files are the bundled example tiled to --seconds (identical
copies: the work per file is what matters). Writes a JSON (default
benchmarks/results-collections.json).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf

from hppnet_plugin.cpu import cpu_features, cpu_model
from hppnet_plugin.jobs import read_manifest

EXAMPLE = Path(__file__).resolve().parent.parent / "hppnet_plugin" / "examples" / "bach-bwv361.flac"


def make_files(folder: Path, count: int, seconds: float) -> float:
    audio, sr = sf.read(EXAMPLE, dtype="float32")
    audio = audio.mean(axis=1) if audio.ndim > 1 else audio
    tiled = np.tile(audio, int(np.ceil(seconds * sr / len(audio))))[: int(seconds * sr)]
    folder.mkdir(parents=True)
    for i in range(count):
        sf.write(folder / f"piece-{i:03d}.flac", tiled, sr)
    return count * len(tiled) / sr


def model_load_seconds(model: str, threads: int) -> float:
    code = ("import time, torch; from hppnet_plugin import load_transcriber; t = time.perf_counter(); "
            f"load_transcriber({model!r}, device='cpu', threads={threads}); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="hppnet-tiny")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=str(Path(__file__).with_name("results-collections.json")))
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    commands = {  # every command uses all cores: threads x processes = cores
        "single process (--threads %d)" % cores: ["--threads", str(cores)],
        "--ray, 1 actor (--threads %d)" % cores: ["--ray", "--actors", "1", "--threads", str(cores)],
        "--ray, 2 actors (--threads %d each)" % max(1, cores // 2):
            ["--ray", "--actors", "2", "--threads", str(max(1, cores // 2))],
    }
    work = Path(tempfile.mkdtemp(prefix="hppnet-collections-"))
    try:
        audio_s = make_files(work / "in", args.files, args.seconds)
        walls, steady = {name: [] for name in commands}, {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, extra in commands.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, "-m", "hppnet_plugin.cli", "transcribe", str(work / "in"), "-o", str(out),
                       "--model", args.model, "--device", "cpu", "--quiet", "--manifest", str(work / "m.jsonl")] + extra
                (work / "m.jsonl").unlink(missing_ok=True)
                t = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls[name].append(time.perf_counter() - t)
                # After start-up: the files finished after the first one, over the time they took.
                done = sorted(datetime.fromisoformat(r["finished"]) for r in read_manifest(work / "m.jsonl"))
                steady[name].append((len(done) - 1) * args.seconds / (done[-1] - done[0]).total_seconds())
        load = [model_load_seconds(args.model, cores) for _ in range(args.repeats)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = {name: {"wall_s_median": round(statistics.median(w), 2), "wall_s": [round(x, 2) for x in w],
                   "audio_hours_per_hour": round(audio_s / statistics.median(w), 1),
                   "audio_hours_per_hour_after_startup": round(statistics.median(steady[name]), 1)}
            for name, w in walls.items()}
    base = next(iter(rows.values()))["wall_s_median"]
    print(f"{args.files} files x {args.seconds:.0f} s ({audio_s / 60:.1f} min of audio), {args.model}, "
          f"{cores} cores, median of {args.repeats}")
    print(f"{'command':36s} {'wall s':>8s} {'audio h / h':>12s} {'vs single':>10s} {'after start-up':>15s}")
    for name, r in rows.items():
        print(f"{name:36s} {r['wall_s_median']:8.1f} {r['audio_hours_per_hour']:12.1f} "
              f"{base / r['wall_s_median']:9.2f}x {r['audio_hours_per_hour_after_startup']:15.1f}")
    print(f"model load (one process, in-process timing): {statistics.median(load):.2f} s")
    report = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_model(), "cpu_features": cpu_features(),
              "cores": cores, "model": args.model, "files": args.files, "seconds_each": args.seconds,
              "audio_s": audio_s, "repeats": args.repeats, "commands": {n: c for n, c in commands.items()},
              "results": rows, "model_load_s_median": round(statistics.median(load), 3),
              "model_load_s": [round(x, 3) for x in load]}
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
