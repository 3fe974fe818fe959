"""Transcription metrics (paper protocol, mir_eval). Used by validation and evaluation.

frame: mir_eval.multipitch's precision and recall over the 88 x T piano roll at 20 ms
(both rolls built with the label code), as the Onsets and Frames evaluation does; note:
onsets within 50 ms; note+offset: offset_ratio 0.2 (min 50 ms);
note+offset+velocity: mir_eval.transcription_velocity (tolerance 0.1).
References are the (sustain-extended) annotation times, not a re-quantised roll.
"""
from __future__ import annotations

import warnings

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.decoding import frames_to_seconds

from .labels import notes_to_rolls

METRIC_GROUPS = ("frame", "note", "note_offset", "note_offset_velocity")


def _arrays(notes):
    import mir_eval

    if not notes:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    intervals = np.array([[n.start, n.end] for n in notes], dtype=np.float64)
    pitches_hz = mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes], dtype=np.float64))
    velocities = np.array([n.velocity for n in notes], dtype=np.float64)
    return intervals, pitches_hz, velocities


def _roll_as_multipitch(roll: np.ndarray):
    """A (frames, 88) boolean roll as mir_eval.multipitch's (times, [Hz arrays per frame])."""
    import mir_eval

    hz = mir_eval.util.midi_to_hz(np.arange(C.MIN_PITCH, C.MAX_PITCH + 1, dtype=np.float64))
    times = frames_to_seconds(np.arange(len(roll)))
    return times, [hz[row] for row in roll]


def frame_metrics(ref_notes, est_notes) -> tuple:
    """(precision, recall, F1) of the frame rolls, by mir_eval.multipitch."""
    import mir_eval

    end = max([n.end for n in ref_notes] + [n.end for n in est_notes] + [0.0])
    n_frames = int(np.ceil(end * C.FRAMES_PER_SECOND)) + 2
    ref = notes_to_rolls(ref_notes, n_frames)["frame"].astype(bool)
    est = notes_to_rolls(est_notes, n_frames)["frame"].astype(bool)
    if not ref.any() or not est.any():
        return 0.0, 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = mir_eval.multipitch.evaluate(*_roll_as_multipitch(ref), *_roll_as_multipitch(est))
    p, r = float(scores["Precision"]), float(scores["Recall"])
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def transcription_metrics(ref_notes, est_notes) -> dict:
    """{"frame": (P, R, F1), "note": ..., "note_offset": ..., "note_offset_velocity": ...}."""
    import mir_eval

    ref_i, ref_p, ref_v = _arrays(ref_notes)
    est_i, est_p, est_v = _arrays(est_notes)
    out = {"frame": frame_metrics(ref_notes, est_notes)}
    if len(ref_i) == 0 or len(est_i) == 0:
        zero = (0.0, 0.0, 0.0)
        out.update(note=zero, note_offset=zero, note_offset_velocity=zero)
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_i, ref_p, est_i, est_p, offset_ratio=None)
        out["note"] = (p, r, f)
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_i, ref_p, est_i, est_p, offset_ratio=0.2, offset_min_tolerance=0.05)
        out["note_offset"] = (p, r, f)
        p, r, f, _ = mir_eval.transcription_velocity.precision_recall_f1_overlap(
            ref_i, ref_p, ref_v, est_i, est_p, est_v, offset_ratio=0.2, offset_min_tolerance=0.05,
            velocity_tolerance=0.1)
        out["note_offset_velocity"] = (p, r, f)
    return out


def flatten(metrics: dict) -> dict:
    """{"frame": (p, r, f)} -> {"frame_precision": p, "frame_recall": r, "frame_f1": f}."""
    flat = {}
    for group, (p, r, f) in metrics.items():
        flat[f"{group}_precision"], flat[f"{group}_recall"], flat[f"{group}_f1"] = p, r, f
    return flat


def summarize(rows) -> dict:
    """Mean and std over per-piece flat metric dicts."""
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)] if rows else []
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
            for k in keys}


def paired_difference(baseline, other) -> dict:
    """{mean, se, pieces, better, worse} of the per-piece differences ``other - baseline`` of one
    score (F1 on the same pieces, in the same order), in points (100 x F1). The pieces are shared,
    so the difference's standard error is much smaller than the spread of either score over pieces."""
    diff = 100 * (np.asarray(other, dtype=np.float64) - np.asarray(baseline, dtype=np.float64))
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return {"mean": float(diff.mean()), "se": se, "pieces": len(diff),
            "better": int((diff > 0).sum()), "worse": int((diff < 0).sum())}


CONFIDENCE_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
"""Edges of the confidence bins of :func:`confidence_counts` (the last bin includes 1.0)."""


