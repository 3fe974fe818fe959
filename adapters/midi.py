"""Standard MIDI files <-> notes (atomic writes, no silent overwrite)."""
from __future__ import annotations

from hppnet_plugin.io import atomic_write

from .pretty_midi import notes_to_pretty_midi, pretty_midi_to_notes


def write_midi(notes, path, overwrite: bool = False, tempo_bpm: float = 120.0):
    midi = notes_to_pretty_midi(notes, tempo_bpm)
    return atomic_write(path, midi.write, overwrite=overwrite)


def read_midi(path) -> list:
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:
        raise ValueError(f"cannot read MIDI file {path}: {error}") from error
    return pretty_midi_to_notes(midi)
