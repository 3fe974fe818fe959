"""synth -> train -> export -> load_transcriber(checkpoint) -> evaluate, plus DDP on gloo."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

import hppnet_plugin
from hppnet_plugin.training.cli import main as training_main
from hppnet_plugin.adapters.midi import read_midi
from hppnet_plugin.training.metrics import METRIC_GROUPS

from .datasets_fixtures import make_maestro

FLUID = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
HOLDOUT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(FLUID).exists() or not Path(HOLDOUT).exists(),
    reason="needs fluidsynth + fluid-soundfont-gm + timgm6mb-soundfont (installed by .ci/run)")


def write_scores(folder: Path, n: int = 3):
    folder.mkdir()
    for i in range(n):
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(0)
        inst.notes = [pretty_midi.Note(80, 55 + (k * 5 + i) % 24, 0.4 * k, 0.4 * k + 0.35) for k in range(10)]
        midi.instruments.append(inst)
        midi.write(str(folder / f"composer__score{i}.mid"))


@needs_fluidsynth
def test_synth_train_export_load_evaluate(tmp_path, capsys):
    scores, corpus, run = tmp_path / "scores", tmp_path / "corpus", tmp_path / "run"
    write_scores(scores)
    assert training_main(["synth", str(corpus), "--midi-dir", str(scores), "--textures", "0",
                          "--validation", "1", "--test", "1", "--max-duration", "4", "--workers", "2",
                          "--doubled-textures", "1", "--noise-clips", "1", "--hum-clips", "1", "--extra-soundfont", "none",
                          "--soundfont", FLUID, "--holdout-soundfont", HOLDOUT]) == 0
    index = (corpus / "maestro-v3.0.0.csv").read_text().splitlines()
    splits = sorted(line.split(",")[2] for line in index[1:])
    # one score each for test/validation/train, plus a doubled-chord texture, a noise and a hum clip
    assert splits == ["test", "test-unseen-instrument", "train", "train", "train", "train", "validation"]
    composers = [line.split(",")[0] for line in index[1:]]
    assert composers.count("noise") == 2 and composers.count("generated") == 1
    assert (corpus / "train").is_dir() and list((corpus / "train").glob("*.flac"))
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert 0 < manifest["latency_s"]["FluidR3_GM-p0"] < 0.05

    # Re-running renders nothing new (resumable) and gives the same index.
    before = (corpus / "maestro-v3.0.0.csv").read_bytes()
    assert training_main(["synth", str(corpus), "--midi-dir", str(scores), "--textures", "0",
                          "--validation", "1", "--test", "1", "--max-duration", "4", "--workers", "1",
                          "--doubled-textures", "1", "--noise-clips", "1", "--hum-clips", "1", "--extra-soundfont", "none",
                          "--soundfont", FLUID, "--holdout-soundfont", HOLDOUT]) == 0
    assert (corpus / "maestro-v3.0.0.csv").read_bytes() == before

    # A compact Opus copy (for a lent GPU) keeps the layout: same pieces, same lengths.
    packed = tmp_path / "packed"
    assert training_main(["pack", str(corpus), str(packed), "--max-mib", "5"]) == 0
    from hppnet_plugin.audio import load_audio
    from hppnet_plugin.training.datasets import dataset_pieces

    names = {s: [p.name for p in dataset_pieces("maestro", packed, s)] for s in ("validation", "train")}
    assert names["validation"] == [p.name for p in dataset_pieces("maestro", corpus, "validation")]
    assert names["train"] and set(names["train"]) <= {p.name for p in dataset_pieces("maestro", corpus, "train")}
    assert all(p.suffix == ".ogg" for p in (packed / "train").iterdir() if p.suffix != ".midi")
    piece = dataset_pieces("maestro", packed, "validation")[0]
    assert len(load_audio(piece.audio_path)) == len(load_audio(corpus / "validation" / (piece.name + ".flac")))
    assert piece.notes() == dataset_pieces("maestro", corpus, "validation")[0].notes()
    assert training_main(["pack", str(corpus), str(tmp_path / "p2"), "--max-mib", "0.001"]) == 2

    assert training_main(["train", "--data", str(corpus), "--out", str(run), "--variant", "tiny",
                          "--steps", "3", "--batch-size", "2", "--crop-seconds", "2", "--validate-every", "3",
                          "--log-every", "1", "--no-progress", "--threads", "2"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and any(",validation," in r for r in rows)
    # Resume: a second call continues from step 3 to 4.
    assert training_main(["train", "--data", str(corpus), "--out", str(run), "--variant", "tiny",
                          "--steps", "4", "--batch-size", "2", "--crop-seconds", "2", "--validate-every", "4",
                          "--log-every", "1", "--no-progress"]) == 0
    import torch

    assert torch.load(run / "last.pt", weights_only=True)["step"] == 4

    weights = tmp_path / "hppnet-tiny.pt"
    assert training_main(["export", str(run / "best.pt"), str(weights)]) == 0
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["variant"] == "tiny" and meta["parameters"] > 100_000 and len(meta["sha256"]) == 64
    assert meta["corpus_manifest_sha256"] and "train" in meta["training_command"]
    # The validation row of the exported step (best_validation is the best of the whole run).
    assert meta["shipped_validation"]["step"] == str(meta["steps"])
    # Export again with thresholds calibrated on the validation split: recorded and used.
    # A 4-step model scores nothing at any threshold: calibration refuses instead of picking 0.5/0.5.
    calibrated = tmp_path / "calibrated.pt"
    assert training_main(["export", str(run / "best.pt"), str(calibrated), "--calibrate", str(corpus)]) == 2
    assert "untrained" in capsys.readouterr().err and not calibrated.exists()
    # A run this test trains from the shipped tiny (a few steps at a small learning rate): its
    # export is calibrated, and the sidecar names this run, not the shipped weights' training.
    from hppnet_plugin.weights import WEIGHTS_DIR, sha256_of

    # It also distils toward the shipped tiny: the student starts as the teacher, so the
    # distillation loss starts at 0 and stays small at this learning rate. It validates at the
    # shipped tiny's thresholds, which its checkpoints carry.
    tuned = tmp_path / "tuned"
    assert training_main(["train", "--data", str(corpus), "--out", str(tuned), "--variant", "tiny",
                          "--init-from", str(WEIGHTS_DIR / "hppnet-tiny.pt"), "--steps", "3", "--lr", "1e-5",
                          "--batch-size", "2", "--crop-seconds", "2", "--validate-every", "3", "--log-every", "1",
                          "--no-progress", "--threads", "2", "--distill-from", str(WEIGHTS_DIR / "hppnet-tiny.pt"),
                          "--distill-exclude-source", "texture-doubled",
                          "--thresholds-from", str(WEIGHTS_DIR / "hppnet-tiny.pt")]) == 0
    from hppnet_plugin.weights import read_weight_file

    shipped_config, tuned_config = (read_weight_file(p)["config"] for p in (WEIGHTS_DIR / "hppnet-tiny.pt",
                                                                              tuned / "best.pt"))
    from hppnet_plugin.config import DECODING_FIELDS, HPPNetConfig

    defaults = [getattr(HPPNetConfig.for_variant("tiny"), k) for k in DECODING_FIELDS]
    assert [tuned_config[k] for k in DECODING_FIELDS] == [shipped_config.get(k) for k in DECODING_FIELDS] != defaults
    assert training_main(["train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--variant", "tiny",
                          "--steps", "1", "--thresholds-from", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err and not (tmp_path / "r" / "last.pt").exists()
    import csv

    distill = [float(r["loss_distill"]) for r in csv.DictReader((tuned / "metrics.csv").open()) if r["kind"] == "train"]
    assert len(distill) == 3 and distill[0] < 1e-3 and all(0 <= d < 0.05 for d in distill)
    assert training_main(["export", str(tuned / "last.pt"), str(calibrated), "--calibrate", str(corpus)]) == 0
    meta = json.loads(calibrated.with_suffix(".json").read_text())
    thresholds = meta["decoding_thresholds"]
    assert thresholds["calibration"]["pieces"] == 1 and thresholds["calibration"]["table"]
    assert "--init-from" in meta["training_command"] and str(tuned) in meta["training_command"]
    assert meta["steps"] == 3 and meta["shipped_validation"]["step"] == "3"
    # Or it keeps the thresholds of the weights it started from; the sidecar names them.
    kept = tmp_path / "kept-thresholds.pt"
    assert training_main(["export", str(tuned / "last.pt"), str(kept), "--thresholds-from",
                          str(WEIGHTS_DIR / "hppnet-tiny.pt")]) == 0
    parent = hppnet_plugin.load_transcriber("hppnet-tiny")
    child = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=kept)
    assert (child.onset_threshold, child.frame_threshold, child.min_note_ms) == \
        (parent.onset_threshold, parent.frame_threshold, parent.min_note_ms)
    kept_meta = json.loads(kept.with_suffix(".json").read_text())
    taken = kept_meta["decoding_thresholds"]["calibration"]["taken_from"]
    assert taken["weights"] == "hppnet-tiny.pt" and taken["sha256"] == sha256_of(WEIGHTS_DIR / "hppnet-tiny.pt")
    # The fine-tune's sidecar keeps the training of the weights it started from, leg by leg.
    shipped_meta = json.loads((WEIGHTS_DIR / "hppnet-tiny.json").read_text())
    seed = kept_meta["initialised_from"]
    assert seed["sha256"] == shipped_meta["sha256"] and seed["steps"] == shipped_meta["steps"]
    assert seed["training_history"] == shipped_meta["training_history"] != kept_meta["training_history"]
    assert training_main(["export", str(tuned / "last.pt"), str(tmp_path / "both.pt"), "--thresholds-from",
                          str(WEIGHTS_DIR / "hppnet-tiny.pt"), "--calibrate", str(corpus)]) == 2
    assert "pass one" in capsys.readouterr().err and not (tmp_path / "both.pt").exists()
    # Or it chooses only the onset thresholds, at the frame threshold and length of its parent.
    onsets = tmp_path / "onsets.pt"
    assert training_main(["export", str(tuned / "last.pt"), str(onsets), "--thresholds-from",
                          str(WEIGHTS_DIR / "hppnet-tiny.pt"), "--calibrate", str(corpus), "--onsets-only"]) == 0
    record = json.loads(onsets.with_suffix(".json").read_text())["decoding_thresholds"]
    assert record["calibration"]["kept"]["from"]["weights"] == "hppnet-tiny.pt"
    assert {(r["frame"], r["min_note_ms"]) for r in record["calibration"]["table"]} == \
        {(parent.frame_threshold, parent.min_note_ms)}
    to = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=onsets)
    assert (to.frame_threshold, to.min_note_ms) == (parent.frame_threshold, parent.min_note_ms)
    assert (to.onset_threshold, to.partial_onset_threshold) == (record["onset"], record["partial_onset"])
    assert training_main(["export", str(tuned / "last.pt"), str(tmp_path / "no-data.pt"), "--onsets-only"]) == 2
    assert "pass --calibrate" in capsys.readouterr().err
    tc = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=calibrated)
    assert (tc.onset_threshold, tc.frame_threshold) == (thresholds["onset"], thresholds["frame"])
    assert tc.min_note_ms == thresholds["min_note_ms"] == thresholds["calibration"]["min_note_ms"]

    t = hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=weights)
    audio = next((corpus / "test").glob("*.flac"))
    assert t.transcribe(audio).duration > 1.0

    # Side by side: the 4-step model finds nothing, the trained (calibrated) one finds the notes.
    out = tmp_path / "eval.json"
    assert training_main(["evaluate", "--data", str(corpus), "--split", "test", "--split", "test-unseen-instrument",
                          "--transcriber", f"hppnet-tiny={weights}", "--transcriber", f"hppnet-tiny={calibrated}",
                          "--errors", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for split in ("test", "test-unseen-instrument"):
        untrained = report["results"][split][f"hppnet-tiny ({weights.name})"]
        trained = report["results"][split][f"hppnet-tiny ({calibrated.name})"]
        assert untrained["summary"]["note_f1"]["mean"] < 0.2 < 0.8 < trained["summary"]["note_f1"]["mean"]
        assert set(trained["pieces"][0]) >= {f"{g}_{m}" for g in METRIC_GROUPS for m in ("precision", "recall", "f1")}
        counts = trained["errors"]["counts"]
        reference = read_midi(next((corpus / split).glob("*.midi")), sustain=True)
        assert sum(counts.get(f"register_{r}_notes", 0) for r in ("low", "middle", "high")) == len(reference) > 0
        # Paired against the first transcriber, piece by piece: the trained one is ahead on every piece.
        paired = report["paired_against_first"][split][f"hppnet-tiny ({calibrated.name})"]["note"]
        per_piece = [t["note_f1"] - u["note_f1"] for t, u in zip(trained["pieces"], untrained["pieces"])]
        assert paired["mean"] == pytest.approx(100 * sum(per_piece) / len(per_piece))
        assert paired["better"] == len(per_piece) and paired["worse"] == 0
    text = out.with_suffix(".md").read_text()
    assert "Note w/ offset & vel." in text and "on_partial_recall" in text
    assert f"Against hppnet-tiny ({weights.name}), piece by piece" in text


def test_training_bad_input_is_a_clear_error(tmp_path, capsys):
    assert training_main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "1"]) == 2
    assert "no MAESTRO index" in capsys.readouterr().err
    assert training_main(["synth", str(tmp_path / "c"), "--textures", "0"]) == 2
    assert "nothing to render" in capsys.readouterr().err


def test_distributed_training_on_two_cpu_processes(tmp_path):
    """torchrun + DDP on gloo: two ranks train, rank 0 alone writes checkpoints and logs."""
    root = make_maestro(tmp_path / "maestro")
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "hppnet_plugin.training", "train", "--data", str(root), "--out", str(run), "--variant", "tiny",
           "--steps", "2", "--batch-size", "1", "--crop-seconds", "1", "--validate-every", "2",
           "--log-every", "1", "--no-progress", "--threads", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    import torch

    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 2 and state["run"]["world_size"] == 2
    train_rows = [r for r in (run / "metrics.csv").read_text().splitlines() if ",train," in r]
    assert len(train_rows) == 2  # logged once per step, by rank 0 only
