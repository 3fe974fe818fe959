import sys
from pathlib import Path

import pytest

import hppnet_plugin
from hppnet_plugin.basic_pitch import predict


def test_predict_has_basic_pitchs_shape(wav_file):
    model_output, midi_data, note_events = predict(wav_file, "hppnet-tiny", minimum_note_length=0)
    assert set(model_output) == {"note", "onset", "velocity"}
    assert model_output["note"].shape == (101, 88)
    assert 60 in [event[2] for event in note_events]  # the fixture's C4, from the shipped weights
    assert len(note_events) == len(midi_data.instruments[0].notes)
    for start, end, pitch, amplitude, bends in note_events:
        assert 0 <= start < end and 21 <= pitch <= 108 and 0 < amplitude <= 1 and bends is None
    _, _, filtered = predict(wav_file, "hppnet-tiny", minimum_note_length=1e9)
    assert filtered == []
    with pytest.raises(KeyError, match="no pitch-contour head"):
        model_output["contour"]


def test_minimum_note_length_replaces_the_weights_own(tmp_path):
    """Weights may store a minimum note length (export --calibrate); predict keeps to it by
    default, and minimum_note_length=0 asks for every note, as it does in basic-pitch."""
    import soundfile as sf
    import torch

    from hppnet_plugin.weights import WEIGHTS_DIR

    example = Path(hppnet_plugin.__file__).with_name("examples") / "bach-bwv361.flac"
    audio, rate = sf.read(example, frames=4 * 16000, dtype="float32")
    data = torch.load(WEIGHTS_DIR / "hppnet-tiny.pt", weights_only=True)
    data["config"]["min_note_ms"] = 1e9
    strict = tmp_path / "strict.pt"
    torch.save(data, strict)
    everything = predict(audio, WEIGHTS_DIR / "hppnet-tiny.pt", minimum_note_length=0, sample_rate=rate)[2]
    assert len(everything) > 5
    assert predict(audio, strict, sample_rate=rate)[2] == []
    assert predict(audio, strict, minimum_note_length=0, sample_rate=rate)[2] == everything
    with pytest.raises(ValueError, match="minimum_note_length must be >= 0"):
        predict(audio, strict, minimum_note_length=-5, sample_rate=rate)


@pytest.mark.parametrize("option", [{"multiple_pitch_bends": True}, {"melodia_trick": True},
                                    {"melodia_trick": False}, {"debug_file": "debug.json"}])
def test_predict_refuses_basic_pitch_options_it_cannot_honour(tiny_checkpoint, wav_file, option):
    with pytest.raises(ValueError, match="cannot honour " + list(option)[0]):
        predict(wav_file, tiny_checkpoint, **option)


def test_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "basic_pitch", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'hppnet-plugin\[basic-pitch\]'"):
        hppnet_plugin.load_transcriber("basic-pitch")


def test_hppnet_only_options_are_refused_not_ignored():
    """An option basic-pitch has no use for (precision, threads) is an error naming it."""
    with pytest.raises(ValueError, match=r"'basic-pitch' does not take option\(s\) \['precision'\]"):
        hppnet_plugin.load_transcriber("basic-pitch", precision="bf16", device="cpu")


def test_basic_pitch_backend_transcribes(wav_file):
    pytest.importorskip("basic_pitch", reason="optional extra: pip install 'hppnet-plugin[basic-pitch]'")
    t = hppnet_plugin.load_transcriber("basic-pitch")
    result = t.transcribe(wav_file)
    assert result.transcriber == "basic-pitch"
    assert 60 in [n.pitch for n in result.notes]  # the C4 tone, at its pitch


def test_listing_reports_a_missing_extra(monkeypatch):
    import importlib.util

    from hppnet_plugin import registry

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "basic_pitch" else real(name, *a))
    with pytest.warns(RuntimeWarning, match="basic-pitch"):
        rows = {name: (ok, message) for name, ok, message in registry.check_transcribers()}
    assert rows["basic-pitch"][0] is False and "hppnet-plugin[basic-pitch]" in rows["basic-pitch"][1]
    assert rows["hppnet-tiny"][0] is True


def test_basic_pitch_refuses_a_device_it_cannot_choose():
    with pytest.raises(ValueError, match="cannot run on device='cuda:1'"):
        hppnet_plugin.load_transcriber("basic-pitch", device="cuda:1")


def test_basic_pitchs_model_argument_means_hppnet(tmp_path, monkeypatch):
    """Code written for basic-pitch passes ICASSP_2022_MODEL_PATH (or a model file or loaded
    Model): predict runs the default HPPNet variant on it instead of failing on the name."""
    import soundfile as sf

    import hppnet_plugin.basic_pitch as bp

    from hppnet_plugin import registry

    loaded = []
    original = registry.load_transcriber
    monkeypatch.setattr(registry, "load_transcriber", lambda name=None, **kw: loaded.append(name) or original("hppnet-tiny", **kw))
    bp._TRANSCRIBERS.clear()
    example = Path(hppnet_plugin.__file__).with_name("examples") / "bach-bwv361.flac"
    audio, rate = sf.read(example, frames=3 * 16000, dtype="float32")
    saved_model = tmp_path / "saved_models" / "icassp_2022" / "nmp"
    saved_model.mkdir(parents=True)
    (saved_model / "saved_model.pb").write_bytes(b"")
    for model in (saved_model, str(saved_model), tmp_path / "nmp.onnx", tmp_path / "nmp.tflite"):
        events = predict(audio, model, sample_rate=rate)[2]
        assert len(events) > 3  # real notes from HPPNet, not an error
    assert loaded == [None]  # the default variant, loaded once for all four calls
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unknown transcriber"):
        predict(audio, "no-such-model", sample_rate=rate)


def test_predict_reuses_the_loaded_transcriber(monkeypatch):
    import hppnet_plugin.basic_pitch as bp
    from hppnet_plugin import registry

    loads = []
    original = registry.load_transcriber
    monkeypatch.setattr(registry, "load_transcriber", lambda name=None, **kw: loads.append((name, kw)) or original(name, **kw))
    bp._TRANSCRIBERS.clear()
    example = Path(hppnet_plugin.__file__).with_name("examples") / "bach-bwv361.flac"
    first = predict(example, "hppnet-tiny")[2]
    assert predict(example, "hppnet-tiny")[2] == first
    predict(example, "hppnet-tiny", onset_threshold=0.7)
    assert [name for name, _ in loads] == ["hppnet-tiny", "hppnet-tiny"]  # new options: a new load
    assert predict(example, "hppnet-tiny", minimum_note_length=1e9)[2] == []
    assert predict(example, "hppnet-tiny")[2] == first  # a cached transcriber keeps its own length
