"""The one note record. Adapters convert lists of it; ``transcription`` wraps it with the
result of a transcriber."""
from __future__ import annotations

import math
from dataclasses import dataclass


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
