"""What a transcriber returns: the notes, the audio's duration, optional probability rolls,
and shortcuts to the adapters' conversions (the adapters import only ``notes``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import constants as C
from .adapters import basic_pitch, csv, kong, midi, note_seq, pretty_midi
from .notes import sort_notes


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
        return note_seq.notes_to_note_sequence(self.notes)

    def to_pretty_midi(self):
        return pretty_midi.notes_to_pretty_midi(self.notes)

    def write_midi(self, path, overwrite: bool = False):
        return midi.write_midi(self.notes, path, overwrite=overwrite)

    def write_csv(self, path, overwrite: bool = False):
        return csv.write_csv(self.notes, path, overwrite=overwrite)

    def to_note_events(self) -> list:
        return basic_pitch.notes_to_note_events(self.notes)

    def to_kong_events(self) -> list:
        return kong.notes_to_kong_events(self.notes)
