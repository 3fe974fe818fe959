import numpy as np
import pytest

from hppnet_plugin.decoding import NoteDecoder, decode_rolls
from hppnet_plugin.notes import Note


def rolls(n_frames=50):
    return np.zeros((n_frames, 88)), np.zeros((n_frames, 88)), np.full((n_frames, 88), 0.5)


def test_onset_peak_starts_note_and_frame_threshold_ends_it():
    onset, frame, velocity = rolls()
    onset[9:12, 39] = [0.5, 0.9, 0.6]  # peak at frame 10 (C4 = key 39)
    frame[10:20, 39] = 0.8
    velocity[10, 39] = 100 / 128
    assert decode_rolls(onset, frame, velocity) == [Note(0.2, 0.4, 60, 100)]


def test_below_threshold_and_non_peak_onsets_are_ignored():
    onset, frame, velocity = rolls()
    onset[5, 0] = 0.39
    frame[5:9, 0] = 0.9
    assert decode_rolls(onset, frame, velocity) == []


def test_repeated_onset_splits_note():
    onset, frame, velocity = rolls()
    onset[5, 0], onset[15, 0] = 0.9, 0.9
    frame[5:25, 0] = 0.9
    notes = decode_rolls(onset, frame, velocity)
    assert [(n.start, n.end) for n in notes] == [(0.1, 0.3), (0.3, 0.5)]


def test_velocity_is_clamped_to_midi_range():
    onset, frame, velocity = rolls()
    onset[5, 0], onset[5, 1] = 0.9, 0.9
    frame[5:8, :2] = 0.9
    velocity[5, 0], velocity[5, 1] = 0.0, 1.0
    assert sorted(n.velocity for n in decode_rolls(onset, frame, velocity)) == [1, 127]


def test_note_sounding_at_the_end_is_closed():
    onset, frame, velocity = rolls(20)
    onset[15, 3] = 0.9
    frame[15:, 3] = 0.9
    (note,) = decode_rolls(onset, frame, velocity)
    assert note.start == pytest.approx(0.3) and note.end == pytest.approx(0.4)


def test_streaming_in_any_blocks_equals_whole():
    rng = np.random.default_rng(1)
    onset = rng.random((400, 88)) ** 6
    frame = rng.random((400, 88))
    velocity = rng.random((400, 88))
    whole = decode_rolls(onset, frame, velocity)
    assert len(whole) > 100
    decoder, i = NoteDecoder(), 0
    while i < 400:
        size = int(rng.integers(1, 37))
        decoder.push(onset[i:i + size], frame[i:i + size], velocity[i:i + size])
        i += size
    assert decoder.finish() == whole


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="share one"):
        decode_rolls(np.zeros((5, 88)), np.zeros((4, 88)), np.zeros((5, 88)))
