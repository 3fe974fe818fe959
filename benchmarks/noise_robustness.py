"""Notes written where there is no music: silence, hiss, rumble and hum (issue 11's table).

    python benchmarks/noise_robustness.py --transcriber hppnet-tiny --transcriber basic-pitch
    python benchmarks/noise_robustness.py --transcriber hppnet-tiny=runs/old.pt --json out.json

Each background is 10 s at 16 kHz, generated here (seeded): digital silence, white noise at
-40 dBFS peak, pink and brown noise at -30 dBFS peak, and 50/60 Hz mains hum with harmonics
at -30 dBFS peak (the generators of the corpus builder, training/augment.py, seed 0). Prints a table of note counts and writes a JSON
(default benchmarks/results-noise.json). A good transcriber writes 0 everywhere.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

SR = 16_000
BACKGROUNDS = {  # name: (kind, peak dBFS)
    "digital silence": ("silence", None),
    "white noise, -40 dBFS peak": ("white", -40),
    "pink noise, -30 dBFS peak": ("pink", -30),
    "brown noise, -30 dBFS peak": ("brown", -30),
    "mains hum + harmonics, -30 dBFS peak": ("hum", -30),
}


def background(kind: str, peak_db, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """The corpus builder's note-free backgrounds (training.augment), scaled to a peak level."""
    from hppnet_plugin.training.augment import background_at_peak

    return background_at_peak(kind, peak_db, seconds, seed)


def main(argv=None) -> int:
    from hppnet_plugin import load_transcriber

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transcriber", action="append", required=True, metavar="NAME[=CHECKPOINT]")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results-noise.json")))
    args = parser.parse_args(argv)
    results = {}
    for spec in args.transcriber:
        name, _, checkpoint = spec.partition("=")
        options = {"device": "cpu", **({"checkpoint": checkpoint} if checkpoint else {})}
        transcriber = load_transcriber(name, **options)
        results[spec] = {label: len(transcriber.transcribe(background(kind, peak), sample_rate=SR).notes)
                         for label, (kind, peak) in BACKGROUNDS.items()}
    width = max(len(s) for s in results)
    print(f"{'10 s at 16 kHz':38s} " + " ".join(f"{s:>{width}s}" for s in results))
    for label in BACKGROUNDS:
        print(f"{label:38s} " + " ".join(f"{results[s][label]:>{width}d}" for s in results))
    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "seconds_each": 10.0, "sample_rate": SR, "notes_written": results}
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
