"""Transcription metrics (paper protocol, mir_eval). Used by validation and evaluation.

frame: P/R/F1 over the 88 x T piano roll at 20 ms (both rolls built with the
label code); note: onsets within 50 ms; note+offset: offset_ratio 0.2 (min 50 ms);
note+offset+velocity: mir_eval.transcription_velocity (tolerance 0.1).
References are the (sustain-extended) annotation times, not a re-quantised roll.
"""
from __future__ import annotations

import warnings

import numpy as np

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


def _prf(tp, n_est, n_ref):
    p = tp / n_est if n_est else 0.0
    r = tp / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def frame_metrics(ref_notes, est_notes) -> tuple:
    end = max([n.end for n in ref_notes] + [n.end for n in est_notes] + [0.0])
    n_frames = int(np.ceil(end * 50)) + 2
    ref = notes_to_rolls(ref_notes, n_frames)["frame"].astype(bool)
    est = notes_to_rolls(est_notes, n_frames)["frame"].astype(bool)
    return _prf(int((ref & est).sum()), int(est.sum()), int(ref.sum()))


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
