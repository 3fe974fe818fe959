"""Probability rolls -> notes (Onsets & Frames style). The one place frames become seconds.

Used by inference, training-time validation and evaluation alike.

Rule: a note starts at an onset peak (a frame whose onset probability is at least
the onset threshold and a local maximum in time); it lasts while the frame
probability stays at or above the frame threshold, and ends earlier if the same
key has a new onset peak. Velocity is the velocity head at the onset frame,
times :data:`VELOCITY_SCALE` (the inverse of the label scaling), clamped to 1..127; the note's
confidence is the onset probability at that peak.
An onset on a key a partial above a key being struck (a key :data:`PARTIAL_INTERVALS`
semitones below, at or above the frame threshold in that frame, whose onset probability reached
the onset threshold within :data:`PARTIAL_SOURCE_FRAMES` frames before or one frame after) needs
the ``partial_onset_threshold`` instead, when one is given: most false notes sit on a partial
of a note as it is struck (the octave, twelfth, double octave...), while onsets elsewhere are
rarely false, so one threshold for both writes partials or misses notes that nothing masks. A
key struck while a lower one only sustains keeps the ordinary threshold: its partials' false
onsets rise with the lower key's attack, not later.
Notes shorter than ``min_note_ms`` are dropped (basic-pitch's ``minimum_note_length``): a
note of one or two frames is mostly a blip where a sound starts or stops abruptly, such as
mains hum at the start of a file, and rarely a played key (1.3 % of the validation notes are
shorter than 40 ms).
"""
from __future__ import annotations

import numpy as np

from . import constants as C
from .notes import Note, sort_notes

PARTIAL_INTERVALS = (12, 19, 24, 28, 31)
"""Semitones above a sounding key at which its 2nd, 3rd, 4th, 5th and 6th harmonics lie."""

PARTIAL_SOURCE_FRAMES = 2
"""How many frames (40 ms) after its onset a key's partials take the partial onset threshold."""

VELOCITY_SCALE = 128.0
"""Velocity labels are MIDI velocity / 128 (Onsets & Frames convention)."""


def frames_to_seconds(frames, frames_per_second: float = C.FRAMES_PER_SECOND):
    """Start time in seconds of frame indices."""
    return np.asarray(frames, dtype=np.float64) / frames_per_second


def seconds_to_frames(seconds, frames_per_second: float = C.FRAMES_PER_SECOND):
    """Nearest frame index of a time in seconds."""
    return np.rint(np.asarray(seconds, dtype=np.float64) * frames_per_second).astype(np.int64)


def velocity_to_midi(value: float) -> int:
    return int(np.clip(np.rint(value * VELOCITY_SCALE), 1, 127))


