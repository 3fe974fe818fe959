"""CSV <-> notes. Columns follow basic-pitch's CSV: start_time_s,end_time_s,pitch_midi,velocity,
then ``confidence`` (0..1, empty where a note has none)."""
from __future__ import annotations

import csv
import io

from hppnet_plugin.io import atomic_write
from hppnet_plugin.notes import Note, sort_notes

CSV_COLUMNS = ("start_time_s", "end_time_s", "pitch_midi", "velocity")
"""The columns every note CSV has; ``confidence`` follows them when written here."""
CONFIDENCE_COLUMN = "confidence"


def notes_to_csv_text(notes) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (CONFIDENCE_COLUMN,))
    for n in sort_notes(notes):
        writer.writerow([repr(n.start), repr(n.end), n.pitch, n.velocity,
                         "" if n.confidence is None else repr(n.confidence)])
    return out.getvalue()


def write_csv(notes, path, overwrite: bool = False):
    text = notes_to_csv_text(notes).encode()
    return atomic_write(path, lambda f: f.write(text), overwrite=overwrite)


def read_csv(path) -> list:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks the columns {missing}; expected {', '.join(CSV_COLUMNS)}")
        return sort_notes(Note(float(r["start_time_s"]), float(r["end_time_s"]), int(r["pitch_midi"]),
                               int(r["velocity"]), float(r[CONFIDENCE_COLUMN]) if r.get(CONFIDENCE_COLUMN) else None)
                          for r in reader)
