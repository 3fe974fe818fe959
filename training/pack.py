"""``pack``: a compact copy of a MAESTRO-layout corpus, audio as Ogg Opus.

For machines that can be handed only tens of MiB (a lent GPU takes a 64 MiB working
tree): the copy keeps the layout, the MIDI files and the index, so ``train`` and
``evaluate`` read it unchanged (libsndfile decodes Opus). Whole splits are packed
(validation first), then training pieces in a seeded random order until the size
budget is spent, so the copy is a uniform sample of the training pieces.
"""
from __future__ import annotations

import csv
import io
import json
import random
import shutil
from pathlib import Path

from hppnet_plugin.audio import load_audio
from hppnet_plugin.constants import SAMPLE_RATE
from hppnet_plugin.io import atomic_write

from .datasets import read_maestro_index


def add_arguments(sub):
    p = sub.add_parser("pack", help="copy a corpus with Opus audio into a size budget (for a lent GPU)",
                       description="Copy a MAESTRO-layout corpus with 16 kHz mono Ogg Opus audio, "
                                   "whole splits first, then a seeded sample of training pieces up to --max-mib.")
    p.add_argument("root", help="corpus to copy (MAESTRO layout)")
    p.add_argument("out", help="new folder (must not exist, or be an earlier pack to extend)")
    p.add_argument("--splits", default="validation", help="splits copied whole (comma-separated)")
    p.add_argument("--sample-split", default="train", help="split sampled up to the budget")
    p.add_argument("--kbps", type=float, default=48.0,
                   help="Opus bitrate, kbit/s (6..256); with tiny weights, test audio at 48 scored within 0.2 point "
                        "of note F1 of FLAC, at 24 lost 1.3 points (docs/gpu-training.md)")
    p.add_argument("--max-mib", type=float, default=48.0, help="size budget of the copy, MiB")
    p.add_argument("--seed", type=int, default=0)


def opus_compression_level(kbps: float) -> float:
    """libsndfile maps compression level 0..1 linearly onto Opus 256..6 kbit/s per channel
    (measured with libsndfile 1.2: level 0.9 gives 32 kbit/s on piano)."""
    if not 6 <= kbps <= 256:
        raise ValueError(f"Opus bitrate must be 6..256 kbit/s; got {kbps}")
    return 1.0 - (kbps - 6.0) / 250.0


def pack(root, out, splits=("validation",), sample_split: str = "train", kbps: float = 48.0,
         max_mib: float = 48.0, seed: int = 0) -> dict:
    """Write the packed copy; returns a summary (pieces and hours per split, MiB)."""
    import soundfile as sf

    root, out = Path(root), Path(out)
    rows = read_maestro_index(root)
    fields = list(rows[0]) if rows else []
    level = opus_compression_level(kbps)
    whole = [r for r in rows if r["split"] in splits]
    sampled = [r for r in rows if r["split"] == sample_split and sample_split not in splits]
    random.Random(seed).shuffle(sampled)
    budget = max_mib * 2 ** 20
    used, kept = 0, []
    for row in whole + sampled:
        audio_src, midi_src = root / row["audio_filename"], root / row["midi_filename"]
        audio_rel = str(Path(row["audio_filename"]).with_suffix(".ogg"))
        target = out / audio_rel
        if not target.exists():
            samples = load_audio(audio_src)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda f: sf.write(f, samples, SAMPLE_RATE, format="OGG", subtype="OPUS",
                                                    compression_level=level), overwrite=True)
        size = target.stat().st_size + midi_src.stat().st_size
        if used + size > budget and row["split"] == sample_split:
            target.unlink()
            break
        (out / row["midi_filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(midi_src, out / row["midi_filename"])
        used += size
        kept.append({**row, "audio_filename": audio_rel})
    if used > budget:
        raise ValueError(f"the whole splits {list(splits)} alone need {used / 2 ** 20:.1f} MiB > --max-mib {max_mib}")
    summary = {"source": str(root), "kbps": kbps, "mib": round(used / 2 ** 20, 2), "seed": seed, "splits": {}}
    for row in kept:
        s = summary["splits"].setdefault(row["split"], {"pieces": 0, "hours": 0.0})
        s["pieces"] += 1
        s["hours"] += float(row.get("duration") or 0) / 3600
    for s in summary["splits"].values():
        s["hours"] = round(s["hours"], 3)

    def write_index(f):
        f.write(_csv_text(fields, kept).encode())

    atomic_write(out / "maestro-v3.0.0.csv", write_index, overwrite=True)
    manifest = {"packed": summary}
    if (root / "manifest.json").exists():
        manifest["source_manifest"] = json.loads((root / "manifest.json").read_text())
    text = json.dumps(manifest, indent=1).encode()
    atomic_write(out / "manifest.json", lambda f: f.write(text), overwrite=True)
    return summary


def _csv_text(fields, rows) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def run(args):
    splits = tuple(s for s in args.splits.split(",") if s)
    summary = pack(args.root, args.out, splits, args.sample_split, args.kbps, args.max_mib, args.seed)
    print(json.dumps(summary, indent=1))
