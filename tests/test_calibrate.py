"""Threshold calibration on validation rolls picks thresholds that score better than the defaults."""
import numpy as np

from hppnet_plugin.notes import Note
from hppnet_plugin.training.calibrate import choose_thresholds

FPS = 50.0


def weak_onset_rolls():
    """Ten notes whose onset probability peaks at 0.33 (below the default 0.4) and whose
    frame probability is 0.45 while sounding, plus a spurious 0.22 onset blip."""
    frames = 300
    onset, frame, velocity = (np.zeros((frames, 88), np.float32) for _ in range(3))
    reference = []
    for i in range(10):
        key, start = 30 + i, 10 + 25 * i
        onset[start, key] = 0.33
        frame[start:start + 20, key] = 0.45
        velocity[start, key] = 0.5
        reference.append(Note(start / FPS, (start + 20) / FPS, 21 + key, 64))
    onset[150, 70] = 0.22
    return {"onset": onset, "frame": frame, "velocity": velocity}, reference


def test_thresholds_are_chosen_for_note_then_frame_f1():
    rolls, reference = weak_onset_rolls()
    chosen = choose_thresholds([(rolls, reference)], FPS)
    assert 0.22 < chosen["onset_threshold"] <= 0.33  # finds the notes, rejects the blip
    assert chosen["frame_threshold"] <= 0.45
    rows = {(r["onset"], r["frame"]): r for r in chosen["table"]}
    best = rows[(chosen["onset_threshold"], chosen["frame_threshold"])]
    assert best["note_f1"] == 1.0 and best["frame_f1"] > 0.95
    assert rows[(0.4, 0.4)]["note_f1"] == 0.0  # the defaults would miss every note


def test_an_untrained_model_is_not_calibrated_silently():
    import pytest

    rolls, reference = weak_onset_rolls()
    silent = {k: np.zeros_like(v) for k, v in rolls.items()}
    with pytest.raises(ValueError, match="untrained"):
        choose_thresholds([(silent, reference)], FPS)
