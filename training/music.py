"""The music of the corpus: score MIDI files (music21's corpus converted, or any folder) and
generated piano textures over all 88 keys, including chords doubled on partials."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.adapters.midi import read_midi
from hppnet_plugin.notes import Note, sort_notes

MIN_SCORE_NOTE_S = 0.01
"""Score notes this short or shorter are dropped (grace-note artefacts of MIDI conversions)."""


def read_score(path) -> list:
    """All non-drum notes of a MIDI file, as Notes (score timing, no pedal)."""
    return read_midi(path, min_duration_s=MIN_SCORE_NOTE_S)


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
TREBLE_KINDS = ("treble_octaves", "repeated_chords", "ragtime", "passagework")
"""Right-hand writing from C5 up: fast octaves, repeated chords, ragtime's stride bass under a
syncopated melody in octaves, classical runs and broken chords over an Alberti bass. The notes
an unfamiliar piano's transcription misses most: treble notes an octave above another sounding
note, and keys struck again quickly."""
TREBLE_LOW = 72  # C5


def _treble_segment(kind, rng, t, seg_end, base_vel, hi, notes):
    """One segment of right-hand treble writing appended to ``notes``; returns the new time."""
    def add(start, dur, pitch, vel):
        if pitch <= hi:
            notes.append((start, start + dur, int(pitch), vel))

    beat = rng.uniform(0.25, 0.5)
    if kind == "treble_octaves":  # octave runs and leaps in the right hand
        step = rng.uniform(0.07, 0.2)
        mel = int(rng.integers(TREBLE_LOW, hi - 12))
        while t < seg_end:
            vel = base_vel + rng.normal(0, 8)
            for p in (mel, mel + 12):
                add(t, step * rng.uniform(0.6, 1.1), p, vel + rng.normal(0, 4))
            mel = int(np.clip(mel + rng.choice([-2, -1, 1, 2, 3, -3, 5, -5, 7]), TREBLE_LOW, hi - 12))
            t += step
    elif kind == "repeated_chords":  # the same right-hand chord struck again and again
        step = rng.uniform(0.1, 0.3)
        while t < seg_end:
            root = int(rng.integers(TREBLE_LOW, hi - 12))
            shape = [[0, 4, 7], [0, 3, 8], [0, 4, 7, 12], [0, 5, 9, 12], [0, 3, 7, 12]][int(rng.integers(5))]
            for _ in range(int(rng.integers(2, 7))):
                vel = base_vel + rng.normal(0, 8)
                for iv in shape:
                    add(t, step * rng.uniform(0.5, 0.9), root + iv, vel + rng.normal(0, 5))
                t += step
    elif kind == "ragtime":  # stride bass; syncopated melody in octaves or sixths above C5
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
    else:  # passagework: sixteenth runs and broken chords over an Alberti bass
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


def _doubled_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes):
    """One segment of a doubled-chord texture appended to ``notes``; returns the new time."""
    if kind == "octave_bass":  # left-hand octaves under a right-hand line or chords
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
    elif kind == "doubled_melody":  # melody in octaves (or double octaves), sometimes with a bass
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
    elif kind == "wide_chords":  # full chords over two or three octaves, anywhere on the keyboard
        while t < seg_end:
            shape = WIDE_SHAPES[int(rng.integers(len(WIDE_SHAPES)))]
            root = int(rng.integers(lo, hi - shape[-1] + 1))
            dur = rng.uniform(0.2, 1.8)
            spread = rng.uniform(0, 0.04) if rng.random() < 0.5 else 0.0  # rolled a little, or struck
            for j, iv in enumerate(shape):
                s = t + j * spread / max(1, len(shape) - 1)
                notes.append((s, s + dur * rng.uniform(0.7, 1.0), root + iv, base_vel + rng.normal(0, 9)))
            t += dur * rng.uniform(0.7, 1.2)
    else:  # partial_chords: a low note plus notes on its partials, with other chord notes between
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


def generate_texture(rng: np.random.Generator, duration_s: float, kinds=TEXTURE_KINDS) -> list:
    """Piano textures covering all 88 keys: chords, arpeggios, scales, repeats, jumps, clusters
    (``TEXTURE_KINDS``), chords doubled on partials (``DOUBLED_KINDS``) or right-hand treble
    writing (``TREBLE_KINDS``)."""
    notes, t = [], 0.0
    lo, hi = C.MIN_PITCH, C.MAX_PITCH
    while t < duration_s:
        kind = rng.choice(list(kinds))
        seg_end = t + rng.uniform(3.0, 8.0)
        base_vel = rng.uniform(35, 105)
        if kind in DOUBLED_KINDS:
            t = _doubled_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes)
        elif kind in TREBLE_KINDS:
            t = _treble_segment(kind, rng, t, seg_end, base_vel, hi, notes)
        elif kind == "chords":
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
        elif kind == "arpeggio":
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
        elif kind == "scale":
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
        elif kind == "repeat":
            p = int(rng.integers(lo, hi + 1))
            step = rng.uniform(0.08, 0.3)
            while t < seg_end:
                notes.append((t, t + step * rng.uniform(0.5, 0.95), p, base_vel + rng.normal(0, 12)))
                t += step
                if rng.random() < 0.15:
                    p = int(np.clip(p + rng.integers(-5, 6), lo, hi))
        elif kind == "jumps":
            while t < seg_end:
                dur = rng.uniform(0.1, 0.6)
                notes.append((t, t + dur, int(rng.integers(lo, hi + 1)), base_vel + rng.normal(0, 15)))
                t += rng.uniform(0.08, 0.4)
        elif kind == "cluster":
            while t < seg_end:
                n_voices = int(rng.integers(4, 11))
                dur = rng.uniform(0.3, 2.0)
                for p in rng.choice(np.arange(lo, hi + 1), n_voices, replace=False):
                    start = t + rng.uniform(0, 0.03)
                    notes.append((start, start + dur * rng.uniform(0.5, 1.0), int(p), base_vel + rng.normal(0, 12)))
                t += dur * rng.uniform(0.4, 1.0)
        else:  # two_hands: bass line + melody
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
        t += rng.uniform(0.0, 0.6)
    return sort_notes(Note(s, e, p, int(np.clip(v, 1, 127))) for s, e, p, v in notes if s < duration_s)


def midi_files_from_music21(out_dir: Path, limit: int = 0) -> list:
    """Convert music21's bundled corpus to MIDI files in ``out_dir`` (slow: ~30 min for all)."""
    try:
        from music21 import corpus
    except ImportError as error:
        raise RuntimeError("--music21 needs the music21 package: pip install music21") from error
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = corpus.getPaths()
    if limit:
        paths = paths[:limit]
    files = []
    for p in paths:
        target = out_dir / (str(Path(p).relative_to(Path(p).parents[1])).replace("/", "__") + ".mid")
        if not target.exists():
            try:
                corpus.parse(p).write("midi", fp=str(target))
            except Exception:
                continue
        files.append(target)
    return files
