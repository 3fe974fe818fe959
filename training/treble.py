"""Right-hand treble textures from C5 up, the segment writers of :data:`TREBLE_KINDS` (see
:mod:`training.textures` for what a segment writer is)."""
from __future__ import annotations

import numpy as np

TREBLE_KINDS = ("treble_octaves", "repeated_chords", "ragtime", "passagework")
"""Right-hand writing from C5 up: fast octaves, repeated chords, ragtime's stride bass under a
syncopated melody in octaves, classical runs and broken chords over an Alberti bass. The notes
an unfamiliar piano's transcription misses most: treble notes an octave above another sounding
note, and keys struck again quickly."""
TREBLE_LOW = 72  # C5


def _treble_adder(notes, hi):
    def add(start, dur, pitch, vel):
        if pitch <= hi:
            notes.append((start, start + dur, int(pitch), vel))

    return add


def _treble_octaves(rng, t, seg_end, base_vel, hi, notes, beat):
    """Octave runs and leaps in the right hand."""
    add = _treble_adder(notes, hi)
    step = rng.uniform(0.07, 0.2)
    mel = int(rng.integers(TREBLE_LOW, hi - 12))
    while t < seg_end:
        vel = base_vel + rng.normal(0, 8)
        for p in (mel, mel + 12):
            add(t, step * rng.uniform(0.6, 1.1), p, vel + rng.normal(0, 4))
        mel = int(np.clip(mel + rng.choice([-2, -1, 1, 2, 3, -3, 5, -5, 7]), TREBLE_LOW, hi - 12))
        t += step
    return t


def _repeated_chords(rng, t, seg_end, base_vel, hi, notes, beat):
    """The same right-hand chord struck again and again."""
    add = _treble_adder(notes, hi)
    step = rng.uniform(0.1, 0.3)
    while t < seg_end:
        root = int(rng.integers(TREBLE_LOW, hi - 12))
        shape = [[0, 4, 7], [0, 3, 8], [0, 4, 7, 12], [0, 5, 9, 12], [0, 3, 7, 12]][int(rng.integers(5))]
        for _ in range(int(rng.integers(2, 7))):
            vel = base_vel + rng.normal(0, 8)
            for iv in shape:
                add(t, step * rng.uniform(0.5, 0.9), root + iv, vel + rng.normal(0, 5))
            t += step
    return t


def _ragtime(rng, t, seg_end, base_vel, hi, notes, beat):
    """Stride bass; syncopated melody in octaves or sixths above C5."""
    add = _treble_adder(notes, hi)
    bass = int(rng.integers(28, 45))
    mel = int(rng.integers(TREBLE_LOW, hi - 12))
    while t < seg_end:
        add(t, beat * 0.8, bass, base_vel - 5 + rng.normal(0, 6))
        add(t, beat * 0.8, bass + 12, base_vel - 5 + rng.normal(0, 6))
        for iv in (19, 24, 28):  # the off-beat chord in the middle of the keyboard
            add(t + beat, beat * 0.7, bass + iv, base_vel - 12 + rng.normal(0, 6))
        for k in range(4):  # eighths with a tied (syncopated) one now and then
            if k == 2 and rng.random() < 0.4:
                continue
            start = t + k * beat / 2
            upper = 12 if rng.random() < 0.6 else int(rng.choice([8, 9]))
            vel = base_vel + rng.normal(0, 8)
            add(start, beat * rng.uniform(0.35, 0.9), mel, vel)
            add(start, beat * rng.uniform(0.35, 0.9), mel + upper, vel + rng.normal(0, 4))
            mel = int(np.clip(mel + rng.integers(-4, 5), TREBLE_LOW, hi - 12))
        bass = int(np.clip(bass + rng.choice([-5, 0, 5, 7, -7]), 28, 45))
        t += 2 * beat
    return t


def _passagework(rng, t, seg_end, base_vel, hi, notes, beat):
    """Sixteenth runs and broken chords over an Alberti bass."""
    add = _treble_adder(notes, hi)
    step = rng.uniform(0.06, 0.14)
    root = int(rng.integers(48, 60))
    p = int(rng.integers(TREBLE_LOW, hi - 14))
    direction = 1
    i = 0
    while t < seg_end:
        if i % 2 == 0:  # Alberti bass: root, fifth, third, fifth
            add(t, 2 * step, root + (0, 7, 4, 7)[(i // 2) % 4], base_vel - 15 + rng.normal(0, 5))
        add(t, step * rng.uniform(0.8, 1.4), p, base_vel + rng.normal(0, 7))
        if rng.random() < 0.3:  # broken-chord leaps instead of scale steps
            p += direction * int(rng.choice([3, 4, 5]))
        else:
            p += direction * int(rng.choice([1, 2, 2]))
        if p > hi - 2 or p < TREBLE_LOW or rng.random() < 0.06:
            direction = -direction
            p = int(np.clip(p, TREBLE_LOW, hi - 2))
        if i % 16 == 15:
            root = int(np.clip(root + rng.choice([-5, 5, 7, -7, 2]), 45, 62))
        t += step
        i += 1
    return t


_TREBLE_SEGMENTS = {"treble_octaves": _treble_octaves, "repeated_chords": _repeated_chords, "ragtime": _ragtime,
                    "passagework": _passagework}


def treble_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes):
    """One segment of right-hand treble writing (every kind draws its beat first)."""
    beat = rng.uniform(0.25, 0.5)
    return _TREBLE_SEGMENTS[kind](rng, t, seg_end, base_vel, hi, notes, beat)