def confidence_counts(ref_notes, est_notes) -> dict:
    """Per confidence bin, how many transcribed notes there were and how many matched a reference
    note (onsets within 50 ms, as note F1): counts summable over pieces."""
    import mir_eval

    est = [n for n in est_notes if n.confidence is not None]
    counts = {}
    if not est:
        return counts
    matched = set()
    if ref_notes:
        ref_i, ref_p, _ = _arrays(ref_notes)
        est_i, est_p, _ = _arrays(est)
        matched = {e for _, e in mir_eval.transcription.match_notes(ref_i, ref_p, est_i, est_p, offset_ratio=None)}
    for index, note in enumerate(est):
        b = int(np.searchsorted(CONFIDENCE_BINS, note.confidence, side="right")) - 1
        key = f"{CONFIDENCE_BINS[b]:.1f}-{min(CONFIDENCE_BINS[b + 1], 1.0):.1f}"
        notes, right = counts.get(key, (0, 0))
        counts[key] = (notes + 1, right + int(index in matched))
    return counts


def confidence_table(counts: dict) -> dict:
    """Summed :func:`confidence_counts` -> {bin: {"notes", "wrong_fraction"}}, bins in order."""
    return {key: {"notes": n, "wrong_fraction": round(1 - right / n, 4)}
            for key, (n, right) in sorted(counts.items())}


PARTIAL_INTERVALS = (12, 19, 24)  # octave, twelfth, double octave: the strongest shared partials
CHORD_WINDOW_S = 0.03
REGISTERS = (("low", 21, 47), ("middle", 48, 71), ("high", 72, 108))


def error_counts(ref_notes, est_notes) -> dict:
    """Where the note errors are (onsets within 50 ms, as note F1), as counts summable over pieces.

    - ``chord3``: notes in chords of 3+ notes (onsets within 30 ms); ``on_partial``: chord notes
      12/19/24 semitones above another note of the same chord; ``chord_other``: the other notes
      of chords of 2+ notes;
    - ``repeated``: a key struck again while its previous note still sounded (sustain-extended);
    - ``register_low/middle/high``: every note by register (A0-B2, C3-B4, C5-C8);
    - ``fp_partial``: extra notes 12/19/24 semitones above a sounding reference note.
    Each ``*_notes`` has its ``*_found``; ``misses`` and ``false_positives`` are totals."""
    import mir_eval

    ref = sorted(ref_notes, key=lambda n: (n.start, n.pitch))
    est = list(est_notes)
    ref_i, ref_p, _ = _arrays(ref)
    est_i, est_p, _ = _arrays(est)
    matched = mir_eval.transcription.match_notes(ref_i, ref_p, est_i, est_p, offset_ratio=None) \
        if len(ref) and len(est) else []
    found = np.zeros(len(ref), bool)
    used = np.zeros(len(est), bool)
    for r, e in matched:
        found[r], used[e] = True, True

    chord_of, chords, first = [], [], None
    for i, n in enumerate(ref):
        if first is None or n.start - ref[first].start > CHORD_WINDOW_S:
            first = i
            chords.append([])
        chords[-1].append(i)
        chord_of.append(len(chords) - 1)
    counts = {}

    def add(name, hit):
        counts[f"{name}_notes"] = counts.get(f"{name}_notes", 0) + 1
        counts[f"{name}_found"] = counts.get(f"{name}_found", 0) + int(hit)

    last_end = {}
    for i, n in enumerate(ref):
        chord = [ref[j].pitch for j in chords[chord_of[i]] if j != i]
        if len(chord) >= 2:
            add("chord3", found[i])
        if chord:
            add("on_partial" if any(n.pitch - q in PARTIAL_INTERVALS for q in chord) else "chord_other", found[i])
        if n.pitch in last_end and last_end[n.pitch] >= n.start - 0.02:
            add("repeated", found[i])
        last_end[n.pitch] = max(last_end.get(n.pitch, 0.0), n.end)
        for name, lo, hi in REGISTERS:
            if lo <= n.pitch <= hi:
                add(f"register_{name}", found[i])
    counts["misses"] = int((~found).sum())
    counts["misses_in_chord3"] = int(sum(1 for i in range(len(ref)) if not found[i]
                                         and len(chords[chord_of[i]]) >= 3))
    counts["false_positives"] = int((~used).sum())
    counts["fp_partial"] = int(sum(1 for e, n in enumerate(est) if not used[e] and any(
        n.pitch - r.pitch in PARTIAL_INTERVALS and r.start - 0.05 <= n.start <= r.end for r in ref)))
    return counts


def error_table(counts: dict) -> dict:
    """Summed counts -> readable rates: recall per class, share of misses in chords, partial FPs."""
    out = {}
    for key in sorted(k[:-6] for k in counts if k.endswith("_notes")):
        n = counts[f"{key}_notes"]
        out[f"{key}_recall"] = round(counts[f"{key}_found"] / n, 4) if n else None
        out[f"{key}_notes"] = n
    out["misses"] = counts.get("misses", 0)
    out["share_of_misses_in_chord3"] = round(counts["misses_in_chord3"] / counts["misses"], 4) \
        if counts.get("misses") else None
    out["false_positives"] = counts.get("false_positives", 0)
    out["share_of_false_positives_on_partials"] = round(counts["fp_partial"] / counts["false_positives"], 4) \
        if counts.get("false_positives") else None
    return out
