"""Notes written where there is no music: silence, hiss, rumble and hum, and no-music audio that
no training clip resembles (speech, a crowd, vinyl crackle, a door slam).

    python benchmarks/noise_robustness.py --transcriber hppnet-tiny --transcriber basic-pitch
    python benchmarks/noise_robustness.py --transcriber hppnet-tiny=runs/old.pt --json out.json
    python benchmarks/noise_robustness.py --transcriber hppnet-base=runs/base/last.pt \
        --onset-threshold 0.4 --frame-threshold 0.4 --seeds 0 5 6 101 102 7 8 9

Each background is 10 s at 16 kHz, generated here (seeded): digital silence, white noise at
-40 dBFS peak, pink and brown noise at -30 dBFS peak, 50/60 Hz mains hum with harmonics at -30
and -20 dBFS peak, and hum over pink noise at -30 dBFS peak (the generators of the corpus
builder, training/augment.py). With several --seeds each background is generated once per seed
and the table shows the total (the JSON keeps each seed's count). Prints a table of note counts
and writes a JSON (default benchmarks/results-noise.json). A good transcriber writes 0 everywhere.

The unheard inputs (benchmarks/unheard_backgrounds.py) come after them: announcements in English
and German spoken by espeak-ng voices the corpus's speech clips do not use, six voices over room
noise, vinyl crackle over hiss, and room tone with a door slam; their lengths vary, so the table
gives the seconds and the JSON also the notes per 10 s. ``--no-unheard`` leaves them out.

Seeds 101-108 are the ones export calibration keeps quiet (training/calibrate.py), so the
default seed 0 (and 1, 5-10) measures audio the thresholds were not chosen on.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from unheard_backgrounds import UNHEARD

from hppnet_plugin.cpu import cpu_features, cpu_model

SR = 16_000
BACKGROUNDS = {  # name: (kind, peak dBFS)
    "digital silence": ("silence", None),
    "white noise, -40 dBFS peak": ("white", -40),
    "pink noise, -30 dBFS peak": ("pink", -30),
    "brown noise, -30 dBFS peak": ("brown", -30),
    "mains hum + harmonics, -30 dBFS peak": ("hum", -30),
    "mains hum + harmonics, -20 dBFS peak": ("hum", -20),
    "hum over pink noise, -30 dBFS peak": ("hum+pink", -30),
}


def background(kind: str, peak_db, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """The corpus builder's note-free backgrounds (training.augment), scaled to a peak level."""
    from hppnet_plugin.training.augment import background_at_peak

    return background_at_peak(kind, peak_db, seconds, seed)


def main(argv=None) -> int:
    from hppnet_plugin import load_transcriber

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transcriber", action="append", required=True, metavar="NAME[=CHECKPOINT]")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="generate each background once per seed and count the notes of all (default: 0)")
    parser.add_argument("--onset-threshold", type=float,
                        help="decoding threshold for the NAME=CHECKPOINT transcribers (default: the checkpoint's)")
    parser.add_argument("--frame-threshold", type=float,
                        help="decoding threshold for the NAME=CHECKPOINT transcribers (default: the checkpoint's)")
    parser.add_argument("--min-note-ms", type=float,
                        help="minimum note length for the NAME=CHECKPOINT transcribers (default: the checkpoint's)")
    parser.add_argument("--no-unheard", action="store_true",
                        help="only the corpus-style backgrounds (no speech, crowd, vinyl or door slam)")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results-noise.json")))
    args = parser.parse_args(argv)
    thresholds = {k: v for k, v in (("onset_threshold", args.onset_threshold),
                                    ("frame_threshold", args.frame_threshold),
                                    ("min_note_ms", args.min_note_ms)) if v is not None}
    inputs = {label: (lambda seed, kind=kind, peak=peak: background(kind, peak, seed=seed))
              for label, (kind, peak) in BACKGROUNDS.items()}
    if not args.no_unheard:
        inputs.update(UNHEARD)
    audio = {label: {seed: make(seed) for seed in args.seeds} for label, make in inputs.items()}
    seconds = {label: sum(len(a) for a in clips.values()) / SR for label, clips in audio.items()}
    results, per_seed = {}, {}
    for spec in args.transcriber:
        name, _, checkpoint = spec.partition("=")
        options = {"device": "cpu", **({"checkpoint": checkpoint, **thresholds} if checkpoint else {})}
        transcriber = load_transcriber(name, **options)
        per_seed[spec] = {label: {seed: len(transcriber.transcribe(clip, sample_rate=SR).notes)
                                  for seed, clip in clips.items()}
                          for label, clips in audio.items()}
        results[spec] = {label: sum(counts.values()) for label, counts in per_seed[spec].items()}
    width = max(max(len(s) for s in results), 6)
    label_width = max(len(label) for label in inputs) + 10
    print(f"{'notes written (seconds of audio)':{label_width}s} " + " ".join(f"{s:>{width}s}" for s in results))
    for label in inputs:
        print(f"{label + f' ({seconds[label]:.0f} s)':{label_width}s} "
              + " ".join(f"{results[s][label]:>{width}d}" for s in results))
    report = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_model(), "cpu_features": cpu_features(),
              "seconds": {label: round(v, 2) for label, v in seconds.items()}, "sample_rate": SR,
              "seeds": args.seeds, "thresholds": thresholds, "notes_written": results,
              "notes_per_10_s": {spec: {label: round(10 * n / seconds[label], 2) for label, n in counts.items()}
                                 for spec, counts in results.items()},
              "notes_written_per_seed": per_seed}
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
