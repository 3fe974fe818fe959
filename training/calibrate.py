"""Decoding thresholds chosen on the validation split (never on a test split).

The model's probabilities are computed once per validation piece; decoding and
mir_eval scoring are then repeated over a grid of thresholds. First the two onset thresholds,
for the best mean note F1: the one of keys on a partial of a key being struck
(``partial_onset_threshold``, at least the other) and the one of every other key. Then the frame
threshold, for the best mean frame F1 given those; then the minimum note length (MIN_NOTE_GRID)
for the best mean note F1. Last, the onset pair again at that frame threshold and length: the
frame threshold decides which keys count as sounding. With ``keep``, the frame threshold and the
length are given (those the weights already have) and only the onset pair is chosen, at them.
Scores within F1_TIE of the best are a tie (ten pieces cannot tell them apart), and a tie goes
to the threshold nearest 0.5, the decision boundary the losses train for (for the onset, then
to one threshold for all keys), and to the shortest minimum length.

With ``quiet`` rolls (the model on note-free audio: silence, hiss, rumble, hum), the
candidates are the thresholds within QUIET_F1_TOLERANCE of the best validation score, and of
those the ones writing the fewest notes on the quiet audio: a lower onset threshold can buy a
little validation F1 with notes on room noise, which real recordings are full of. A hard
minimum of notes is too strict: it can push the onset threshold far up (to 0.70, at -3.3 points
of validation note F1) for one note fewer in 100 s.
Among settings equally quiet there, the one with the most margin wins: the fewest notes with
every threshold one notch looser (QUIET_MARGIN). The calibration clips are a sample; a
threshold that writes notes on them as soon as it is lowered a notch sits at the edge, and
other noise crosses it (a setting one notch from its first notes on the calibration clips
writes notes on the noise benchmark's).
A minimum note length drops the one- or two-frame notes a model writes where a sound starts or
stops abruptly (hum at the start of a file): 60 ms removes such blips for about -0.1 point of
validation note F1.
"""
from __future__ import annotations

import logging

import numpy as np

from hppnet_plugin.decoding import decode_rolls

from .validation import piece_scores

log = logging.getLogger(__name__)

THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)
MIN_NOTE_GRID = (0.0, 40.0, 60.0, 80.0, 100.0)
"""Minimum note lengths tried, ms (at 50 frames/s: notes of at least 1 to 5 frames); a model's
notes on hum starting at the very start of a file can be 60-80 ms long."""
MIN_CALIBRATION_F1 = 0.05
"""Below this best note F1 the scores say nothing about thresholds (an untrained model)."""


QUIET_BACKGROUNDS = (("silence", None), ("white", -40), ("pink", -30), ("brown", -30), ("hum", -30), ("hum", -20),
                     ("hum+pink", -30))
"""(kind, peak dBFS) of the note-free audio calibration keeps quiet on: the backgrounds of
benchmarks/noise_robustness.py, generated here with other seeds (QUIET_SEEDS)."""
QUIET_SEEDS = (101, 102, 103, 104, 105, 106, 107, 108)
"""Eight clips of each background, as many as the benchmark has: with fewer, a minimum note length
that removes only some of the blips on hum (hum starting at t = 0 is in one clip of four) looks as
quiet as one that removes all of them."""
QUIET_SECONDS = 10.0
QUIET_F1_TOLERANCE = 0.005
"""Validation F1 (mean over pieces) that may be given up for fewer notes on note-free audio; for
note F1, in the onset and the length steps together."""
QUIET_MARGIN = (0.1, 0.1, 20.0)
"""How much looser (onset threshold, frame threshold, minimum length in ms) the margin count
decodes the note-free audio: one notch of each grid."""
F1_TIE = 0.001
"""Mean validation F1 differences below this are ties (step 5,600's frame F1 at frame threshold
0.6 and 0.7: 0.9386 and 0.9387); before, only exact ties went to the threshold nearest 0.5."""


def quiet_audio() -> list:
    """Note-free 16 kHz clips: each background of QUIET_BACKGROUNDS with each seed."""
    from .augment import background_at_peak

    return [background_at_peak(kind, peak_db, QUIET_SECONDS, seed)
            for seed in QUIET_SEEDS for kind, peak_db in QUIET_BACKGROUNDS]


def quiet_notes(quiet, onset_threshold, frame_threshold, fps, min_note_ms: float = 0.0,
                partial_onset_threshold=None) -> int:
    """Notes decoded from the quiet rolls at these thresholds (0 is the goal)."""
    return sum(len(decode_rolls(r["onset"], r["frame"], r["velocity"], onset_threshold, frame_threshold, fps,
                                min_note_ms, partial_onset_threshold))
               for r in quiet)


