"""The one note record. Adapters convert lists of it; ``transcription`` wraps it with the
result of a transcriber."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional


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
    confidence : float or None
        How sure the transcriber is that the key was struck here, 0..1 (HPPNet: the onset
        probability at the note's onset peak); None where a source has none (a MIDI file).
        Not part of equality or ordering: the same note with another confidence is the same note.
    """

    start: float
    end: float
    pitch: int
    velocity: int = 64
    confidence: Optional[float] = field(default=None, compare=False)

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
        if self.confidence is not None:
            if not 0.0 <= float(self.confidence) <= 1.0:
                raise ValueError(f"confidence must be 0..1; got {self.confidence}")
            object.__setattr__(self, "confidence", float(self.confidence))

    @property
    def duration(self) -> float:
        return self.end - self.start


def sort_notes(notes) -> list:
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))
