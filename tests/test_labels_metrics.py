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
