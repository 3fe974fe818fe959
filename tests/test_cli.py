import subprocess
import sys

import pytest

from hppnet_plugin.adapters.csv import read_csv
from hppnet_plugin.adapters.midi import read_midi
from hppnet_plugin.cli import main


def test_transcribe_folder_with_formats_and_plot(wav_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    code = main(["transcribe", str(wav_file.parent), "-o", str(out), "--model", "hppnet-tiny",
                 "--format", "mid,csv,npz", "--plot", "--quiet"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["tone.csv", "tone.mid", "tone.png", "tone.rolls.npz"]
    pitches = [n.pitch for n in read_csv(out / "tone.csv")]
    assert 60 in pitches  # the shipped weights hear the fixture's C4 ...
    assert pitches == [n.pitch for n in read_midi(out / "tone.mid")]  # ... and both formats say so
    assert (out / "tone.png").read_bytes()[:4] == b"\x89PNG"
    assert "1 of 1 files transcribed" in capsys.readouterr().err


def test_no_silent_overwrite_and_per_file_errors(tiny_checkpoint, wav_file, tmp_path, capsys):
    options = ["--model", "hppnet-tiny", "--checkpoint", str(tiny_checkpoint), "--quiet"]
    args = ["transcribe", str(wav_file)] + options
    assert main(args) == 0
    midi_path = wav_file.with_suffix(".mid")
    before = midi_path.read_bytes()
    missing = tmp_path / "missing.wav"
    assert main(["transcribe", str(wav_file), str(missing)] + options) == 1  # existing output + a missing input: both reported
    err = capsys.readouterr().err
    assert "output exists" in err and "--overwrite" in err
    assert "missing.wav" in err and "not found" in err
    assert midi_path.read_bytes() == before
    assert main(args + ["--overwrite"]) == 0


def test_bad_format_and_unknown_model(wav_file, capsys):
    assert main(["transcribe", str(wav_file), "--format", "mp4"]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main(["transcribe", str(wav_file), "--model", "nope"]) == 2
    assert "unknown transcriber 'nope'" in capsys.readouterr().err


def test_list_shows_backends():
    out = subprocess.run([sys.executable, "-m", "hppnet_plugin.cli", "list"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "hppnet-tiny" in out.stdout and "basic-pitch" in out.stdout
    from hppnet_plugin.weights import SHIPPED, WEIGHTS_DIR

    for name, filename in SHIPPED.items():  # the backend's own note, not a table the CLI reads
        line = next(row for row in out.stdout.splitlines() if row.startswith(name + " "))
        assert ("no shipped weights" in line) == (not (WEIGHTS_DIR / filename).exists()), line


def test_list_marks_the_default_and_version_prints(capsys):
    from hppnet_plugin import __version__
    from hppnet_plugin.weights import best_shipped_name

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line.split()[0] for line in lines if line.endswith("[default]")]
    assert marked == [best_shipped_name()]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"hppnet-plugin {__version__}"


def test_output_dir_that_is_a_file_stops_before_loading(wav_file, tmp_path, capsys, monkeypatch):
    from hppnet_plugin import registry

    monkeypatch.setattr(registry, "load_transcriber", lambda *a, **k: pytest.fail("loaded a model"))
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(["transcribe", str(wav_file), "-o", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "is an existing file" in err and "Traceback" not in err and "Errno" not in err
    assert afile.read_text() == "keep me"


def test_missing_optional_dependency_stops_before_any_work(wav_file, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    out = tmp_path / "out"
    assert main(["transcribe", str(wav_file), "-o", str(out), "--plot", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--plot needs the plot extra" in err and "pip install '.[plot]'" in err
    assert not out.exists() or not any(out.iterdir())  # nothing written, nothing reported as failed


def test_plot_rows_note_names_and_a_bounded_width():
    """Long files become rows of 30 s (taller, never wider); the axis names every C."""
    pytest.importorskip("matplotlib")
    import io

    import numpy as np
    from PIL import Image

    from hppnet_plugin import Note, Transcription
    from hppnet_plugin.plot import note_name, pitch_range, plot_transcription

    assert [note_name(p) for p in (21, 60, 61, 108)] == ["A0", "C4", "C#4", "C8"]
    assert pitch_range([Note(0, 1, 62, 80), Note(1, 2, 77, 80)]) == (60, 83)  # whole octaves, >= 2
    sizes = {}
    for seconds in (12, 95, 900):
        notes = [Note(t, t + 0.3, 48 + int(t) % 30, 20 + int(7 * t) % 100) for t in np.arange(0, seconds, 0.5)]
        buffer = io.BytesIO()
        plot_transcription(Transcription(notes=notes, duration=float(seconds), transcriber="x"), buffer,
                           title="piece.flac")
        sizes[seconds] = Image.open(io.BytesIO(buffer.getvalue())).size
    assert all(w <= 1500 for w, _ in sizes.values())
    assert sizes[12][1] < sizes[95][1] < sizes[900][1] <= 20 * sizes[12][1]  # 1, 4 and 20 rows (10 min cap)
