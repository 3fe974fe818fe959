"""Generated piano textures over all 88 keys: chords, arpeggios, scales, repeats, jumps, clusters,
chords doubled on partials, and right-hand treble writing."""
from __future__ import annotations

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.notes import Note, sort_notes

from .treble import TREBLE_KINDS, treble_segment

TEXTURE_KINDS = ("chords", "arpeggio", "scale", "repeat", "jumps", "cluster", "two_hands")
DOUBLED_KINDS = ("octave_bass", "doubled_melody", "wide_chords", "partial_chords")
"""Textures whose chord notes sit on partials of lower notes of the same chord (octaves,
twelfths, double octaves): the notes hppnet-tiny missed most on an unseen piano."""

# Chord shapes spanning two or three octaves, in semitones above the lowest note: doubled
# roots (12, 24), fifths an octave up (19 = twelfth), thirds in the upper octave.
WIDE_SHAPES = ([0, 12, 16, 19, 24], [0, 7, 12, 16, 24], [0, 12, 19, 24, 28], [0, 12, 15, 19, 24],
               [0, 7, 16, 24, 31], [0, 12, 24, 28, 31, 36], [0, 19, 24, 28], [0, 12, 19, 22, 28],
               [0, 7, 12, 19, 24, 28], [0, 12, 17, 21, 24])
PARTIAL_INTERVALS = (12, 19, 24, 28, 31)  # octave, twelfth, double octave, 5th and 6th partials


# Every segment writer appends (start, end, pitch, velocity) tuples for one segment of its kind to
# ``notes`` and returns the time where the segment ended; the order of its random draws is part of
# the corpus (a rendered corpus is reproducible from its seed).

def _octave_bass(rng, t, seg_end, base_vel, lo, hi, notes):
    """Left-hand octaves under a right-hand line or chords."""
    step = rng.uniform(0.2, 0.7)
    bass = int(rng.integers(lo, 60))
    mel = int(rng.integers(55, hi - 14))
    while t < seg_end:
        dur = step * rng.uniform(0.8, 2.0)
        for p in (bass, bass + 12):
            notes.append((t, t + dur, p, base_vel + rng.normal(0, 6)))
        for k in range(int(rng.integers(1, 3))):
            mt = t + k * step / 2
            chord = [mel] + ([mel - 12] if rng.random() < 0.3 else []) + \
                    ([mel + int(rng.choice([3, 4, 7]))] if rng.random() < 0.4 else [])
            for p in chord:
                if lo <= p <= hi:
                    notes.append((mt, mt + step * rng.uniform(0.4, 1.0), p, base_vel + rng.normal(0, 8)))
            mel = int(np.clip(mel + rng.integers(-5, 6), 50, hi - 14))
        bass = int(np.clip(bass + rng.integers(-5, 6), lo, 62))
        t += step
    return t


def _doubled_melody(rng, t, seg_end, base_vel, lo, hi, notes):
    """Melody in octaves (or double octaves), sometimes with a bass."""
    step = rng.uniform(0.1, 0.45)
    gap = int(rng.choice([12, 12, 24, 19]))
    mel = int(rng.integers(lo, hi - gap))
    while t < seg_end:
        dur = step * rng.uniform(0.7, 1.8)
        for p in (mel, mel + gap):
            notes.append((t, t + dur, p, base_vel + rng.normal(0, 7)))
        if rng.random() < 0.25 and mel - 12 >= lo:
            notes.append((t, t + 2 * dur, mel - 12, base_vel - 8 + rng.normal(0, 6)))
        mel = int(np.clip(mel + rng.integers(-4, 5), lo, hi - gap))
        t += step
    return t


def _wide_chords(rng, t, seg_end, base_vel, lo, hi, notes):
    """Full chords over two or three octaves, anywhere on the keyboard."""
    while t < seg_end:
        shape = WIDE_SHAPES[int(rng.integers(len(WIDE_SHAPES)))]
        root = int(rng.integers(lo, hi - shape[-1] + 1))
        dur = rng.uniform(0.2, 1.8)
        spread = rng.uniform(0, 0.04) if rng.random() < 0.5 else 0.0  # rolled a little, or struck
        for j, iv in enumerate(shape):
            s = t + j * spread / max(1, len(shape) - 1)
            notes.append((s, s + dur * rng.uniform(0.7, 1.0), root + iv, base_vel + rng.normal(0, 9)))
        t += dur * rng.uniform(0.7, 1.2)
    return t


def _partial_chords(rng, t, seg_end, base_vel, lo, hi, notes):
    """A low note plus notes on its partials, with other chord notes between."""
    while t < seg_end:
        root = int(rng.integers(lo, hi - 24))
        dur = rng.uniform(0.15, 1.5)
        chosen = {0}
        for iv in PARTIAL_INTERVALS:
            if root + iv <= hi and rng.random() < 0.55:
                chosen.add(iv)
        for _ in range(int(rng.integers(0, 3))):  # non-partial chord tones
            iv = int(rng.choice([3, 4, 9, 10, 14, 15, 16, 21, 22]))
            if root + iv <= hi:
                chosen.add(iv)
        if len(chosen) == 1:
            chosen.add(12)
        for iv in sorted(chosen):
            vel = base_vel + rng.normal(0, 10) - (6 if iv in PARTIAL_INTERVALS else 0)
            notes.append((t, t + dur * rng.uniform(0.7, 1.0), root + iv, vel))
        t += dur * rng.uniform(0.8, 1.2)
    return t


