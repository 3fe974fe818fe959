"""Standard MIDI files <-> notes (atomic writes, no silent overwrite)."""
from __future__ import annotations

from hppnet_plugin.io import atomic_write

from .pretty_midi import notes_to_pretty_midi, pretty_midi_to_notes


def write_midi(notes, path, overwrite: bool = False, tempo_bpm: float = 120.0, **track):
    """``track``: the options of :func:`notes_to_pretty_midi` (pedal, program, tuning_cents, ...)."""
    midi = notes_to_pretty_midi(notes, tempo_bpm, **track)
    return atomic_write(path, midi.write, overwrite=overwrite)


def read_midi(path, sustain: bool = False, min_duration_s: float = 0.0) -> list:
    """Notes of a MIDI file (all non-drum tracks); ``sustain`` extends them by the pedal."""
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi raises many types for bad files
        raise ValueError(f"cannot read MIDI file {path}: {error}") from error
    return pretty_midi_to_notes(midi, sustain=sustain, min_duration_s=min_duration_s)
