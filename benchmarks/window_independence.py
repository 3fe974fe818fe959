"""How much HPPNet's notes depend on how the audio is cut into windows.

    python benchmarks/window_independence.py --data /work/corpus --split test --split test-unseen-instrument
    python benchmarks/window_independence.py --data /work/corpus --transcriber hppnet-sp --max-pieces 4

Each piece is transcribed once per window setting: ``chunk_s`` (the window's core) 5 / 10 / 20 /
40 s and the whole piece in one window, at the default context; then ``context_s`` (the audio
on each side of the core) 1 / 2 / 5 s at the default core. For every setting the table gives the
note F1 against the reference, and the agreement with the whole-piece transcription: notes whose
pitch matches and whose onsets are within 20 ms (agreement F1; 1.0 = the same notes), how many
notes are in one output and not the other, and how many of those lie within 1 s of a window
boundary of the setting (a core's start or end). Writes JSON (default
benchmarks/results-windows.json).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

WHOLE = 100_000.0
"""A core longer than any piece: the whole piece in one window."""
AGREEMENT_TOLERANCE_S = 0.02
EDGE_S = 1.0


def matched_pairs(a, b, tolerance: float = AGREEMENT_TOLERANCE_S) -> list:
    """[(index in a, index in b)] of notes with the same pitch and onsets within ``tolerance``."""
    import mir_eval

    if not a or not b:
        return []
    arrays = [(np.array([[n.start, max(n.end, n.start + 1e-3)] for n in notes]),
               np.array([440.0 * 2 ** ((n.pitch - 69) / 12) for n in notes])) for notes in (a, b)]
    return mir_eval.transcription.match_notes(*arrays[0], *arrays[1], onset_tolerance=tolerance,
                                              offset_ratio=None)


def compare(notes, whole, chunk_s: float, duration: float) -> dict:
    """Agreement of ``notes`` with the whole-piece ``whole``, and where the differences lie."""
    pairs = matched_pairs(notes, whole)
    matched_a, matched_b = {i for i, _ in pairs}, {j for _, j in pairs}
    differing = [n for i, n in enumerate(notes) if i not in matched_a] + \
                [n for j, n in enumerate(whole) if j not in matched_b]
    boundaries = np.arange(chunk_s, duration, chunk_s) if chunk_s < duration else np.array([])
    near = sum(bool(len(boundaries)) and float(np.min(np.abs(boundaries - n.start))) <= EDGE_S for n in differing)
    total = len(notes) + len(whole)
    return {"agreement_f1": 2 * len(pairs) / total if total else 1.0, "differing": len(differing),
            "differing_near_boundary": int(near)}


def settings(chunks, contexts, default_chunk: float, default_context: float) -> list:
    rows = [(c, default_context) for c in chunks]
    rows += [(default_chunk, x) for x in contexts if (default_chunk, x) not in rows]
    return rows


def measure_split(args, split: str, grid, transcribers: dict, whole_setting) -> list:
    """One row per window setting over the pieces of ``split``."""
    from hppnet_plugin.training import metrics as M
    from hppnet_plugin.training.datasets import dataset_pieces

    pieces = dataset_pieces("maestro", Path(args.data), split)[: args.max_pieces or None]
    per_setting = {s: [] for s in grid}
    for piece in pieces:
        reference = piece.notes()
        whole = transcribers[whole_setting].transcribe(piece.audio_path)
        for s in grid:
            result = whole if s == whole_setting else transcribers[s].transcribe(piece.audio_path)
            f1 = M.flatten(M.transcription_metrics(reference, result.notes))["note_f1"]
            per_setting[s].append({"piece": piece.name, "notes": len(result.notes), "note_f1": f1,
                                   **compare(result.notes, whole.notes, s[0], result.duration)})
    rows = []
    for (chunk, context), items in per_setting.items():
        row = {"chunk_s": "whole" if chunk == WHOLE else chunk, "context_s": context, "pieces": len(items),
               "notes": sum(i["notes"] for i in items),
               "note_f1": round(statistics.mean(i["note_f1"] for i in items), 4),
               "agreement_f1_mean": round(statistics.mean(i["agreement_f1"] for i in items), 4),
               "agreement_f1_worst": round(min(i["agreement_f1"] for i in items), 4),
               "differing": sum(i["differing"] for i in items),
               "differing_near_boundary": sum(i["differing_near_boundary"] for i in items),
               "per_piece": items}
        rows.append(row)
        print(f"{split:24s} chunk {str(row['chunk_s']):>5s} context {context:>3g}  note F1 {row['note_f1']:.4f}  "
              f"agreement {row['agreement_f1_mean']:.4f} (worst {row['agreement_f1_worst']:.4f})  "
              f"differing {row['differing']} ({row['differing_near_boundary']} near a boundary)", flush=True)
    return rows


def main(argv=None) -> int:
    from hppnet_plugin import load_transcriber

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="corpus root (MAESTRO layout)")
    parser.add_argument("--split", action="append", default=None, help="default: test")
    parser.add_argument("--transcriber", default="hppnet-tiny", metavar="NAME[=CHECKPOINT]")
    parser.add_argument("--chunks", default="5,10,20,40,whole")
    parser.add_argument("--contexts", default="1,2,5")
    parser.add_argument("--max-pieces", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crossfade", type=float, default=None, metavar="SECONDS",
                        help="blend neighbouring windows over this many seconds (default: the transcriber's)")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results-windows.json")))
    args = parser.parse_args(argv)
    name, _, checkpoint = args.transcriber.partition("=")
    chunks = [WHOLE if c == "whole" else float(c) for c in args.chunks.split(",")]
    contexts = [float(x) for x in args.contexts.split(",")]
    common = {**({"checkpoint": checkpoint} if checkpoint else {}),
              **({"crossfade_s": args.crossfade} if args.crossfade is not None else {})}
    probe = load_transcriber(name, **common)
    fps = probe.config.frames_per_second
    default_chunk, default_context = probe.chunk_frames / fps, probe.context_frames / fps
    grid = settings(chunks, contexts, default_chunk, default_context)
    transcribers = {s: load_transcriber(name, chunk_s=s[0], context_s=s[1], threads=args.threads, **common)
                    for s in grid}
    whole_setting = (WHOLE, default_context)
    if whole_setting not in transcribers:
        transcribers[whole_setting] = load_transcriber(name, chunk_s=WHOLE, context_s=default_context,
                                                       threads=args.threads, **common)
    from hppnet_plugin.jobs import weights_sha256

    report = {"transcriber": args.transcriber, "weights_sha256": weights_sha256(probe),
              "crossfade_s": probe.crossfade_frames / fps, "data": args.data, "date": time.strftime("%Y-%m-%d"),
              "agreement_tolerance_s": AGREEMENT_TOLERANCE_S, "edge_s": EDGE_S, "splits": {}}
    for split in args.split or ["test"]:
        report["splits"][split] = measure_split(args, split, grid, transcribers, whole_setting)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
