"""notes -> each format -> notes is lossless up to MIDI tick resolution."""
import numpy as np
import pytest

from hppnet_plugin.adapters import basic_pitch, csv as csv_adapter, kong, midi, note_seq, pretty_midi
from hppnet_plugin.notes import Note
from hppnet_plugin.transcription import Transcription

NOTES = [Note(0.0, 0.5, 21, 1), Note(0.25, 1.3333, 60, 100), Note(0.25, 0.75, 64, 64),
         Note(1.001, 2.5, 108, 127), Note(2.0, 2.02, 72, 33)]
TICK_S = 0.5 / pretty_midi.MIDI_RESOLUTION  # at 120 bpm


def assert_same(notes, expected, time_tol=1e-9):
    assert len(notes) == len(expected)
    for a, b in zip(notes, expected):
        assert (a.pitch, a.velocity) == (b.pitch, b.velocity)
        assert a.start == pytest.approx(b.start, abs=time_tol)
        assert a.end == pytest.approx(b.end, abs=time_tol)


def test_pretty_midi_roundtrip():
    pm = pretty_midi.notes_to_pretty_midi(NOTES)
    assert pm.instruments[0].program == 0 and not pm.instruments[0].is_drum
    assert_same(pretty_midi.pretty_midi_to_notes(pm), NOTES)


def test_midi_file_roundtrip(tmp_path):
    path = midi.write_midi(NOTES, tmp_path / "x.mid")
    assert_same(midi.read_midi(path), NOTES, time_tol=TICK_S)


def test_midi_write_refuses_overwrite_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "x.mid"
    midi.write_midi(NOTES, path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        midi.write_midi(NOTES[:1], path)
    assert path.read_bytes() == before
    midi.write_midi(NOTES[:1], path, overwrite=True)
    assert len(midi.read_midi(path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mid"]


def test_csv_roundtrip(tmp_path):
    path = csv_adapter.write_csv(NOTES, tmp_path / "x.csv")
    assert path.read_text().splitlines()[0] == "start_time_s,end_time_s,pitch_midi,velocity,confidence"
    assert csv_adapter.read_csv(path) == NOTES


def test_basic_pitch_note_events_roundtrip():
    events = basic_pitch.notes_to_note_events(NOTES)
    assert events[1] == (0.25, 1.3333, 60, pytest.approx(100 / 127), None)
    assert basic_pitch.note_events_to_notes(events) == NOTES


def test_kong_events_roundtrip():
    events = kong.notes_to_kong_events(NOTES)
    assert set(events[0]) == {"onset_time", "offset_time", "midi_note", "velocity", "confidence"}  # Kong's + ours
    assert kong.kong_events_to_notes(events) == NOTES


def test_note_sequence_roundtrip_keeps_velocity():
    pytest.importorskip("note_seq")
    ns = note_seq.notes_to_note_sequence(NOTES)
    assert ns.total_time == pytest.approx(2.5)
    assert [n.velocity for n in ns.notes] == [n.velocity for n in NOTES]
    assert_same(note_seq.note_sequence_to_notes(ns), NOTES, time_tol=1e-6)
    from note_seq import midi_io

    back = note_seq.note_sequence_to_notes(midi_io.midi_to_note_sequence(midi_io.note_sequence_to_pretty_midi(ns)))
    assert_same(back, NOTES, time_tol=1 / 440)


def test_transcription_shortcuts(tmp_path):
    result = Transcription(notes=list(reversed(NOTES)), duration=3.0)
    assert result.notes == NOTES  # sorted
    assert_same(pretty_midi.pretty_midi_to_notes(result.to_pretty_midi()), NOTES)
    result.write_midi(tmp_path / "r.mid")
    result.write_csv(tmp_path / "r.csv")
    assert csv_adapter.read_csv(tmp_path / "r.csv") == NOTES
    assert result.to_kong_events()[0]["midi_note"] == 21


def test_note_validation():
    with pytest.raises(ValueError, match="start < end"):
        Note(1.0, 1.0, 60, 64)
    with pytest.raises(ValueError, match="velocity must be 1..127"):
        Note(0.0, 1.0, 60, 0)
    with pytest.raises(ValueError, match="finite"):
        Note(0.0, np.inf, 60, 64)


def test_written_files_get_normal_permissions(tmp_path):
    import os
    import stat

    path = csv_adapter.write_csv(NOTES, tmp_path / "p.csv")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_note_sequence_output_prints_no_third_party_warnings():
    import subprocess
    import sys

    pytest.importorskip("note_seq")
    code = ("from hppnet_plugin import Note; from hppnet_plugin.adapters.note_seq import notes_to_note_sequence; "
            "print(len(notes_to_note_sequence([Note(0.0, 1.0, 60, 80)]).notes))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1" and "ffmpeg" not in result.stderr, result.stderr
