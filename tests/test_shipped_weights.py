"""The shipped hppnet-tiny weights: verified, loadable by name, and good on the bundled example."""
import json
from pathlib import Path

import numpy as np

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
