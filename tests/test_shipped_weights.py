"""The shipped hppnet-tiny weights: verified, loadable by name, and good on the bundled example."""
import json
from pathlib import Path

import numpy as np
import pytest

import hppnet_plugin
from hppnet_plugin.weights import WEIGHTS_DIR, sha256_of

EXAMPLE = Path(hppnet_plugin.__file__).with_name("examples") / "bach-bwv361.flac"


def test_sidecar_matches_the_file_and_records_provenance():
    meta = json.loads((WEIGHTS_DIR / "hppnet-tiny.json").read_text())
    assert meta["sha256"] == sha256_of(WEIGHTS_DIR / "hppnet-tiny.pt")
    for key in ("training_command", "corpus_manifest_sha256", "steps", "git_commit", "best_validation", "parameters"):
        assert meta[key], key
    assert meta["variant"] == "tiny"


def test_bundled_example_is_transcribed_well():
    from hppnet_plugin.training.labels import read_midi_notes
    from hppnet_plugin.training.metrics import transcription_metrics

    result = hppnet_plugin.load_transcriber("hppnet-tiny", device="cpu").transcribe(EXAMPLE)
    reference = read_midi_notes(EXAMPLE.with_suffix(".mid"))
    scores = transcription_metrics(reference, result.notes)
    assert scores["note"][2] >= 0.8, scores
    assert scores["frame"][2] >= 0.7, scores


def test_silence_gives_no_notes():
    t = hppnet_plugin.load_transcriber("hppnet-tiny", device="cpu")
    assert t.transcribe(np.zeros(16000 * 3, np.float32), sample_rate=16000).notes == []


def _shipped_variants():
    from hppnet_plugin.weights import SHIPPED

    return [name for name, file in SHIPPED.items() if (WEIGHTS_DIR / file).exists()]


def _background(kind: str, seconds: float = 10.0, sr: int = 16000) -> np.ndarray:
    """The recordings' quiet parts users hit first: digital silence, hiss, rumble, mains hum."""
    from scipy import signal

    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    if kind == "silence":
        return np.zeros(n, np.float32)
    if kind == "hum":
        t = np.arange(n) / sr
        x = sum(np.sin(2 * np.pi * 50 * h * t) / h for h in range(1, 8)) + 0.05 * rng.normal(0, 1, n)
        peak_db = -30
    else:
        x = rng.normal(0, 1, n)
        if kind == "pink":
            x = signal.lfilter([1], [1, -0.95], x)
        peak_db = {"white": -40, "pink": -30}[kind]
    return (x / np.abs(x).max() * 10 ** (peak_db / 20)).astype(np.float32)


@pytest.mark.parametrize("kind", ["silence", "white", "pink", "hum"])
def test_every_shipped_variant_writes_no_notes_on_silence_and_noise(kind):
    assert _shipped_variants(), "no weights ship"
    for name in _shipped_variants():
        result = hppnet_plugin.load_transcriber(name, device="cpu").transcribe(_background(kind), sample_rate=16000)
        assert result.notes == [], f"{name} wrote {len(result.notes)} notes on 10 s of {kind}"