def _chords(rng, t, seg_end, base_vel, lo, hi, notes):
    while t < seg_end:
        root = int(rng.integers(lo, hi - 12))
        shapes = [[0, 4, 7], [0, 3, 7], [0, 4, 7, 12], [0, 3, 7, 10], [0, 5, 9],
                  [0, 4, 7, 11, 14], [0, 7, 12, 16]]
        shape = shapes[int(rng.integers(len(shapes)))]
        dur = rng.uniform(0.15, 1.5)
        for iv in shape:
            if root + iv <= hi:
                notes.append((t, t + dur * rng.uniform(0.7, 1.0), root + iv, base_vel + rng.normal(0, 8)))
        t += dur * rng.uniform(0.8, 1.2)
    return t


def _arpeggio(rng, t, seg_end, base_vel, lo, hi, notes):
    step = rng.uniform(0.05, 0.16)
    root = int(rng.integers(lo, hi - 30))
    pattern = [0, 4, 7, 12, 16, 19, 24] if rng.random() < 0.5 else [0, 3, 7, 12, 15, 19, 24]
    i = 0
    while t < seg_end:
        p = root + pattern[i % len(pattern)] + 12 * ((i // len(pattern)) % 2)
        if p <= hi:
            notes.append((t, t + step * rng.uniform(1.0, 4.0), p, base_vel + rng.normal(0, 8)))
        t += step
        i += 1
    return t


def _scale(rng, t, seg_end, base_vel, lo, hi, notes):
    step = rng.uniform(0.05, 0.2)
    scales = [[2, 2, 1, 2, 2, 2, 1], [2, 1, 2, 2, 1, 3, 1], [1]]
    steps = scales[int(rng.integers(len(scales)))]
    p = int(rng.integers(lo, hi - 24))
    direction, i = 1, 0
    while t < seg_end:
        notes.append((t, t + step * rng.uniform(0.8, 1.5), p, base_vel + rng.normal(0, 8)))
        p += direction * steps[i % len(steps)]
        i += 1
        if p > hi or p < lo or rng.random() < 0.03:
            direction = -direction
            p = int(np.clip(p, lo, hi))
        t += step
    return t


def _repeat(rng, t, seg_end, base_vel, lo, hi, notes):
    p = int(rng.integers(lo, hi + 1))
    step = rng.uniform(0.08, 0.3)
    while t < seg_end:
        notes.append((t, t + step * rng.uniform(0.5, 0.95), p, base_vel + rng.normal(0, 12)))
        t += step
        if rng.random() < 0.15:
            p = int(np.clip(p + rng.integers(-5, 6), lo, hi))
    return t


def _jumps(rng, t, seg_end, base_vel, lo, hi, notes):
    while t < seg_end:
        dur = rng.uniform(0.1, 0.6)
        notes.append((t, t + dur, int(rng.integers(lo, hi + 1)), base_vel + rng.normal(0, 15)))
        t += rng.uniform(0.08, 0.4)
    return t


def _cluster(rng, t, seg_end, base_vel, lo, hi, notes):
    while t < seg_end:
        n_voices = int(rng.integers(4, 11))
        dur = rng.uniform(0.3, 2.0)
        for p in rng.choice(np.arange(lo, hi + 1), n_voices, replace=False):
            start = t + rng.uniform(0, 0.03)
            notes.append((start, start + dur * rng.uniform(0.5, 1.0), int(p), base_vel + rng.normal(0, 12)))
        t += dur * rng.uniform(0.4, 1.0)
    return t


def _two_hands(rng, t, seg_end, base_vel, lo, hi, notes):
    """A bass line and a melody."""
    step = rng.uniform(0.15, 0.5)
    bass = int(rng.integers(lo, 55))
    mel = int(rng.integers(60, hi - 12))
    while t < seg_end:
        notes.append((t, t + step * 2 * rng.uniform(0.7, 1.0), bass, base_vel - 10 + rng.normal(0, 6)))
        for k in range(2):
            mt = t + k * step
            notes.append((mt, mt + step * rng.uniform(0.6, 1.2), mel, base_vel + rng.normal(0, 8)))
            mel = int(np.clip(mel + rng.integers(-4, 5), 55, hi))
        bass = int(np.clip(bass + rng.integers(-5, 6), lo, 59))
        t += 2 * step
    return t


_SEGMENTS = {"chords": _chords, "arpeggio": _arpeggio, "scale": _scale, "repeat": _repeat, "jumps": _jumps,
             "cluster": _cluster, "two_hands": _two_hands, "octave_bass": _octave_bass,
             "doubled_melody": _doubled_melody, "wide_chords": _wide_chords, "partial_chords": _partial_chords}


def generate_texture(rng: np.random.Generator, duration_s: float, kinds=TEXTURE_KINDS) -> list:
    """Piano textures covering all 88 keys: chords, arpeggios, scales, repeats, jumps, clusters
    (``TEXTURE_KINDS``), chords doubled on partials (``DOUBLED_KINDS``) or right-hand treble
    writing (``TREBLE_KINDS``)."""
    notes, t = [], 0.0
    lo, hi = C.MIN_PITCH, C.MAX_PITCH
    while t < duration_s:
        kind = str(rng.choice(list(kinds)))
        seg_end = t + rng.uniform(3.0, 8.0)
        base_vel = rng.uniform(35, 105)
        if kind in TREBLE_KINDS:
            t = treble_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes)
        else:
            t = _SEGMENTS[kind](rng, t, seg_end, base_vel, lo, hi, notes)
        t += rng.uniform(0.0, 0.6)
    return sort_notes(Note(s, e, p, int(np.clip(v, 1, 127))) for s, e, p, v in notes if s < duration_s)
