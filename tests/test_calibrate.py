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
    rows = {(r["onset"], r["frame"], r["min_note_ms"]): r for r in chosen["table"]}
    assert chosen["min_note_ms"] == 0  # every length scores the same: the shortest (keep all notes)
    best = rows[(chosen["onset_threshold"], chosen["frame_threshold"], 0)]
    assert best["note_f1"] == 1.0 and best["frame_f1"] > 0.95
    assert rows[(0.4, 0.4, 0)]["note_f1"] == 0.0  # the defaults would miss every note


def test_an_untrained_model_is_not_calibrated_silently():
    import pytest

    rolls, reference = weak_onset_rolls()
    silent = {k: np.zeros_like(v) for k, v in rolls.items()}
    with pytest.raises(ValueError, match="untrained"):
        choose_thresholds([(silent, reference)], FPS)


def test_thresholds_that_write_notes_on_noise_are_not_chosen():
    """A weak onset (0.3) scores a little better at a low threshold, but the same threshold
    writes a note on note-free audio (a 0.42 onset on hum): calibration gives up the weak note
    to stay quiet -- as long as that costs little (QUIET_F1_TOLERANCE)."""
    rolls, reference = [], []
    for piece in range(30):  # 30 pieces; one weak onset in one of them
        r, ref = weak_onset_rolls()
        r["onset"][r["onset"] == 0.33] = 0.6
        if piece == 0:
            r["onset"][10, 30] = 0.3
        rolls.append(r)
        reference.append(ref)
    items = list(zip(rolls, reference))
    quiet = {k: np.zeros_like(v) for k, v in rolls[0].items()}
    quiet["onset"][100, 5] = 0.42
    quiet["frame"][100:110, 5] = 0.5
    loud = choose_thresholds(items, FPS)
    assert loud["onset_threshold"] <= 0.3  # without the constraint: every note, and the noise note
    chosen = choose_thresholds(items, FPS, quiet=[quiet])
    assert chosen["onset_threshold"] > 0.42
    rows = {(r["onset"], r["frame"], r["min_note_ms"]): r for r in chosen["table"]}
    assert rows[(chosen["onset_threshold"], chosen["frame_threshold"], 0)]["quiet_notes"] == 0
    assert rows[(loud["onset_threshold"], 0.4, 0)]["quiet_notes"] == 1
    # Not at any price: when the weak onsets are all the notes, staying quiet would lose them all.
    weak = [weak_onset_rolls()]
    assert choose_thresholds(weak, FPS, quiet=[quiet])["onset_threshold"] <= 0.33


def test_a_minimum_note_length_is_chosen_when_it_silences_blips_at_little_cost():
    """Hum starting at 0 s gives a strong one-frame onset blip on note-free audio, which no
    threshold in the grid removes; dropping notes under 40-60 ms does, and costs one short
    reference note in 30 pieces. When short notes are most of the music, it is not chosen."""
    items = []
    for piece in range(30):
        r, ref = weak_onset_rolls()
        r["onset"][r["onset"] == 0.33] = 0.9
        if piece == 0:  # one real 40 ms note
            r["onset"][280, 60], r["frame"][280:282, 60] = 0.9, 0.9
            ref.append(Note(280 / FPS, 282 / FPS, 81, 64))
        items.append((r, ref))
    quiet = {k: np.zeros_like(v) for k, v in items[0][0].items()}
    quiet["onset"][0, 10], quiet["frame"][0, 10] = 0.95, 0.95
    assert choose_thresholds(items, FPS)["min_note_ms"] == 0  # nothing to gain without note-free audio
    chosen = choose_thresholds(items, FPS, quiet=[quiet])
    # 40 ms drops the 20 ms blip, but a notch looser (20 ms) keeps it: 60 ms has the margin
    assert chosen["min_note_ms"] == 60
    rows = {(r["onset"], r["frame"], r["min_note_ms"]): r for r in chosen["table"]}
    assert rows[(chosen["onset_threshold"], chosen["frame_threshold"], 40)]["quiet_notes"] == 0
    assert rows[(chosen["onset_threshold"], chosen["frame_threshold"], 40)]["quiet_margin_notes"] == 1
    assert rows[(chosen["onset_threshold"], chosen["frame_threshold"], 60)]["quiet_margin_notes"] == 0
    # Short notes everywhere: dropping them would cost far more than the tolerance.
    short = []
    for r, ref in items:
        r = {k: v.copy() for k, v in r.items()}
        r["frame"][:] = np.where(r["onset"] > 0.5, r["onset"], 0)  # every note one frame long
        short.append((r, [Note(n.start, n.start + 1 / FPS, n.pitch, n.velocity) for n in ref]))
    assert choose_thresholds(short, FPS, quiet=[quiet])["min_note_ms"] == 0


