"""Kong et al.'s piano_transcription_inference note dicts <-> notes."""
from __future__ import annotations

from hppnet_plugin.notes import Note, sort_notes


def notes_to_kong_events(notes) -> list:
    """[{'onset_time', 'offset_time', 'midi_note', 'velocity'}] as in ``est_note_events``, plus
    ``confidence`` (0..1, or None) where the notes carry one."""
    return [{"onset_time": n.start, "offset_time": n.end, "midi_note": n.pitch, "velocity": n.velocity,
             "confidence": n.confidence} for n in sort_notes(notes)]


def kong_events_to_notes(events) -> list:
    return sort_notes(Note(e["onset_time"], e["offset_time"], e["midi_note"], e["velocity"], e.get("confidence"))
                      for e in events)
