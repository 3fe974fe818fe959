import mir_eval
import numpy as np
import pytest

from hppnet_plugin.decoding import decode_rolls
from hppnet_plugin.notes import Note
from hppnet_plugin.training import metrics as M
from hppnet_plugin.adapters.pretty_midi import apply_sustain, sustain_intervals
from hppnet_plugin.training.labels import notes_to_rolls


def test_rolls_by_hand():
    notes = [Note(0.1, 0.2, 21, 64), Note(0.0, 0.06, 108, 100), Note(0.5, 0.7, 60, 10)]
    r = notes_to_rolls(notes, n_frames=30)
    assert r["onset"].shape == (30, 88)
    assert np.nonzero(r["onset"][:, 0])[0].tolist() == [5]
    assert np.nonzero(r["frame"][:, 0])[0].tolist() == [5, 6, 7, 8, 9]
    assert np.nonzero(r["offset"][:, 0])[0].tolist() == [10]
    assert np.nonzero(r["frame"][:, 87])[0].tolist() == [0, 1, 2]
    assert r["velocity"][5, 0] == 64 and r["velocity"][0, 87] == 100
    # A note crossing the crop end: onset and frames kept, offset falls outside.
    assert np.nonzero(r["frame"][:, 39])[0].tolist() == list(range(25, 30))
    assert r["offset"][:, 39].sum() == 0


def test_note_before_crop_start_is_cut_by_slicing():
    r = notes_to_rolls([Note(0.1, 0.5, 60, 50)], n_frames=40)
    crop = {k: v[10:] for k, v in r.items()}  # a crop starting inside the note
    assert crop["onset"].sum() == 0 and crop["frame"][:15, 39].all()


def test_sustain_extension():
    pedal = sustain_intervals([(0.0, 127), (1.0, 0), (2.0, 100)], end_time=3.0)
    assert pedal == [(0.0, 1.0), (2.0, 3.0)]
    notes = [Note(0.1, 0.3, 60, 50),   # released under pedal -> until pedal up at 1.0
             Note(0.6, 0.8, 60, 50),   # same key again -> first note ends at 0.6
             Note(1.2, 1.5, 62, 50),   # no pedal -> unchanged
             Note(2.1, 2.2, 64, 50)]   # pedal held to the end -> 3.0
    out = apply_sustain(notes, pedal)
    assert [(n.start, n.end) for n in out] == [(0.1, 0.6), (0.6, 1.0), (1.2, 1.5), (2.1, 3.0)]


def test_labels_and_decoding_are_inverse():
    notes = [Note(0.1, 0.5, 40, 64), Note(0.3, 0.34, 41, 100), Note(0.6, 1.0, 40, 20)]
    r = notes_to_rolls(notes, 60)
    decoded = decode_rolls(r["onset"], r["frame"], r["velocity"] / 128.0)
    assert [(n.pitch, n.velocity) for n in decoded] == [(40, 64), (41, 100), (40, 20)]
    assert [round(n.start, 2) for n in decoded] == [0.1, 0.3, 0.6]


def test_metrics_match_mir_eval_directly():
    rng = np.random.default_rng(0)
    ref = [Note(s, s + rng.uniform(0.1, 1.0), int(rng.integers(21, 109)), int(rng.integers(1, 128)))
           for s in np.sort(rng.uniform(0, 10, 60))]
    est = [Note(n.start + rng.normal(0, 0.03), n.end + rng.normal(0, 0.1) + 0.2, n.pitch,
                int(np.clip(n.velocity + rng.normal(0, 10), 1, 127))) for n in ref[5:]]
    est = [n for n in est if n.start >= 0]
    got = M.transcription_metrics(ref, est)
    ri = np.array([[n.start, n.end] for n in ref]); rp = mir_eval.util.midi_to_hz(np.array([n.pitch for n in ref]))
    ei = np.array([[n.start, n.end] for n in est]); ep = mir_eval.util.midi_to_hz(np.array([n.pitch for n in est]))
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)
    assert got["note"] == pytest.approx((p, r, f))
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)
    assert got["note_offset"] == pytest.approx((p, r, f))
    p, r, f, _ = mir_eval.transcription_velocity.precision_recall_f1_overlap(
        ri, rp, np.array([n.velocity for n in ref]), ei, ep, np.array([n.velocity for n in est]))
    assert got["note_offset_velocity"] == pytest.approx((p, r, f))
    assert 0.5 < got["frame"][2] < 1.0
    assert M.transcription_metrics(ref, ref)["frame"] == (1.0, 1.0, 1.0)
    assert M.transcription_metrics(ref, [])["note"] == (0.0, 0.0, 0.0)


