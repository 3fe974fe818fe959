"""Decoding thresholds chosen on the validation split (never on a test split).

The model's probabilities are computed once per validation piece; decoding and
mir_eval scoring are then repeated over a grid of thresholds. A note's onset
(what note F1 scores) depends only on the onset threshold, so it is chosen first,
for the best mean note F1; the frame threshold is then chosen for the best mean
frame F1 given that onset threshold (ties go to the value nearest 0.5).
"""
from __future__ import annotations

import logging

import numpy as np

from .validation import piece_scores

log = logging.getLogger(__name__)

THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)
MIN_CALIBRATION_F1 = 0.05
"""Below this best note F1 the scores say nothing about thresholds (an untrained model)."""


def _mean_scores(items, onset_threshold, frame_threshold, fps) -> dict:
    rows = [piece_scores(rolls, reference, onset_threshold, frame_threshold, fps) for rolls, reference in items]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def choose_thresholds(items, fps: float, grid=THRESHOLD_GRID, default_frame: float = 0.4) -> dict:
    """Pick (onset, frame) thresholds on ``items`` (from :func:`training.validation.validation_rolls`).

    Returns {"onset_threshold", "frame_threshold", "table": [{onset, frame, note_f1, frame_f1, ...}]}.
    """
    if not items:
        raise ValueError("no validation pieces to calibrate thresholds on")

    def best(rows, key, param):
        top = max(r[key] for r in rows)
        return min((r for r in rows if r[key] >= top - 1e-9), key=lambda r: abs(r[param] - 0.5))

    table = [{"onset": o, "frame": default_frame, **_mean_scores(items, o, default_frame, fps)} for o in grid]
    if max(r["note_f1"] for r in table) < MIN_CALIBRATION_F1:
        raise ValueError(f"every onset threshold scores note F1 below {MIN_CALIBRATION_F1} on the "
                         f"{len(items)} validation pieces (best {max(r['note_f1'] for r in table):.3f}): the "
                         "model is untrained or the validation data has no notes, so no threshold is "
                         "better than another. Train further, or export without --calibrate")
    onset = best(table, "note_f1", "onset")["onset"]
    frame_rows = [{"onset": onset, "frame": f, **_mean_scores(items, onset, f, fps)} for f in grid]
    frame = best(frame_rows, "frame_f1", "frame")["frame"]
    table += [r for r in frame_rows if r["frame"] != default_frame]
    for row in table:
        log.info("onset %.2f frame %.2f: note F1 %.4f frame F1 %.4f note+offset F1 %.4f", row["onset"],
                 row["frame"], row["note_f1"], row["frame_f1"], row["note_offset_f1"])
    table = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
              if k in ("onset", "frame", "note_f1", "frame_f1", "note_offset_f1", "note_offset_velocity_f1")}
             for r in table]
    return {"onset_threshold": onset, "frame_threshold": frame, "table": table}
