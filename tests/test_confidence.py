"""Per-note confidence: the onset peak's probability, carried through notes, CSV, Kong events and
the manifest, and measured (how often each confidence was wrong) by evaluate and export."""
import json

import numpy as np
import pytest

from hppnet_plugin.adapters.csv import read_csv, write_csv
from hppnet_plugin.adapters.kong import kong_events_to_notes, notes_to_kong_events
from hppnet_plugin.decoding import decode_rolls
from hppnet_plugin.notes import Note
from hppnet_plugin.training.metrics import confidence_counts, confidence_table


def test_confidence_is_the_onset_peak_probability():
    onset, frame, velocity = (np.zeros((40, 88), np.float32) for _ in range(3))
    onset[5, 39], onset[6, 39], onset[7, 39] = 0.5, 0.93, 0.4  # a peak at frame 6
    onset[20, 50] = 0.61
    frame[5:15, 39] = frame[20:30, 50] = 0.9
    velocity[:] = 0.5
    notes = decode_rolls(onset, frame, velocity, 0.45, 0.5)
    assert [(n.pitch, n.confidence) for n in notes] == [(60, pytest.approx(0.93)), (71, pytest.approx(0.61))]
    # Split into blocks, the streaming decoder gives the same confidences.
    from hppnet_plugin.decoding import NoteDecoder

    decoder = NoteDecoder(0.45, 0.5)
    for a in range(0, 40, 7):
        decoder.push(onset[a:a + 7], frame[a:a + 7], velocity[a:a + 7])
    assert [n.confidence for n in decoder.finish()] == [n.confidence for n in notes]


def test_confidence_is_not_part_of_a_notes_identity():
    assert Note(0.5, 1.0, 60, 80, 0.9) == Note(0.5, 1.0, 60, 80, 0.2) == Note(0.5, 1.0, 60, 80)
    assert sorted([Note(0.5, 1.0, 60, 80, 0.9), Note(0.5, 1.0, 60, 80)]) is not None  # None orders too
    with pytest.raises(ValueError, match="confidence must be 0..1"):
        Note(0.5, 1.0, 60, 80, 1.5)


def test_csv_and_kong_events_carry_confidence(tmp_path):
    notes = [Note(0.5, 1.0, 60, 80, 0.875), Note(1.0, 2.0, 64, 70)]
    write_csv(notes, tmp_path / "a.csv")
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "start_time_s,end_time_s,pitch_midi,velocity,confidence"
    assert [n.confidence for n in read_csv(tmp_path / "a.csv")] == [0.875, None]
    (tmp_path / "old.csv").write_text("start_time_s,end_time_s,pitch_midi,velocity\n0.5,1.0,60,80\n")
    assert read_csv(tmp_path / "old.csv")[0].confidence is None  # basic-pitch-style CSVs still read
    events = notes_to_kong_events(notes)
    assert [e["confidence"] for e in events] == [0.875, None]
    assert [n.confidence for n in kong_events_to_notes(events)] == [0.875, None]


def test_manifest_rows_summarise_confidence(tmp_path):
    from hppnet_plugin import transcribe_collection
    from hppnet_plugin.jobs import read_manifest

    import hppnet_plugin

    example = hppnet_plugin.__file__.replace("__init__.py", "examples/bach-bwv361.flac")
    rows = transcribe_collection([example], output_dir=tmp_path, formats="csv", model="hppnet-tiny",
                                 manifest=tmp_path / "m.jsonl", progress=False, threads=1)
    row = read_manifest(tmp_path / "m.jsonl")[0]
    assert row == json.loads(json.dumps(rows[0]))
    notes = read_csv(tmp_path / "bach-bwv361.csv")
    values = [n.confidence for n in notes]
    assert row["notes"] == len(values) > 50 and all(v is not None for v in values)
    assert row["confidence_mean"] == pytest.approx(np.mean(values), abs=1e-4)
    assert row["low_confidence_fraction"] == pytest.approx(np.mean([v < 0.5 for v in values]), abs=1e-4)


def test_confidence_table_counts_wrong_notes_per_bin():
    reference = [Note(1.0, 1.5, 60, 80), Note(2.0, 2.5, 62, 80)]
    transcribed = [Note(1.01, 1.5, 60, 80, 0.95), Note(2.0, 2.5, 62, 80, 0.55), Note(3.0, 3.5, 70, 80, 0.52),
                   Note(4.0, 4.5, 71, 80, 0.3)]
    table = confidence_table(confidence_counts(reference, transcribed))
    assert table == {"0.0-0.5": {"notes": 1, "wrong_fraction": 1.0}, "0.5-0.6": {"notes": 2, "wrong_fraction": 0.5},
                     "0.9-1.0": {"notes": 1, "wrong_fraction": 0.0}}
    assert confidence_counts(reference, [Note(1.0, 1.5, 60, 80)]) == {}  # no confidences, no table
