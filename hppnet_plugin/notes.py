"""The one note record and the transcription result."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from . import constants as C


@dataclass(frozen=True, order=True)
class Note:
    """One piano note.

    Attributes
    ----------
    start, end : float
        Onset and offset, seconds from the start of the audio; ``end > start``.
    pitch : int
        MIDI pitch, 21 (A0) .. 108 (C8) for HPPNet; 0..127 accepted.
    velocity : int
        MIDI velocity, 1..127.
    """

    start: float
    end: float
    pitch: int
    velocity: int = 64

    def __post_init__(self):
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"note times must be finite; got start={self.start}, end={self.end}")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"note needs 0 <= start < end; got start={self.start}, end={self.end}")
        if not 0 <= int(self.pitch) <= 127:
            raise ValueError(f"pitch must be a MIDI number 0..127; got {self.pitch}")
        if not 1 <= int(self.velocity) <= 127:
            raise ValueError(f"velocity must be 1..127; got {self.velocity}")
        object.__setattr__(self, "pitch", int(self.pitch))
        object.__setattr__(self, "velocity", int(self.velocity))
        object.__setattr__(self, "start", float(self.start))
        object.__setattr__(self, "end", float(self.end))

    @property
    def duration(self) -> float:
        return self.end - self.start


def sort_notes(notes) -> list:
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))


@dataclass
class Transcription:
    """What a transcriber returns.

    Attributes
    ----------
    notes : list of Note
        Sorted by (start, pitch).
    duration : float
        Length of the input audio, seconds.
    rolls : dict of str -> ndarray (frames, 88), optional
        Probability rolls ("onset", "frame", "velocity") at 50 frames/s, when
        asked for with ``return_rolls=True``.
    config : dict, optional
        The model configuration that produced the notes.
    transcriber : str
        Registry name of the transcriber.
    """

    notes: list
    duration: float = 0.0
    rolls: Optional[dict] = None
    config: Optional[dict] = None
    transcriber: str = ""
    frames_per_second: float = C.FRAMES_PER_SECOND
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.notes = sort_notes(self.notes)

    def __len__(self):
        return len(self.notes)

    # Conversions live in hppnet_plugin.adapters; these are shortcuts.
    def to_note_sequence(self):
        from .adapters.note_seq import notes_to_note_sequence

        return notes_to_note_sequence(self.notes)

    def to_pretty_midi(self):
        from .adapters.pretty_midi import notes_to_pretty_midi

        return notes_to_pretty_midi(self.notes)

    def write_midi(self, path, overwrite: bool = False):
        from .adapters.midi import write_midi

        return write_midi(self.notes, path, overwrite=overwrite)

    def write_csv(self, path, overwrite: bool = False):
        from .adapters.csv import write_csv

        return write_csv(self.notes, path, overwrite=overwrite)

    def to_note_events(self) -> list:
        from .adapters.basic_pitch import notes_to_note_events

        return notes_to_note_events(self.notes)

    def to_kong_events(self) -> list:
        from .adapters.kong import notes_to_kong_events

        return notes_to_kong_events(self.notes)
