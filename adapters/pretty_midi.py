"""pretty_midi.PrettyMIDI <-> notes."""
from __future__ import annotations

from hppnet_plugin.notes import Note, sort_notes

PIANO_PROGRAM = 0  # General MIDI "Acoustic Grand Piano"
MIDI_RESOLUTION = 480  # ticks per quarter note: ~1 ms at 120 bpm


def notes_to_pretty_midi(notes, tempo_bpm: float = 120.0):
    """One Acoustic Grand Piano track; velocities clamped to 1..127."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=float(tempo_bpm))
    piano = pretty_midi.Instrument(program=PIANO_PROGRAM, name="Acoustic Grand Piano")
    piano.notes = [pretty_midi.Note(velocity=max(1, min(127, int(n.velocity))), pitch=int(n.pitch),
                                    start=float(n.start), end=float(n.end)) for n in sort_notes(notes)]
    midi.instruments.append(piano)
    return midi


def pretty_midi_to_notes(midi) -> list:
    """Notes of all non-drum instruments (no pedal extension)."""
    notes = [Note(n.start, n.end, n.pitch, max(1, n.velocity))
             for inst in midi.instruments if not inst.is_drum for n in inst.notes if n.end > n.start]
    return sort_notes(notes)
