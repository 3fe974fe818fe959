"""Small dataset trees in the exact real layouts, generated on the fly."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from .conftest import piano_like_tone

MAESTRO_HEADER = ["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                  "audio_filename", "duration"]


def write_performance(path_audio: Path, path_midi: Path, notes, sr=44100, seconds=3.0, pedal=()):
    audio = np.zeros(int(seconds * sr), np.float32)
    for start, end, pitch, velocity in notes:
        tone = piano_like_tone(pitch, end - start, sr=sr, start_s=start, total_s=seconds)
        audio += tone * velocity / 127
    path_audio.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path_audio, audio, sr)
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(v, p, s, e) for s, e, p, v in notes]
    piano.control_changes = [pretty_midi.ControlChange(64, value, t) for t, value in pedal]
    midi.instruments.append(piano)
    midi.write(str(path_midi))


def make_maestro(root: Path, as_json: bool = False) -> Path:
    """MAESTRO v3 layout: <year>/<name>.wav + .midi, maestro-v3.0.0.csv (or .json)."""
    rows = []
    pieces = [("train", "2004", "piece_a", [(0.2, 0.9, 60, 80), (1.0, 1.5, 64, 60)]),
              ("train", "2006", "piece_b", [(0.3, 1.2, 48, 100)]),
              ("validation", "2008", "piece_c", [(0.5, 1.0, 72, 70)]),
              ("test", "2009", "piece_d", [(0.4, 0.8, 55, 90), (0.4, 0.8, 59, 90)])]
    for split, year, name, notes in pieces:
        write_performance(root / year / f"{name}.wav", root / year / f"{name}.midi", notes,
                          pedal=[(0.1, 100), (1.1, 0)] if name == "piece_a" else ())
        rows.append({"canonical_composer": "Composer", "canonical_title": name, "split": split, "year": year,
                     "midi_filename": f"{year}/{name}.midi", "audio_filename": f"{year}/{name}.wav",
                     "duration": 3.0})
    if as_json:  # the real json is column-oriented
        data = {col: {str(i): r[col] for i, r in enumerate(rows)} for col in MAESTRO_HEADER}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(data))
    else:
        with open(root / "maestro-v3.0.0.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, MAESTRO_HEADER)
            writer.writeheader()
            writer.writerows(rows)
    return root


def make_maps(root: Path) -> Path:
    """MAPS layout: <piano>/MUS/MAPS_MUS-<piece>_<piano>.wav + .txt + .mid."""
    for piano, piece in [("ENSTDkAm", "bach_846"), ("ENSTDkCl", "chpn_op10_e01"), ("AkPnBcht", "bach_846"),
                         ("AkPnBcht", "mz_331_1")]:
        folder = root / piano / "MUS"
        stem = f"MAPS_MUS-{piece}_{piano}"
        notes = [(0.5, 1.0, 60, 77), (0.75, 1.25, 67, 33)]
        write_performance(folder / f"{stem}.wav", folder / f"{stem}.mid", notes)
        lines = ["OnsetTime\tOffsetTime\tMidiPitch"] + [f"{s}\t{e}\t{p}" for s, e, p, _ in notes]
        (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return root
