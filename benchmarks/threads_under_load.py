"""Transcription speed beside a competing CPU load, for the thread settings a user can have.

    python benchmarks/threads_under_load.py                      # hppnet-tiny, 12 s, 3 runs
    python benchmarks/threads_under_load.py --variant sp --seconds 30

Each setting runs in a fresh process (an OpenMP wait policy must be set before torch starts):
torch's default thread count, 1 thread, the transcriber's default (``threads`` not given: the
cores idle when a transcription starts) and, for comparison, torch's default with
``OMP_WAIT_POLICY=PASSIVE``; each on a quiet machine and beside ``--load`` busy processes.
Prints the real-time factors side by side and writes benchmarks/results-threads.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = {  # name: (--threads value, extra environment)
    "torch default threads": (str(os.cpu_count() or 1), {}),
    "1 thread": ("1", {}),
    "transcriber default (idle cores)": ("auto", {}),
    "torch default, passive OpenMP wait": (str(os.cpu_count() or 1), {"OMP_WAIT_POLICY": "PASSIVE"}),
}


def run(variant: str, seconds: float, runs: int, threads: str, env: dict, load: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speed.json"
        subprocess.run([sys.executable, str(HERE / "inference_speed.py"), "--variants", variant, "--durations",
                        str(seconds), "--runs", str(runs), "--precisions", "auto", "--threads", threads,
                        "--load", str(load), "--no-basic-pitch", "--json", str(out)],
                       env={**os.environ, **env}, check=True, capture_output=True, text=True)
        report = json.loads(out.read_text())
    row = report["rows"][0]
    return {"rtf": round(row["rtf"], 4), "rtf_runs": [round(r, 4) for r in row["rtf_runs"]],
            "precision": row["precision"], "machine": report["machine"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", choices=["sp", "base", "tiny"])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load", type=int, default=1, help="busy processes beside the transcriber")
    parser.add_argument("--json", default=str(HERE / "results-threads.json"))
    args = parser.parse_args(argv)
    results, machine = {}, None
    for name, (threads, env) in SETTINGS.items():
        for load in (0, args.load):
            row = run(args.variant, args.seconds, args.runs, threads, env, load)
            machine = machine or row.pop("machine")
            row.pop("machine", None)
            results.setdefault(name, {})[f"load_{load}"] = row
            print(f"{name:36s} {'quiet' if not load else f'{load} busy':>7s}  RTF {row['rtf']:.4f}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "variant": args.variant, "seconds": args.seconds,
              "runs": args.runs, "load_processes": args.load, "machine": {k: machine[k] for k in (
                  "processor", "cpu_features", "cpus", "torch")}, "results": results}
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
