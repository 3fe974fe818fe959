"""basic-pitch's note events <-> notes. (The drop-in ``predict`` is :mod:`hppnet_plugin.basic_pitch`.)

basic-pitch itself is not needed for this module.
"""
from __future__ import annotations

from hppnet_plugin.notes import Note, sort_notes


def notes_to_note_events(notes) -> list:
    """[(start_s, end_s, pitch_midi, amplitude 0..1, pitch_bends=None)] like basic-pitch's."""
    return [(n.start, n.end, n.pitch, n.velocity / 127.0, None) for n in sort_notes(notes)]


def note_events_to_notes(events) -> list:
    """basic-pitch note events -> notes (velocity = round(127 * amplitude), as basic-pitch writes MIDI)."""
    return sort_notes(Note(float(e[0]), float(e[1]), int(e[2]), max(1, min(127, int(round(127 * float(e[3]))))))
                      for e in events)