def _mean_scores(items, onset_threshold, frame_threshold, fps, min_note_ms: float = 0.0,
                 partial_onset_threshold=None) -> dict:
    rows = [piece_scores(rolls, reference, onset_threshold, frame_threshold, fps, min_note_ms,
                         partial_onset_threshold)
            for rolls, reference in items]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def choose_thresholds(items, fps: float, grid=THRESHOLD_GRID, default_frame: float = 0.4, quiet=None,
                      min_note_grid=MIN_NOTE_GRID, keep=None) -> dict:
    """Pick (onset, partial onset, frame) thresholds and a minimum note length on ``items`` (from
    :func:`training.validation.validation_rolls`); with ``quiet`` (rolls of note-free audio),
    among those that write the fewest notes there. With ``keep`` ({"frame_threshold",
    "min_note_ms"}), only the two onset thresholds are chosen, at those.

    Returns {"onset_threshold", "partial_onset_threshold", "frame_threshold", "min_note_ms",
    "table": [{onset, partial_onset, frame, min_note_ms, note_f1, frame_f1, ..., quiet_notes}]}.
    """
    if not items:
        raise ValueError("no validation pieces to calibrate thresholds on")

    def best(rows, key, prefer, reference=None):
        """``reference``: the best score to stay within QUIET_F1_TOLERANCE of (default: these rows'),
        so that note F1 given up for quiet in the onset and length steps adds up to at most that."""
        if quiet is not None:  # the quietest of the settings that score nearly the best, with the most margin
            top = max(r[key] for r in rows) if reference is None else reference
            near = [r for r in rows if r[key] >= top - QUIET_F1_TOLERANCE] or [max(rows, key=lambda r: r[key])]
            fewest = min((r["quiet_notes"], r["quiet_margin_notes"]) for r in near)
            rows = [r for r in near if (r["quiet_notes"], r["quiet_margin_notes"]) == fewest]
        top = max(r[key] for r in rows)
        return min((r for r in rows if r[key] >= top - F1_TIE), key=prefer)

    def row(o, p, f, m=0.0):
        extra = {}
        if quiet is not None:
            looser = (max(0.0, o - QUIET_MARGIN[0]), max(0.0, f - QUIET_MARGIN[1]), max(0.0, m - QUIET_MARGIN[2]))
            extra = {"quiet_notes": quiet_notes(quiet, o, f, fps, m, p),
                     "quiet_margin_notes": quiet_notes(quiet, *looser[:2], fps, looser[2],
                                                       max(0.0, p - QUIET_MARGIN[0]))}
        return {"onset": o, "partial_onset": p, "frame": f, "min_note_ms": m,
                **_mean_scores(items, o, f, fps, m, p), **extra}

    def nearest_half(param):
        return lambda r: abs(r[param] - 0.5)

    def onset_rows(f, m):
        rows = [row(o, p, f, m) for o in grid for p in grid if p >= o]
        if max(r["note_f1"] for r in rows) < MIN_CALIBRATION_F1:
            raise ValueError(f"every onset threshold scores note F1 below {MIN_CALIBRATION_F1} on the "
                             f"{len(items)} validation pieces (best {max(r['note_f1'] for r in rows):.3f}): the "
                             "model is untrained or the validation data has no notes, so no threshold is "
                             "better than another. Train further, or export without --calibrate")
        return rows

    def onsets(rows):
        chosen = best(rows, "note_f1", lambda r: (abs(r["onset"] - 0.5), r["partial_onset"] - r["onset"]))
        return chosen["onset"], chosen["partial_onset"]

    if keep is not None:
        frame, min_note = keep["frame_threshold"], keep["min_note_ms"]
        table = onset_rows(frame, min_note)
        onset, partial = onsets(table)
    else:
        table = onset_rows(default_frame, 0.0)
        onset, partial = onsets(table)
        frame_rows = [row(onset, partial, f) for f in grid]
        frame = best(frame_rows, "frame_f1", nearest_half("frame"))["frame"]
        table += [r for r in frame_rows if r["frame"] != default_frame]
        length_rows = [row(onset, partial, frame, m) for m in min_note_grid]
        min_note = best(length_rows, "note_f1", lambda r: r["min_note_ms"],
                        reference=max(r["note_f1"] for r in table + length_rows))["min_note_ms"]
        table += [r for r in length_rows if r["min_note_ms"] != 0]
        if (frame, min_note) != (default_frame, 0.0):
            # Which keys count as sounding, and so take the partial threshold, depends on the frame
            # threshold: the pair is chosen again at the frame threshold and length chosen.
            again = onset_rows(frame, min_note)
            onset, partial = onsets(again)
            table += [r for r in again if (r["onset"], r["partial_onset"]) not in
                      {(t["onset"], t["partial_onset"]) for t in length_rows}]
    for r in table:
        log.info("onset %.2f (on partials %.2f) frame %.2f min note %g ms: note F1 %.4f frame F1 %.4f "
                 "note+offset F1 %.4f%s", r["onset"], r["partial_onset"], r["frame"], r["min_note_ms"],
                 r["note_f1"], r["frame_f1"], r["note_offset_f1"],
                 f", {r['quiet_notes']} notes on note-free audio ({r['quiet_margin_notes']} a notch looser)"
                 if "quiet_notes" in r else "")
    table = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
              if k in ("onset", "partial_onset", "frame", "min_note_ms", "note_f1", "frame_f1", "note_offset_f1",
                       "note_offset_velocity_f1", "quiet_notes", "quiet_margin_notes")}
             for r in table]
    return {"onset_threshold": onset, "partial_onset_threshold": partial, "frame_threshold": frame,
            "min_note_ms": min_note, "table": table}