class NoteDecoder:
    """Streaming decoder: push consecutive blocks of rolls, then ``finish()``.

    Memory is bounded by the block size: notes are emitted as soon as they end.
    The last frame of each block is held back because peak picking needs the
    next frame.
    """

    def __init__(self, onset_threshold: float = C.ONSET_THRESHOLD,
                 frame_threshold: float = C.FRAME_THRESHOLD,
                 frames_per_second: float = C.FRAMES_PER_SECOND, min_pitch: int = C.MIN_PITCH,
                 min_note_ms: float = C.MIN_NOTE_MS, partial_onset_threshold: float | None = None):
        if min_note_ms < 0:
            raise ValueError(f"min_note_ms must be >= 0; got {min_note_ms}")
        self.onset_threshold = onset_threshold
        self.partial_onset_threshold = partial_onset_threshold
        self.frame_threshold = frame_threshold
        self.fps = frames_per_second
        # In frames; the tolerance keeps a note of exactly min_note_ms (e.g. 3 frames = 60 ms).
        self.min_frames = min_note_ms / 1000.0 * frames_per_second - 1e-6
        self.min_pitch = min_pitch
        self._pending = None  # (onset, frame, velocity) of the held-back last frame
        self._recent_onset = None  # onset probabilities of the PARTIAL_SOURCE_FRAMES frames before
        self._next_index = 0  # global index of the pending frame (or next frame)
        self._active_start = None  # (88,) start frame of the sounding note, -1 if none
        self._active_velocity = None
        self._active_confidence = None
        self.notes = []

    def _emit(self, key, start, end, velocity, confidence):
        end = max(end, start + 1)
        if end - start >= self.min_frames:
            start_s, end_s = frames_to_seconds((start, end), self.fps).tolist()
            self.notes.append(Note(start_s, end_s, key + self.min_pitch, velocity,
                                   round(float(np.clip(confidence, 0.0, 1.0)), 4)))

    def push(self, onset, frame, velocity):
        """Add the next block of frames; each array is (frames, keys) in [0, 1]."""
        onset = np.asarray(onset, dtype=np.float32)
        frame = np.asarray(frame, dtype=np.float32)
        velocity = np.asarray(velocity, dtype=np.float32)
        if not (onset.shape == frame.shape == velocity.shape) or onset.ndim != 2:
            raise ValueError("onset, frame and velocity rolls must share one (frames, keys) shape; "
                             f"got {onset.shape}, {frame.shape}, {velocity.shape}")
        if len(onset) == 0:
            return
        if self._active_start is None:
            n_keys = onset.shape[1]
            self._active_start = np.full(n_keys, -1, dtype=np.int64)
            self._active_velocity = np.zeros(n_keys, dtype=np.int64)
            self._active_confidence = np.zeros(n_keys, dtype=np.float32)
            self._recent_onset = np.zeros((PARTIAL_SOURCE_FRAMES, n_keys), dtype=np.float32)
        if self._pending is not None:
            onset = np.concatenate([self._pending[0], onset])
            frame = np.concatenate([self._pending[1], frame])
            velocity = np.concatenate([self._pending[2], velocity])
        # Hold back the last frame: its peak test needs the frame after it.
        self._pending = (onset[-1:], frame[-1:], velocity[-1:])
        next_onset = onset[1:]
        self._process(onset[:-1], frame[:-1], velocity[:-1], next_onset)

    def finish(self) -> list:
        """Decode the held-back frame, close sounding notes, return all notes sorted."""
        if self._pending is not None:
            onset, frame, velocity = self._pending
            self._pending = None
            self._process(onset, frame, velocity, np.zeros_like(onset))
        if self._active_start is not None:
            for key in np.nonzero(self._active_start >= 0)[0]:
                self._emit(key, self._active_start[key], self._next_index, self._active_velocity[key],
                           self._active_confidence[key])
            self._active_start[:] = -1
        notes, self.notes = sort_notes(self.notes), []
        return notes

    def _onset_thresholds(self, onset, next_onset, sounding):
        """The onset threshold of each (frame, key): the partial one where a key a partial
        interval below is sounding and struck (its onset probability at or above the onset
        threshold) within the last PARTIAL_SOURCE_FRAMES frames or the next one."""
        partial = self.partial_onset_threshold
        if partial is None or partial == self.onset_threshold:
            return self.onset_threshold
        n = len(onset)
        struck = np.concatenate([self._recent_onset, onset, next_onset[-1:]]) >= self.onset_threshold
        recently_struck = np.zeros_like(sounding)
        for shift in range(PARTIAL_SOURCE_FRAMES + 2):
            recently_struck |= struck[shift:shift + n]
        source = sounding & recently_struck
        on_partial = np.zeros_like(sounding)
        for interval in PARTIAL_INTERVALS:
            on_partial[:, interval:] |= source[:, :-interval]
        return np.where(on_partial, partial, self.onset_threshold)

    def _process(self, onset, frame, velocity, next_onset):
        n = len(onset)
        g0 = self._next_index
        previous = np.concatenate([self._recent_onset[-1:], onset[:-1]])
        inactive = frame < self.frame_threshold
        thresholds = self._onset_thresholds(onset, next_onset, ~inactive)
        peaks = (onset >= thresholds) & (onset >= previous) & (onset > next_onset)
        self._recent_onset = np.concatenate([self._recent_onset, onset])[-PARTIAL_SOURCE_FRAMES:]
        keys = np.nonzero(peaks.any(0) | (self._active_start >= 0))[0]
        for key in keys:
            onsets = np.nonzero(peaks[:, key])[0]
            stops = np.nonzero(inactive[:, key])[0]
            start = self._active_start[key]
            vel = self._active_velocity[key]
            conf = self._active_confidence[key]
            local_start = -1 if start < 0 else None  # a carried note starts before this block
            cursor = 0  # first local frame not yet decided
            events = list(onsets) + [n]
            for next_on in events:
                if start >= 0:
                    # The sounding note ends at the first inactive frame after its start,
                    # or at the next onset of this key, whichever comes first.
                    search_from = cursor if local_start is None else local_start + 1
                    i = np.searchsorted(stops, search_from)
                    end = stops[i] if i < len(stops) else n
                    end = min(end, next_on)
                    if end < n or next_on < n:
                        self._emit(key, start, g0 + end, vel, conf)
                        start = -1
                if next_on < n:
                    start = g0 + next_on
                    vel = velocity_to_midi(velocity[next_on, key])
                    conf = onset[next_on, key]
                    local_start = next_on
                    cursor = next_on + 1
            self._active_start[key] = start
            self._active_velocity[key] = vel
            self._active_confidence[key] = conf
        self._next_index = g0 + n


def decode_rolls(onset, frame, velocity, onset_threshold: float = C.ONSET_THRESHOLD,
                 frame_threshold: float = C.FRAME_THRESHOLD,
                 frames_per_second: float = C.FRAMES_PER_SECOND, min_note_ms: float = C.MIN_NOTE_MS,
                 partial_onset_threshold: float | None = None) -> list:
    """Decode whole (frames, 88) probability rolls into a sorted list of :class:`Note`."""
    decoder = NoteDecoder(onset_threshold, frame_threshold, frames_per_second, min_note_ms=min_note_ms,
                          partial_onset_threshold=partial_onset_threshold)
    decoder.push(onset, frame, velocity)
    return decoder.finish()
