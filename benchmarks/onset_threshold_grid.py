"""Note F1 of a transcriber's weights over a grid of onset thresholds: one for keys on a partial
of a key being struck (``partial_onset_threshold``), one for the others, on every split.

    python benchmarks/onset_threshold_grid.py --data /work/corpus-v41 --transcriber hppnet-sp
    python benchmarks/onset_threshold_grid.py --data /work/corpus-v41 --transcriber hppnet-sp=cand.pt \
        --split validation --split test --rolls /work/rolls

The model runs once per piece (fp32; its rolls are kept under ``--rolls`` for the next run);
every grid point is then only decoding and mir_eval's note matching. Frame threshold and minimum
note length stay the weights' own. The table shows, per split, the mean note F1 / precision /
recall at the weights' thresholds, at the best single threshold for all keys and at the best
pair, and the pair's paired difference per piece. It is a map of what thresholds can do, not a
way to choose them: ``export --calibrate`` chooses on validation pieces only.

``--candidate WEIGHTS`` (repeatable): the decoding settings stored with another weight file of the
same tensors (a re-export with other thresholds), applied to the same rolls and scored with every
metric (frame, note, note with offset, with velocity), paired per piece against the
transcriber's own settings. Writes JSON (default
benchmarks/results-onset-thresholds-<transcriber>.json).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SPLITS = ("validation", "test", "test-unseen-instrument", "test-iowa")
GRID = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def note_scores(reference, notes) -> tuple:
    """Note (precision, recall, F1), onsets within 50 ms (mir_eval, as training.metrics)."""
    import mir_eval

    from hppnet_plugin.training.metrics import _arrays

    ref_i, ref_p, _ = _arrays(reference)
    est_i, est_p, _ = _arrays(notes)
    if not len(ref_i) or not len(est_i):
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p, offset_ratio=None)
    return p, r, f


def piece_rolls(transcriber, piece, folder: Path) -> dict:
    """The transcriber's rolls of a piece, from ``folder`` when computed before."""
    path = folder / f"{piece.split}--{piece.name}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    result = transcriber.transcribe(piece.audio_path, return_rolls=True)
    rolls = {k: np.asarray(v, np.float32) for k, v in result.rolls.items()}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(path, **rolls)
    return rolls


def paired(a, b) -> dict:
    """training.metrics.paired_difference of b against a, rounded for the table."""
    from hppnet_plugin.training.metrics import paired_difference

    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in paired_difference(a, b).items()}


def decoding_of(config: dict) -> dict:
    """The decoding settings a weight file's config stores."""
    return {"onset_threshold": config["onset_threshold"], "frame_threshold": config["frame_threshold"],
            "min_note_ms": config.get("min_note_ms", 0.0),
            "partial_onset_threshold": config.get("partial_onset_threshold")}


def same_tensors(a: Path, b: Path) -> bool:
    from hppnet_plugin.weights import read_weight_file

    sa, sb = read_weight_file(a)["state_dict"], read_weight_file(b)["state_dict"]
    return sa.keys() == sb.keys() and all(sa[k].float().equal(sb[k].float()) for k in sa)


