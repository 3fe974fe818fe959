"""``train --ema-decay``: a run keeps a moving average of its weights, validates it (and the
weights themselves, logged apart), resumes it exactly, and exports it unless told ``--raw``."""
import csv
import json

import torch

from hppnet_plugin.training.checkpoint import load_checkpoint
from hppnet_plugin.training.cli import main as training_main
from hppnet_plugin.weights import load_weights, read_weight_file

from .datasets_fixtures import make_maestro


def _train(root, run, steps, *extra):
    return training_main(["train", "--data", str(root), "--out", str(run), "--variant", "tiny", "--channels", "4",
                          "--steps", str(steps), "--batch-size", "1", "--crop-seconds", "0.5",
                          "--validate-every", "3", "--log-every", "1", "--no-progress", "--threads", "1",
                          "--amp", "off", "--lr", "3e-3", *extra])


def test_a_run_keeps_validates_resumes_and_exports_the_average(tmp_path, capsys):
    root = make_maestro(tmp_path / "maestro")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _train(root, straight, 6, "--ema-decay", "0.8") == 0
    assert _train(root, resumed, 3, "--ema-decay", "0.8") == 0
    assert _train(root, resumed, 6, "--ema-decay", "0.8") == 0
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(resumed / "last.pt")
    assert a["ema_updates"] == b["ema_updates"] == 6 and a["ema_decay"] == 0.8
    for key in a["ema"]:  # the average resumes exactly, like the weights
        torch.testing.assert_close(a["ema"][key], b["ema"][key], rtol=0, atol=0, msg=key)
    assert any(not torch.equal(a["ema"][k], a["model"][k]) for k in a["model"])

    rows = list(csv.DictReader((straight / "metrics.csv").open()))
    kinds = [(r["step"], r["kind"]) for r in rows if r["kind"].startswith("validation")]
    assert kinds == [("3", "validation"), ("3", "validation-raw"), ("6", "validation"), ("6", "validation-raw")]

    # What a checkpoint loads as (transcriber, --init-from, --distill-from) is the average.
    assert all(torch.equal(load_weights(straight / "last.pt")[1][k], a["ema"][k]) for k in a["ema"])
    averaged, raw = tmp_path / "averaged.pt", tmp_path / "raw.pt"
    assert training_main(["export", str(straight / "last.pt"), str(averaged)]) == 0
    assert training_main(["export", str(straight / "last.pt"), str(raw), "--raw"]) == 0
    for path, source, kind in ((averaged, "ema", "validation"), (raw, "model", "validation-raw")):
        state = read_weight_file(path)["state_dict"]
        assert all(torch.equal(state[k], a[source][k]) for k in state), path
        meta = json.loads(path.with_suffix(".json").read_text())
        expected = [r["note_f1"] for r in rows if r["kind"] == kind]
        assert [r["note_f1"] for r in meta["validation_history"]] == expected
    assert json.loads(averaged.with_suffix(".json").read_text())["moving_average"] == {"ema_decay": 0.8,
                                                                                        "updates": 6}
    assert json.loads(raw.with_suffix(".json").read_text())["moving_average"] is None
    # Re-exported, the weight file still says it is an average.
    again = tmp_path / "again.pt"
    assert training_main(["export", str(averaged), str(again)]) == 0
    assert json.loads(again.with_suffix(".json").read_text())["moving_average"]["ema_decay"] == 0.8


def test_a_different_or_impossible_decay_is_a_clear_error(tmp_path, capsys):
    root = make_maestro(tmp_path / "maestro")
    run = tmp_path / "run"
    assert _train(root, run, 1, "--ema-decay", "0.9") == 0
    assert _train(root, run, 2) == 2
    assert "--ema-decay 0.9" in capsys.readouterr().err
    assert load_checkpoint(run / "last.pt")["step"] == 1
    assert _train(root, tmp_path / "other", 1, "--ema-decay", "1") == 2
    assert "[0, 1)" in capsys.readouterr().err and not (tmp_path / "other" / "last.pt").exists()