def test_of_equally_quiet_thresholds_the_one_with_margin_is_chosen():
    """Two onset thresholds score nearly the same and write the same notes on note-free audio,
    but just below the lower one the hiss has onset peaks (0.45): other noise will cross it.
    Calibration takes the threshold with margin, as long as it costs little."""
    items = []
    for piece in range(30):
        r, ref = weak_onset_rolls()
        r["onset"][r["onset"] == 0.33] = 0.9
        if piece == 0:  # one reference note only the lower threshold finds
            r["onset"][280, 60], r["frame"][280:290, 60] = 0.55, 0.9
            ref.append(Note(280 / FPS, 290 / FPS, 81, 64))
        items.append((r, ref))
    quiet = {k: np.zeros_like(v) for k, v in items[0][0].items()}
    for t in (50, 120, 200):  # hiss just below 0.5
        quiet["onset"][t, 20], quiet["frame"][t:t + 10, 20] = 0.45, 0.9
    chosen = choose_thresholds(items, FPS, quiet=[quiet])
    assert chosen["onset_threshold"] == 0.6
    rows = {(r["onset"], r["frame"], r["min_note_ms"]): r for r in chosen["table"]}
    assert rows[(0.5, 0.4, 0)]["quiet_notes"] == rows[(0.6, 0.4, 0)]["quiet_notes"] == 0
    assert rows[(0.5, 0.4, 0)]["quiet_margin_notes"] == 3 and rows[(0.6, 0.4, 0)]["quiet_margin_notes"] == 0
    assert rows[(0.5, 0.4, 0)]["note_f1"] > rows[(0.6, 0.4, 0)]["note_f1"]  # what the margin costs
    assert choose_thresholds(items, FPS)["onset_threshold"] == 0.5  # no note-free audio: best F1


def test_near_ties_go_to_the_threshold_nearest_one_half():
    """Frame thresholds whose validation frame F1 differs by less than F1_TIE are a tie, and the
    tie goes to the threshold nearest 0.5, not to whichever scores a hair higher."""
    frames = 1200
    onset, frame, velocity = (np.zeros((frames, 88), np.float32) for _ in range(3))
    reference = []
    for i in range(10):  # ten 2-second notes
        key, start = 30 + i, 10 + 110 * i
        onset[start, key], frame[start:start + 100, key], velocity[start, key] = 0.9, 0.95, 0.5
        reference.append(Note(start / FPS, (start + 100) / FPS, 21 + key, 64))
    frame[10 + 100, 30] = 0.55  # one frame of ringing past the first note: at 0.5, 1 extra frame in 1,000
    chosen = choose_thresholds([({"onset": onset, "frame": frame, "velocity": velocity}, reference)], FPS)
    rows = {(r["onset"], r["frame"]): r for r in chosen["table"] if r["min_note_ms"] == 0}
    at = {f: rows[(chosen["onset_threshold"], f)]["frame_f1"] for f in (0.5, 0.6)}
    assert 0 < at[0.6] - at[0.5] < 0.001
    assert chosen["frame_threshold"] == 0.5


