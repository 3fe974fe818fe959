import json

import numpy as np
import pytest
import torch

import hppnet_plugin

from .conftest import SR, piano_like_tone


def test_array_and_file_inputs_give_the_same_notes(tiny_checkpoint, wav_file):
    import soundfile as sf

    t = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, device="cpu")
    from_file = t.transcribe(wav_file, return_rolls=True)
    audio, sr = sf.read(wav_file, dtype="int16")
    from_array = t.transcribe(audio, sample_rate=sr)
    assert from_file.notes == from_array.notes
    assert from_file.duration == pytest.approx(2.0)
    assert from_file.rolls["frame"].shape == (101, 88)
    assert from_file.config["variant"] == "tiny"
    assert all(n.start < n.end for n in from_file.notes)


def test_long_input_is_chunked_without_changing_the_edges(tiny_checkpoint):
    """Windows of 1 s with 2 s context give the same rolls as one big window (the
    bi-LSTM and CQT both see identical context in this short clip)."""
    audio = piano_like_tone(60, 2.0, total_s=3.0, start_s=0.4)
    one = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, chunk_s=10, context_s=0)
    many = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, chunk_s=1, context_s=3,
                                          batch_size=2)
    a = one.transcribe(audio, sample_rate=SR, return_rolls=True)
    b = many.transcribe(audio, sample_rate=SR, return_rolls=True)
    np.testing.assert_allclose(a.rolls["frame"], b.rolls["frame"], atol=1e-4)
    assert a.notes == b.notes


def test_zero_length_and_silence_give_empty_results():
    """The shipped weights on nothing: empty input is an empty result, and two seconds of digital
    silence or faint hiss write no notes (a random model could write some; these must not)."""
    t = hppnet_plugin.load_transcriber("hppnet-tiny", device="cpu")
    assert t.transcribe(np.zeros(0, np.float32), sample_rate=SR).notes == []
    result = t.transcribe(np.zeros(SR * 2, np.float32), sample_rate=SR)
    assert result.notes == [] and result.duration == 2.0
    hiss = np.random.default_rng(0).normal(0, 10 ** (-50 / 20), SR * 2).astype(np.float32)
    assert t.transcribe(hiss, sample_rate=SR).notes == []
    # The same model does write the note when a piano-like tone (decaying, harmonic) sounds.
    notes = t.transcribe(piano_like_tone(60, 1.5, start_s=0.3, total_s=2.0), sample_rate=SR).notes
    assert [n.pitch for n in notes] == [60] and abs(notes[0].start - 0.3) < 0.05


def test_missing_shipped_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr("hppnet_plugin.weights.WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint=PATH"):
        hppnet_plugin.load_transcriber("hppnet-sp")


def test_checksum_mismatch_is_refused(tiny_checkpoint, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes())
    bad.with_suffix(".json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ValueError, match="checksum mismatch.*expected sha256 0000"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=bad)


def test_wrong_shape_checkpoint_is_a_clear_error(tiny_checkpoint, tmp_path):
    data = torch.load(tiny_checkpoint, weights_only=True)
    data["config"]["channels"] = 64  # weights are E=48
    path = tmp_path / "wrong.pt"
    torch.save(data, path)
    with pytest.raises(ValueError, match="does not fit an HPPNet-tiny with E=64"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable PyTorch weight file"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=path)
    with pytest.raises(FileNotFoundError):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tmp_path / "missing.pt")


def test_precision_choice_and_bf16_close_to_fp32(tiny_checkpoint, wav_file):
    from hppnet_plugin.inference import autocast_dtype

    assert autocast_dtype(torch.device("cpu"), "fp32") is None
    assert autocast_dtype(torch.device("cpu"), "bf16") is torch.bfloat16
    # GPUs stay fp32 unless asked: under CUDA bf16 autocast the onset head did not train
    assert autocast_dtype(torch.device("cuda"), "auto") is None
    assert autocast_dtype(torch.device("cuda"), "bf16") is torch.bfloat16
    fp32 = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, precision="fp32")
    bf16 = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, precision="bf16")
    assert "precision=fp32" in repr(fp32) and "precision=bf16" in repr(bf16)
    a, b = fp32.transcribe(wav_file, return_rolls=True), bf16.transcribe(wav_file, return_rolls=True)
    assert a.metadata["precision"] == "fp32" and b.metadata["precision"] == "bf16"
    assert a.rolls["frame"].dtype == b.rolls["frame"].dtype == np.float32
    np.testing.assert_allclose(a.rolls["frame"], b.rolls["frame"], atol=0.03)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, precision="fp8")