def compare(items, settings: dict, fps: float) -> dict:
    """Every metric per piece for each named decoding setting, and each setting's paired
    difference against the first."""
    from hppnet_plugin.decoding import decode_rolls
    from hppnet_plugin.training import metrics as M

    rows = {label: [M.flatten(M.transcription_metrics(ref, decode_rolls(r["onset"], r["frame"], r["velocity"],
                                                                       frames_per_second=fps, **d)))
                    for r, ref in items] for label, d in settings.items()}
    first = next(iter(rows))
    keys = ("note_f1", "note_precision", "note_recall", "frame_f1", "note_offset_f1", "note_offset_velocity_f1")
    return {label: {"decoding": settings[label],
                    **{k: round(float(np.mean([x[k] for x in r])), 4) for k in keys},
                    **({"paired_vs_" + first: {k: paired([x[k] for x in rows[first]], [x[k] for x in r])
                                               for k in ("note_f1", "frame_f1", "note_offset_f1")}}
                       if label != first else {})}
            for label, r in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="synth corpus (MAESTRO layout)")
    parser.add_argument("--transcriber", default="hppnet-sp", metavar="NAME[=WEIGHTS]")
    parser.add_argument("--split", action="append", help=f"repeatable (default {' '.join(SPLITS)})")
    parser.add_argument("--rolls", default="/tmp/hppnet-rolls", help="folder the rolls are kept in")
    parser.add_argument("--max-pieces", type=int, default=0)
    parser.add_argument("--candidate", action="append", default=[], metavar="WEIGHTS",
                        help="a weight file of the same tensors whose stored decoding settings are scored too")
    parser.add_argument("--json", help="output JSON")
    args = parser.parse_args(argv)

    from hppnet_plugin import load_transcriber
    from hppnet_plugin.decoding import decode_rolls
    from hppnet_plugin.training.datasets import dataset_pieces
    from hppnet_plugin.weights import read_weight_file, sha256_of

    name, _, weights = args.transcriber.partition("=")
    transcriber = load_transcriber(name, checkpoint=weights or None, precision="fp32")
    digest = sha256_of(transcriber.checkpoint)[:12]
    folder = Path(args.rolls) / f"{name}-{digest}"
    fps = transcriber.config.frames_per_second
    frame_threshold, min_note_ms = transcriber.frame_threshold, transcriber.min_note_ms
    shipped = (transcriber.onset_threshold, transcriber.partial_onset_threshold or transcriber.onset_threshold)
    settings = {"weights": decoding_of(read_weight_file(transcriber.checkpoint)["config"])}
    for candidate in args.candidate:
        if not same_tensors(Path(transcriber.checkpoint), Path(candidate)):
            raise SystemExit(f"{candidate} holds other tensors than {transcriber.checkpoint}: its rolls differ, "
                             "so its thresholds cannot be scored on these; pass it as --transcriber instead")
        settings[Path(candidate).name] = decoding_of(read_weight_file(candidate)["config"])
    grid = sorted(set(GRID) | set(shipped))
    pairs = [(o, p) for o in grid for p in grid if p >= o]

    out = {"transcriber": name, "weights_sha256": digest, "frame_threshold": frame_threshold,
           "min_note_ms": min_note_ms, "weights_onset_thresholds": list(shipped), "splits": {}}
    for split in args.split or SPLITS:
        pieces = dataset_pieces("maestro", args.data, split)
        pieces = pieces[:args.max_pieces] if args.max_pieces else pieces
        started = time.time()
        items = [(piece_rolls(transcriber, piece, folder), piece.notes()) for piece in pieces]
        model_s = time.time() - started
        scores = {}
        for o, p in pairs:
            scores[(o, p)] = [note_scores(ref, decode_rolls(r["onset"], r["frame"], r["velocity"], o, frame_threshold,
                                                            fps, min_note_ms, p)) for r, ref in items]
        mean = {k: [float(np.mean([s[i] for s in v])) for i in range(3)] for k, v in scores.items()}
        single = max((k for k in mean if k[0] == k[1]), key=lambda k: mean[k][2])
        best = max(mean, key=lambda k: mean[k][2])
        row = {"pieces": len(items), "model_s": round(model_s, 1),
               "grid": [{"onset": o, "partial_onset": p, "note_precision": round(mean[(o, p)][0], 4),
                         "note_recall": round(mean[(o, p)][1], 4), "note_f1": round(mean[(o, p)][2], 4)}
                        for o, p in pairs]}
        for label, key in (("weights", shipped), ("best_single", single), ("best_pair", best)):
            row[label] = {"onset": key[0], "partial_onset": key[1],
                          **{m: round(mean[key][i], 4) for i, m in enumerate(("note_precision", "note_recall",
                                                                              "note_f1"))},
                          "paired_note_f1_vs_weights": paired([s[2] for s in scores[shipped]],
                                                              [s[2] for s in scores[key]])}
        if args.candidate:
            row["candidates"] = compare(items, settings, fps)
        out["splits"][split] = row
        print(f"{split} ({len(items)} pieces, model {model_s:.0f} s)")
        for label in ("weights", "best_single", "best_pair"):
            r = row[label]
            d = r["paired_note_f1_vs_weights"]
            print(f"  {label:12s} onset {r['onset']:.2f} partial {r['partial_onset']:.2f}: note F1 {r['note_f1']:.4f} "
                  f"(P {r['note_precision']:.4f} R {r['note_recall']:.4f}) {d['mean']:+.2f} ± {d['se']:.2f} "
                  f"({d['better']} / {d['worse']})")
        for label, r in row.get("candidates", {}).items():
            diffs = r.get("paired_vs_weights", {})
            print(f"  {label}: note F1 {r['note_f1']:.4f} frame F1 {r['frame_f1']:.4f} note+offset F1 "
                  f"{r['note_offset_f1']:.4f}" + "".join(f"; {k} {d['mean']:+.2f} ± {d['se']:.2f} "
                                                        f"({d['better']} / {d['worse']})"
                                                        for k, d in diffs.items()))
    path = Path(args.json or f"benchmarks/results-onset-thresholds-{name}.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
