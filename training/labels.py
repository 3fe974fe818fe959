"""Annotations -> target rolls (the inverse of :mod:`hppnet_plugin.decoding`).

Onsets & Frames convention at 20 ms frames: notes are first extended by the
sustain pedal (``adapters.midi.read_midi(path, sustain=True)``, where MIDI is read);
onset = 1 frame at the note start, frame = start..end, offset = 1 frame at the end,
velocity = MIDI velocity / 128 on the note's frames.
"""
from __future__ import annotations

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.decoding import VELOCITY_SCALE, seconds_to_frames


def notes_to_rolls(notes, n_frames: int, frames_per_second: float = C.FRAMES_PER_SECOND) -> dict:
    """Target rolls (n_frames, 88): onset/frame/offset as uint8 0/1, velocity as uint8 MIDI.

    Notes outside the piano range are dropped; notes past ``n_frames`` are cut.
    Store velocity as MIDI integers (compact); divide by :data:`VELOCITY_SCALE`
    for the training target (see :func:`velocity_target`).
    """
    onset = np.zeros((n_frames, C.N_KEYS), np.uint8)
    frame = np.zeros_like(onset)
    offset = np.zeros_like(onset)
    velocity = np.zeros_like(onset)
    for n in notes:
        if not C.MIN_PITCH <= n.pitch <= C.MAX_PITCH:
            continue
        key = n.pitch - C.MIN_PITCH
        start = int(seconds_to_frames(n.start, frames_per_second))
        end = max(int(seconds_to_frames(n.end, frames_per_second)), start + 1)
        if start >= n_frames:
            continue
        onset[start, key] = 1
        frame[start:min(end, n_frames), key] = 1
        velocity[start:min(end, n_frames), key] = n.velocity
        if end < n_frames:
            offset[end, key] = 1
    return {"onset": onset, "frame": frame, "offset": offset, "velocity": velocity}


def velocity_target(velocity_midi):
    """MIDI velocity roll -> training target in [0, 1) (velocity / 128)."""
    return velocity_midi / VELOCITY_SCALE
