"""Checkpoints load weights-only (a crafted pickle runs nothing), and a resumed run continues
exactly where it stopped (model, optimizer, schedule, RNG, position in the epoch)."""
import pathlib

import pytest
import torch

import hppnet_plugin
from hppnet_plugin.training.cli import main as training_main
from hppnet_plugin.training.checkpoint import load_checkpoint

from .datasets_fixtures import make_maestro


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what an attacker's file does: call something on load
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture
def crafted(tmp_path, tiny_checkpoint):
    marker = tmp_path / "pwned"
    real = torch.load(tiny_checkpoint, weights_only=True)
    path = tmp_path / "evil.pt"
    torch.save({**real, "extra": _Payload(str(marker))}, path)
    return path, marker


def test_a_crafted_weight_file_runs_no_code(crafted):
    path, marker = crafted
    with pytest.raises(ValueError, match="loads safely"):
        hppnet_plugin.load_transcriber("hppnet-tiny", checkpoint=path, device="cpu")
    with pytest.raises(ValueError, match="loads safely"):
        load_checkpoint(path)
    assert training_main(["export", str(path), str(path.with_name("out.pt"))]) == 2
    assert not marker.exists()


def _train(root, run, steps):
    assert training_main(["train", "--data", str(root), "--out", str(run), "--variant", "tiny", "--channels", "4",
                          "--steps", str(steps), "--batch-size", "1", "--crop-seconds", "0.5",
                          "--validate-every", "1000", "--log-every", "1", "--no-progress", "--threads", "1",
                          "--amp", "off", "--lr-decay-steps", "2", "--lr-decay", "0.5"]) == 0


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    root = make_maestro(tmp_path / "maestro")  # 2 training pieces of 3 s: 12 crops of 0.5 s an epoch
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(root, straight, 16)  # crosses an epoch boundary
    _train(root, resumed, 5)    # stops mid-epoch ...
    with open(resumed / "metrics.csv", "a") as f:  # ... and, killed, had logged a step it never saved
        f.write("6,1.0,train,0.1,9.9,0,0,0,0,,,,\n")
    state = load_checkpoint(resumed / "last.pt")
    assert state["step"] == 5 and state["batches_in_epoch"] == 5
    _train(root, resumed, 16)   # ... and continues
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(resumed / "last.pt")
    assert a["step"] == b["step"] == 16
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0, msg=key)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    losses = lambda run: [r.split(",")[4] for r in (run / "metrics.csv").read_text().splitlines()[1:]
                          if ",train," in r]
    assert losses(straight) == losses(resumed)


def test_resume_reads_the_checkpoint_on_the_cpu(tmp_path, monkeypatch):
    """A checkpoint mapped onto a GPU cannot resume: NumPy's and torch's RNG states must be CPU
    tensors. The checkpoint is read on the CPU and load_state_dict copies weights and optimizer
    moments onto the model's device."""
    from hppnet_plugin.training.devices import mixed_precision

    root = make_maestro(tmp_path / "maestro")
    run = tmp_path / "run"
    _train(root, run, 2)
    seen = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k.get("map_location")) or real(*a, **k))
    _train(root, run, 3)
    assert seen == ["cpu"]
    assert mixed_precision(torch.device("cuda"), "auto") == (False, torch.float32)


def test_a_weight_file_is_not_resumed_as_a_training_checkpoint(tmp_path, tiny_checkpoint):
    with pytest.raises(ValueError, match="--init-from"):
        load_checkpoint(tiny_checkpoint)
