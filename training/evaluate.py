"""``evaluate``: registered transcribers on a dataset split, side by side (mir_eval, paper protocol)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path


from hppnet_plugin.constants import PRECISIONS
from hppnet_plugin.io import atomic_write
from hppnet_plugin.registry import load_transcriber

from . import metrics as M
from .datasets import dataset_pieces

log = logging.getLogger(__name__)

GROUP_TITLES = {"frame": "Frame", "note": "Note", "note_offset": "Note w/ offset",
                "note_offset_velocity": "Note w/ offset & vel."}


def add_arguments(sub):
    p = sub.add_parser("evaluate", help="score transcribers on a dataset split (frame/note/offset/velocity P/R/F1)",
                       description="Evaluate one or more transcribers on dataset splits; writes JSON and Markdown.")
    p.add_argument("--data", required=True, help="dataset root (MAESTRO layout or MAPS)")
    p.add_argument("--dataset", default="maestro", choices=["maestro", "maps"])
    p.add_argument("--split", action="append", default=None, help="split(s) to score (repeatable; default test)")
    p.add_argument("--transcriber", action="append", required=True, metavar="NAME[=CHECKPOINT]",
                   help="registered name, optionally with a checkpoint: hppnet-tiny=run/best.pt (repeatable)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="HPPNet model arithmetic (default: the transcriber's own, auto); recorded in the JSON")
    p.add_argument("--max-pieces", type=int, default=0, help="score only the first N pieces of each split")
    p.add_argument("--errors", action="store_true",
                   help="also count where the note errors are (chord notes on partials, repeated notes, "
                        "registers, false positives on partials: training.metrics.error_counts)")
    p.add_argument("--json", required=True, help="output JSON file")
    p.add_argument("--markdown", help="output Markdown table (default: JSON path with .md)")
    p.add_argument("--overwrite", action="store_true")


def parse_transcriber(spec: str):
    name, _, checkpoint = spec.partition("=")
    return name, (checkpoint or None)


def evaluate(transcriber, pieces, errors: bool = False) -> dict:
    rows, counts, confidence = [], {}, {}
    for piece in pieces:
        started = time.time()
        result = transcriber.transcribe(piece.audio_path)
        reference = piece.notes()
        scores = M.flatten(M.transcription_metrics(reference, result.notes))
        rows.append({"piece": piece.name, "seconds": round(time.time() - started, 2), **scores})
        for key, (n, right) in M.confidence_counts(reference, result.notes).items():
            total = confidence.get(key, (0, 0))
            confidence[key] = (total[0] + n, total[1] + right)
        if errors:
            for key, value in M.error_counts(reference, result.notes).items():
                counts[key] = counts.get(key, 0) + value
    out = {"pieces": rows, "summary": M.summarize(rows)}
    if confidence:  # how often a note of each confidence was wrong (no reference note there)
        out["confidence"] = M.confidence_table(confidence)
    if errors:
        out["errors"] = {"counts": counts, **M.error_table(counts)}
    return out


def error_markdown(results: dict) -> str:
    keys = ("on_partial_recall", "chord_other_recall", "chord3_recall", "share_of_misses_in_chord3",
            "repeated_recall", "register_low_recall", "register_middle_recall", "register_high_recall",
            "false_positives", "share_of_false_positives_on_partials")
    lines = ["| split | transcriber | " + " | ".join(keys) + " |", "|" + "---|" * (2 + len(keys))]
    for split, by_name in results.items():
        for name, res in by_name.items():
            if "errors" in res:
                lines.append(f"| {split} | {name} | " + " | ".join(str(res["errors"].get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def markdown_table(results: dict) -> str:
    head = "| split | transcriber | " + " | ".join(f"{t} P / R / F1" for t in GROUP_TITLES.values()) + " |"
    lines = [head, "|" + "---|" * (2 + len(GROUP_TITLES))]
    for split, by_name in results.items():
        for name, res in by_name.items():
            s = res["summary"]
            cells = []
            for g in GROUP_TITLES:
                cells.append(f"{s[f'{g}_precision']['mean']:.3f} / {s[f'{g}_recall']['mean']:.3f} / "
                             f"**{s[f'{g}_f1']['mean']:.3f}** ± {s[f'{g}_f1']['std']:.3f}")
            lines.append(f"| {split} ({len(res['pieces'])}) | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_differences(results: dict) -> dict:
    """{split: {transcriber: {group: {mean, se, pieces, better, worse}}}}: per-piece F1 differences
    of each transcriber against the first one (:func:`training.metrics.paired_difference`)."""
    out = {}
    for split, by_name in results.items():
        names = list(by_name)
        if len(names) < 2:
            continue
        baseline = {row["piece"]: row for row in by_name[names[0]]["pieces"]}
        out[split] = {}
        for name in names[1:]:
            rows = [row for row in by_name[name]["pieces"] if row["piece"] in baseline]
            out[split][name] = {}
            for group in GROUP_TITLES:
                key = f"{group}_f1"
                out[split][name][group] = M.paired_difference([baseline[row["piece"]][key] for row in rows],
                                                              [row[key] for row in rows])
    return out


def paired_markdown(results: dict) -> str:
    paired = paired_differences(results)
    if not paired:
        return ""
    first = next(iter(next(iter(results.values()))))
    lines = [f"Against {first}, piece by piece (F1 points, mean ± standard error; pieces better / worse):", "",
             "| split | transcriber | " + " | ".join(f"{t} F1" for t in GROUP_TITLES.values()) + " |",
             "|" + "---|" * (2 + len(GROUP_TITLES))]
    for split, by_name in paired.items():
        for name, groups in by_name.items():
            lines.append(f"| {split} | {name} | " + " | ".join(
                f"{g['mean']:+.2f} ± {g['se']:.2f} ({g['better']} / {g['worse']})" for g in groups.values()) + " |")
    return "\n".join(lines) + "\n"


def run(args):
    splits = args.split or ["test"]
    out_json = Path(args.json)
    out_md = Path(args.markdown) if args.markdown else out_json.with_suffix(".md")
    for path in (out_json, out_md):
        if path.exists() and not args.overwrite:
            raise ValueError(f"{path} exists; pass --overwrite")
    pieces_by_split = {s: dataset_pieces(args.dataset, args.data, s) for s in splits}
    if args.max_pieces:
        pieces_by_split = {s: p[: args.max_pieces] for s, p in pieces_by_split.items()}
    results = {s: {} for s in splits}
    described = {}
    for spec in args.transcriber:
        name, checkpoint = parse_transcriber(spec)
        options = {"device": args.device}
        if checkpoint:
            options["checkpoint"] = checkpoint
        if args.precision and name.startswith("hppnet-"):
            options["precision"] = args.precision
        transcriber = load_transcriber(name, **options)
        label = name if not checkpoint else f"{name} ({Path(checkpoint).name})"
        described[label] = {"name": name, "checkpoint": checkpoint,
                            "precision": getattr(transcriber, "precision", None)}
        for split, pieces in pieces_by_split.items():
            log.info("evaluating %s on %s (%d pieces)", label, split, len(pieces))
            results[split][label] = evaluate(transcriber, pieces, errors=args.errors)
    report = {"dataset": str(args.data), "dataset_kind": args.dataset, "transcribers": described,
              "protocol": "mir_eval; onset 50 ms; offset ratio 0.2 (min 50 ms); velocity tolerance 0.1; "
                          "frame F1 on 20 ms piano rolls; references sustain-extended",
              "results": results, "paired_against_first": paired_differences(results)}
    text = json.dumps(report, indent=1).encode()
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_json, lambda f: f.write(text), overwrite=args.overwrite)
    paired = paired_markdown(results)
    text_md = markdown_table(results) + ("\n" + paired if paired else "") + (
        "\nWhere the note errors are:\n\n" + error_markdown(results) if args.errors else "")
    atomic_write(out_md, lambda f: f.write(text_md.encode()), overwrite=args.overwrite)
    print(text_md)
    print(f"wrote {out_json} and {out_md}")