def _random_notes(rng, n=60, seconds=20.0):
    from hppnet_plugin.notes import Note

    notes = []
    for _ in range(n):
        start = float(rng.uniform(0, seconds))
        notes.append(Note(round(start, 3), round(start + float(rng.uniform(0.05, 2.0)), 3),
                          int(rng.integers(40, 80)), int(rng.integers(20, 127))))
    return notes


def test_frame_metrics_are_mir_eval_multipitch_and_agree_with_a_direct_count():
    """Frame P/R/F1 come from mir_eval.multipitch (the Onsets and Frames protocol) over the label
    rolls; on the same rolls they equal counting the frames by hand."""
    from hppnet_plugin.training.labels import notes_to_rolls
    from hppnet_plugin.training.metrics import frame_metrics

    rng = np.random.default_rng(4)
    for _ in range(3):
        ref, est = _random_notes(rng), _random_notes(rng)
        est += ref[:30]  # some overlap, so precision and recall are neither 0 nor 1
        p, r, f = frame_metrics(ref, est)
        n = int(np.ceil(max(x.end for x in ref + est) * 50)) + 2
        a, b = (notes_to_rolls(x, n)["frame"].astype(bool) for x in (ref, est))
        tp = int((a & b).sum())
        assert p == pytest.approx(tp / b.sum()) and r == pytest.approx(tp / a.sum())
        assert f == pytest.approx(2 * p * r / (p + r)) and 0.2 < f < 0.9
    assert frame_metrics([], est) == (0.0, 0.0, 0.0) and frame_metrics(ref, []) == (0.0, 0.0, 0.0)


def _without_same_key_overlaps(notes):
    from hppnet_plugin.notes import Note

    notes, out = sorted(notes, key=lambda x: (x.start, x.pitch)), []
    for i, n in enumerate(notes):
        following = [m.start for m in notes[i + 1:] if m.pitch == n.pitch and m.start > n.start]
        end = min([n.end] + [f - 0.01 for f in following[:1]])
        if end - n.start >= 0.02:
            out.append(Note(n.start, round(end, 3), n.pitch, n.velocity))
    return out


def test_sustain_extension_matches_note_seq():
    """Our pedal rule (adapters/pretty_midi.apply_sustain) against note_seq's
    sequences_lib.apply_sustain_control_changes, on random notes and pedalling."""
    note_seq = pytest.importorskip("note_seq", reason="the note-seq extra (pip install 'hppnet-plugin[note-seq]')")
    from note_seq import sequences_lib

    from hppnet_plugin.adapters.pretty_midi import apply_sustain, sustain_intervals

    rng = np.random.default_rng(7)
    for _ in range(5):
        notes = _without_same_key_overlaps(_random_notes(rng, 80))  # as a MIDI file holds them
        pedal, t = [], float(rng.uniform(0, 1))
        while t < 20:
            down = round(t, 3) + 0.0005  # pedal times never coincide with note times
            up = round(down + float(rng.uniform(0.3, 3.0)), 3) + 0.0005
            pedal += [(down, 127), (up, 0)]
            t = up + float(rng.uniform(0.1, 2.0))
        ours = apply_sustain(notes, sustain_intervals(pedal, max(n.end for n in notes)))
        seq = note_seq.NoteSequence()
        for n in notes:
            seq.notes.add(start_time=n.start, end_time=n.end, pitch=n.pitch, velocity=n.velocity)
        for time_s, value in pedal:
            seq.control_changes.add(time=time_s, control_number=64, control_value=value)
        seq.total_time = max(n.end for n in notes)
        theirs = sequences_lib.apply_sustain_control_changes(seq)
        key = lambda x: (round(x[0], 4), x[1], round(x[2], 4))  # noqa: E731
        a = sorted(key((n.start, n.pitch, n.end)) for n in ours)
        b = sorted(key((n.start_time, n.pitch, n.end_time)) for n in theirs.notes)
        assert a == b
