"""A score made a performance: transposed into range, tempo varied, timing and velocity
humanised, sustain pedal, silences real recordings have; written as the corpus's MIDI."""
from __future__ import annotations

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.adapters.midi import write_midi
from hppnet_plugin.adapters.pretty_midi import notes_to_pretty_midi
from hppnet_plugin.notes import Note, sort_notes

CORPUS_MIDI_TRACK = {"name": "Piano", "resolution": 220}
"""The track format of the corpus's MIDI files as first built (pretty_midi's default resolution):
kept so that rebuilt corpora stay byte-identical."""


def make_piano_like(notes, rng: np.random.Generator, max_duration_s: float, humanize: bool = True):
    """Transpose into range, vary tempo, humanise timing/velocity, crop, add pedal.

    Returns (notes, pedal_events) with pedal events as (time_s, cc64 value).
    """
    if not notes:
        return [], []
    shift = int(rng.integers(-7, 8))
    tempo = float(rng.uniform(0.75, 1.35))  # >1: faster
    raw = []
    for n in notes:
        p = n.pitch + shift
        while p < C.MIN_PITCH:
            p += 12
        while p > C.MAX_PITCH:
            p -= 12
        raw.append([n.start / tempo, n.end / tempo, p, n.velocity])
    raw.sort()
    total = max(r[1] for r in raw)
    # Crop a random window of at most max_duration_s.
    if total > max_duration_s:
        t0 = float(rng.uniform(0, total - max_duration_s))
        raw = [[s - t0, min(e, max_duration_s + t0) - t0, p, v] for s, e, p, v in raw
               if s >= t0 and s < t0 + max_duration_s - 0.1]
    if not raw:
        return [], []
    start0 = min(r[0] for r in raw)
    lead_in = float(rng.uniform(0.3, 1.0))
    out = []
    scored_velocity = len({r[3] for r in raw}) <= 2  # quantised scores: one velocity
    phrase_period = rng.uniform(4, 12)
    base = rng.uniform(45, 95)
    for s, e, p, v in raw:
        s, e = s - start0 + lead_in, e - start0 + lead_in
        if humanize:
            jitter = float(np.clip(rng.normal(0, 0.012), -0.03, 0.03))
            s, e = s + jitter, e + jitter * 0.5 + float(rng.normal(0, 0.02))
            if scored_velocity:
                v = base + 20 * np.sin(2 * np.pi * s / phrase_period) + rng.normal(0, 8)
            else:
                v = v + rng.normal(0, 6)
        s = max(s, 0.0)
        e = max(e, s + 0.03)
        out.append(Note(s, e, p, int(np.clip(v, 8, 127))))
    out = _remove_same_key_overlaps(sort_notes(out))
    pedal = []
    if rng.random() < 0.6:
        end = max(n.end for n in out)
        t = float(rng.uniform(0.2, 2.0))
        while t < end:
            down_for = float(rng.uniform(0.8, 3.5))
            pedal.append((t, 127))
            pedal.append((t + down_for, 0))
            t += down_for + float(rng.uniform(0.08, 2.0))
    return out, pedal


def _remove_same_key_overlaps(notes):
    """Cut a note where the next note of the same key starts (MIDI cannot overlap them)."""
    last = {}
    out = []
    for n in notes:
        prev = last.get(n.pitch)
        if prev is not None and out[prev].end > n.start - 0.01:
            p = out[prev]
            new_end = n.start - 0.01
            if new_end - p.start < 0.02:
                out[prev] = None
            else:
                out[prev] = Note(p.start, new_end, p.pitch, p.velocity)
        last[n.pitch] = len(out)
        out.append(n)
    return [n for n in out if n is not None]


def add_silences(notes, pedal, rng: np.random.Generator):
    """Quiet stretches real recordings have: a long intro, and up to two pauses (every note
    stopped, the pedal lifted, 1.5-5 s of nothing). Returns (notes, pedal, outro_s)."""
    notes, pedal = list(notes), list(pedal)
    if rng.random() < 0.35:  # long intro
        shift = float(rng.uniform(1.5, 6.0))
        notes = [Note(n.start + shift, n.end + shift, n.pitch, n.velocity) for n in notes]
        pedal = [(t + shift, v) for t, v in pedal]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        starts = sorted({round(n.start, 3) for n in notes})
        if len(starts) < 8:
            break
        cut = starts[int(rng.integers(len(starts) // 4, 3 * len(starts) // 4))]
        gap = float(rng.uniform(1.5, 5.0))
        moved = []
        for n in notes:
            if n.start >= cut:
                moved.append(Note(n.start + gap, n.end + gap, n.pitch, n.velocity))
            elif n.end > cut:  # sounding at the cut: released there
                if cut - n.start >= 0.03:
                    moved.append(Note(n.start, cut, n.pitch, n.velocity))
            else:
                moved.append(n)
        pedal = [(t, v) for t, v in pedal if t < cut] + [(cut, 0)] + [(t + gap, v) for t, v in pedal if t >= cut]
        notes = sort_notes(moved)
    outro = float(rng.uniform(1.5, 6.0)) if rng.random() < 0.35 else 0.0
    return notes, sorted(pedal), outro


def corpus_midi(notes, pedal, program: int = 0, tuning_cents: float = 0.0):
    """Notes + sustain pedal as the corpus's one-track PrettyMIDI; ``tuning_cents`` detunes the
    whole channel with one pitch bend at time 0."""
    return notes_to_pretty_midi(notes, 120.0, pedal=pedal, program=program, tuning_cents=tuning_cents,
                                **CORPUS_MIDI_TRACK)


def write_corpus_midi(notes, pedal, path, program: int = 0, tuning_cents: float = 0.0):
    """:func:`corpus_midi` written atomically to ``path`` (replacing it)."""
    return write_midi(notes, path, overwrite=True, pedal=pedal, program=program, tuning_cents=tuning_cents,
                      **CORPUS_MIDI_TRACK)
