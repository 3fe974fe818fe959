"""Annotations -> target rolls (the inverse of :mod:`hppnet_plugin.decoding`).

Onsets & Frames convention at 20 ms frames: notes are first extended by the
sustain pedal; onset = 1 frame at the note start, frame = start..end, offset =
1 frame at the end, velocity = MIDI velocity / 128 on the note's frames.
"""
from __future__ import annotations


import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.decoding import VELOCITY_SCALE, seconds_to_frames
from hppnet_plugin.notes import Note, sort_notes


def sustain_intervals(control_changes, end_time: float) -> list:
    """[(down_s, up_s)] from (time_s, value) CC64 events, sorted by time."""
    intervals, down_at = [], None
    for time_s, value in sorted(control_changes):
        if value >= C.SUSTAIN_DOWN_MIN_VALUE and down_at is None:
            down_at = time_s
        elif value < C.SUSTAIN_DOWN_MIN_VALUE and down_at is not None:
            intervals.append((down_at, time_s))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(end_time, down_at)))
    return intervals


def apply_sustain(notes, pedal_intervals) -> list:
    """Extend notes released while the pedal is down.

    A note whose release falls inside a pedal-down interval lasts until the pedal
    is released or until the next onset of the same key, whichever is first.
    """
    notes = sort_notes(notes)
    next_onset = {}
    result = [None] * len(notes)
    # Walk backwards so the next onset of each key is known.
    for i in range(len(notes) - 1, -1, -1):
        n = notes[i]
        end = n.end
        for down, up in pedal_intervals:
            if down <= n.end < up:
                end = max(end, up)
                break
        following = next_onset.get(n.pitch)
        if following is not None and end > following:
            end = max(following, n.end) if following > n.start else end
        result[i] = Note(n.start, end, n.pitch, n.velocity)
        next_onset[n.pitch] = n.start
    return sort_notes(result)


def read_midi_notes(path, apply_pedal: bool = True) -> list:
    """Piano notes of a MIDI file (all non-drum tracks), sustain-extended by default."""
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi raises many types for bad files
        raise ValueError(f"cannot read MIDI file {path}: {error}") from error
    notes, pedal = [], []
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        for n in instrument.notes:
            if n.end > n.start and n.velocity > 0:
                notes.append(Note(max(n.start, 0.0), n.end, n.pitch, n.velocity))
        pedal += [(cc.time, cc.value) for cc in instrument.control_changes if cc.number == C.SUSTAIN_CC]
    if apply_pedal and pedal:
        end = max((n.end for n in notes), default=0.0)
        notes = apply_sustain(notes, sustain_intervals(pedal, end))
    return sort_notes(notes)


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