def test_the_f1_given_up_for_quiet_is_bounded_over_all_steps():
    """The onset step gives up 0.43 point of note F1 to stay quiet (three weak notes in one piece
    of 30, against a 0.47 onset blip on hum); a minimum length would silence one more blip for
    another 0.16 point. Together that is more than QUIET_F1_TOLERANCE, so the length stays 0."""
    items = []
    for piece in range(30):
        r, ref = weak_onset_rolls()
        r["onset"][r["onset"] == 0.33] = 0.9
        if piece == 0:  # three notes with weak onsets, found only below 0.5
            for key in (60, 62, 64):
                r["onset"][270, key], r["frame"][270:280, key] = 0.45, 0.9
                ref.append(Note(270 / FPS, 280 / FPS, 21 + key, 64))
        if piece == 1:  # one real one-frame note
            r["onset"][285, 70], r["frame"][285, 70] = 0.9, 0.9
            ref.append(Note(285 / FPS, 286 / FPS, 91, 64))
        items.append((r, ref))
    quiet = {k: np.zeros_like(v) for k, v in items[0][0].items()}
    quiet["onset"][100, 5], quiet["frame"][100:110, 5] = 0.47, 0.9  # removed by onset >= 0.5
    quiet["onset"][0, 10], quiet["frame"][0, 10] = 0.95, 0.95  # removed only by a minimum length
    chosen = choose_thresholds(items, FPS, quiet=[quiet])
    rows = {(r["onset"], r["frame"], r["min_note_ms"]): r for r in chosen["table"]}
    assert chosen["onset_threshold"] >= 0.5
    at = {m: rows[(chosen["onset_threshold"], chosen["frame_threshold"], m)] for m in (0, 40)}
    best = max(r["note_f1"] for r in chosen["table"])
    assert best - at[0]["note_f1"] < 0.005 < best - at[40]["note_f1"]
    assert at[40]["quiet_notes"] < at[0]["quiet_notes"]  # quieter, but over the budget
    assert chosen["min_note_ms"] == 0


def test_a_higher_threshold_on_partials_is_chosen_when_the_false_notes_sit_there():
    """Ten real notes at onset 0.45 with nothing below them, and ten bass notes each writing a
    0.5 onset on its octave, where no key is played: only a partial threshold above 0.5 with an
    onset threshold at most 0.45 keeps all the notes and none of the octaves."""
    frames = 600
    onset, frame, velocity = (np.zeros((frames, 88), np.float32) for _ in range(3))
    reference = []
    for i in range(10):
        start = 10 + 50 * i
        key = 60 + i % 5  # treble notes, nothing sounding below
        onset[start, key], frame[start:start + 20, key] = 0.45, 0.8
        reference.append(Note(start / FPS, (start + 20) / FPS, 21 + key, 64))
        bass = 20 + i % 5
        onset[start + 25, bass], frame[start + 25:start + 45, bass] = 0.9, 0.8
        reference.append(Note((start + 25) / FPS, (start + 45) / FPS, 21 + bass, 64))
        onset[start + 27, bass + 12], frame[start + 27:start + 35, bass + 12] = 0.5, 0.8  # its octave
    chosen = choose_thresholds([({"onset": onset, "frame": frame, "velocity": velocity}, reference)], FPS)
    assert chosen["onset_threshold"] <= 0.45 < 0.5 < chosen["partial_onset_threshold"]
    rows = [r for r in chosen["table"] if r["frame"] == 0.4 and r["min_note_ms"] == 0]
    one_threshold = max(r["note_f1"] for r in rows if r["partial_onset"] == r["onset"])
    assert one_threshold < 0.9 and max(r["note_f1"] for r in rows) == 1.0


def test_with_a_kept_frame_threshold_and_length_only_the_onset_thresholds_are_chosen():
    rolls, reference = weak_onset_rolls()
    chosen = choose_thresholds([(rolls, reference)], FPS, keep={"frame_threshold": 0.3, "min_note_ms": 60.0})
    assert (chosen["frame_threshold"], chosen["min_note_ms"]) == (0.3, 60.0)
    assert {(r["frame"], r["min_note_ms"]) for r in chosen["table"]} == {(0.3, 60.0)}
    assert 0.22 < chosen["onset_threshold"] <= 0.33 and chosen["partial_onset_threshold"] >= chosen["onset_threshold"]