def test_auto_precision_is_bf16_only_where_native_and_measured_faster(monkeypatch):
    from hppnet_plugin import cpu as P
    from hppnet_plugin.inference import autocast_dtype

    timed = []
    monkeypatch.setattr(P, "gemm_gflops", lambda n=2048, repeats=5, dtype=None: timed.append(dtype) or
                        (300.0 if dtype is None else rates["bf16"]))
    P._bf16_speedup.cache_clear()
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    rates = {"bf16": 900.0}
    assert autocast_dtype(torch.device("cpu"), "auto") is None and timed == []  # emulated bf16: never timed
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert autocast_dtype(torch.device("cpu"), "auto") is torch.bfloat16  # native and 3x the fp32 rate
    P._bf16_speedup.cache_clear()
    rates["bf16"] = 150.0
    assert autocast_dtype(torch.device("cpu"), "auto") is None  # native but half the fp32 rate
    P._bf16_speedup.cache_clear()
    # oneDNN capped below bf16 (as benchmarks/inference_speed.py --max-isa avx2 does): emulated.
    rates["bf16"], timed[:] = 900.0, []
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert autocast_dtype(torch.device("cpu"), "auto") is None and timed == []
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert autocast_dtype(torch.device("cpu"), "auto") is torch.bfloat16
    P._bf16_speedup.cache_clear()


def test_threads_apply_to_the_transcriber_only(tiny_checkpoint, wav_file):
    before = torch.get_num_threads()
    seen = []
    transcriber = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, threads=1,
                                                 precision="fp32")
    assert torch.get_num_threads() == before
    real = transcriber.model.forward
    transcriber.model.forward = lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k)
    transcriber.transcribe(wav_file)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_misspelt_option_is_named(tiny_checkpoint):
    with pytest.raises(ValueError, match=r"does not take option\(s\) \['chunk_secs'\]; it takes: .*chunk_s"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, chunk_secs=5)


def test_bad_options(tiny_checkpoint):
    with pytest.raises(ValueError, match="onset_threshold"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, onset_threshold=2)
    with pytest.raises(ValueError, match="min_note_ms must be >= 0"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, min_note_ms=-20)
    with pytest.raises(ValueError, match="unknown device"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=tiny_checkpoint, device="tpu9")


def test_partial_onset_threshold_is_an_option_checked_like_the_others(tiny_checkpoint):
    from hppnet_plugin.transcriber import HPPNetTranscriber

    assert HPPNetTranscriber(checkpoint=tiny_checkpoint).partial_onset_threshold is None  # never calibrated
    assert HPPNetTranscriber(checkpoint=tiny_checkpoint, partial_onset_threshold=0.7).partial_onset_threshold == 0.7
    with pytest.raises(ValueError, match="partial_onset_threshold must be between 0 and 1"):
        HPPNetTranscriber(checkpoint=tiny_checkpoint, partial_onset_threshold=1.5)


def test_defaults_take_the_best_installed_variant(monkeypatch, tmp_path):
    """load_transcriber(), HPPNetTranscriber() and predict() follow the CLI's rule: the best
    variant whose weights are installed (here only tiny's), not a name that may be missing."""
    import shutil

    from hppnet_plugin.basic_pitch import predict
    from hppnet_plugin.transcriber import HPPNetTranscriber
    from hppnet_plugin.weights import WEIGHTS_DIR

    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"hppnet-tiny{suffix}", tmp_path / f"hppnet-tiny{suffix}")
    monkeypatch.setattr("hppnet_plugin.weights.WEIGHTS_DIR", tmp_path)
    assert hppnet_plugin.load_transcriber(device="cpu").name == "hppnet-tiny"
    assert HPPNetTranscriber(device="cpu").name == "hppnet-tiny"
    _, midi, events = predict(np.zeros(SR, np.float32), sample_rate=SR, device="cpu")
    assert events == [] and midi.instruments[0].notes == []
    # A larger variant installed beside it takes over (base outranks tiny; sp would outrank both).
    base = tmp_path / "hppnet-base.pt"
    base.write_bytes((WEIGHTS_DIR / "hppnet-tiny.pt").read_bytes())  # only the file's presence counts here
    assert hppnet_plugin.weights.best_shipped_name() == "hppnet-base"


def test_transcription_files_are_not_overwritten_by_default(tmp_path):
    from hppnet_plugin import Note, Transcription

    result = Transcription(notes=[Note(0.5, 1.0, 60, 80)], duration=1.0)
    for write, name in ((result.write_midi, "a.mid"), (result.write_csv, "a.csv")):
        path = tmp_path / name
        path.write_text("precious")
        with pytest.raises(FileExistsError):
            write(path)
        assert path.read_text() == "precious"
        write(path, overwrite=True)
        assert path.read_text() != "precious" if name.endswith(".csv") else path.stat().st_size > 8
