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


@pytest.mark.parametrize("min_note_ms", [0.0, 60.0])
def test_streaming_in_any_blocks_equals_whole(min_note_ms):
    rng = np.random.default_rng(1)
    onset = rng.random((400, 88)) ** 6
    frame = rng.random((400, 88))
    velocity = rng.random((400, 88))
    whole = decode_rolls(onset, frame, velocity, min_note_ms=min_note_ms)
    assert len(whole) > 100
    decoder, i = NoteDecoder(min_note_ms=min_note_ms), 0
    while i < 400:
        size = int(rng.integers(1, 37))
        decoder.push(onset[i:i + size], frame[i:i + size], velocity[i:i + size])
        i += size
    assert decoder.finish() == whole


def test_notes_shorter_than_the_minimum_length_are_dropped():
    """A one-frame blip where hum starts at 0 s goes; a 60 ms note and a long one stay, also
    when a note is still sounding at the end of the audio."""
    onset, frame, velocity = rolls()
    onset[0, 10], frame[0, 10] = 0.9, 0.9  # 20 ms blip at the very start
    onset[5, 20], frame[5:8, 20] = 0.9, 0.9  # 60 ms
    onset[10, 30], frame[10:30, 30] = 0.9, 0.9  # 400 ms
    onset[48, 40], frame[48:, 40] = 0.9, 0.9  # 40 ms, cut by the end of the audio
    assert len(decode_rolls(onset, frame, velocity)) == 4
    kept = decode_rolls(onset, frame, velocity, min_note_ms=60)
    assert [(n.pitch, round(n.duration, 3)) for n in kept] == [(41, 0.06), (51, 0.4)]
    assert len(decode_rolls(onset, frame, velocity, min_note_ms=40)) == 3
    with pytest.raises(ValueError, match="min_note_ms"):
        NoteDecoder(min_note_ms=-1)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="share one"):
        decode_rolls(np.zeros((5, 88)), np.zeros((4, 88)), np.zeros((5, 88)))


def octave_over_struck_key(upper_onset, upper_frame=21):
    """C3 (key 27) struck at frame 20 and sounding to frame 45; an onset of `upper_onset` on C4
    (key 39, its 2nd harmonic) at `upper_frame`, and the same onset on C#4 (key 40, on no
    partial of C3)."""
    onset, frame, velocity = rolls()
    onset[20, 27] = 0.9
    frame[20:45, 27] = 0.9
    for key in (39, 40):
        onset[upper_frame, key] = upper_onset
        frame[upper_frame:upper_frame + 10, key] = 0.9
    return onset, frame, velocity


def test_an_onset_on_a_partial_of_a_key_being_struck_needs_the_partial_threshold():
    onset, frame, velocity = octave_over_struck_key(0.5)
    pitches = lambda notes: sorted(n.pitch for n in notes)  # noqa: E731
    assert pitches(decode_rolls(onset, frame, velocity, 0.4, 0.5)) == [48, 60, 61]
    # On the octave of C3 as it is struck an onset of 0.5 is not enough; beside it, it is.
    assert pitches(decode_rolls(onset, frame, velocity, 0.4, 0.5, partial_onset_threshold=0.6)) == [48, 61]
    # C3 struck 40 ms after C4, or C3 not sounding: C4 is an ordinary key.
    onset, frame, velocity = octave_over_struck_key(0.5, upper_frame=18)
    assert pitches(decode_rolls(onset, frame, velocity, 0.4, 0.5, partial_onset_threshold=0.6)) == [48, 60, 61]
    onset, frame, velocity = octave_over_struck_key(0.5)
    frame[19:45, 27] = 0.0
    assert 60 in pitches(decode_rolls(onset, frame, velocity, 0.4, 0.5, partial_onset_threshold=0.6))


def test_a_key_struck_over_a_sustaining_one_keeps_the_ordinary_threshold():
    # C3 struck 60 ms before C4 and still sounding: C4 is not a partial's false onset.
    onset, frame, velocity = octave_over_struck_key(0.5, upper_frame=23)
    pitches = sorted(n.pitch for n in decode_rolls(onset, frame, velocity, 0.4, 0.5, partial_onset_threshold=0.6))
    assert pitches == [48, 60, 61]


def test_partial_threshold_streams_like_the_whole_rolls():
    rng = np.random.default_rng(2)
    onset = rng.random((400, 88)) ** 4
    frame = rng.random((400, 88))
    velocity = rng.random((400, 88))
    whole = decode_rolls(onset, frame, velocity, 0.3, 0.5, partial_onset_threshold=0.6)
    assert len(whole) < len(decode_rolls(onset, frame, velocity, 0.3, 0.5))
    decoder, i = NoteDecoder(0.3, 0.5, partial_onset_threshold=0.6), 0
    while i < 400:
        size = int(rng.integers(1, 37))
        decoder.push(onset[i:i + size], frame[i:i + size], velocity[i:i + size])
        i += size
    assert decoder.finish() == whole
