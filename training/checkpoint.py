"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint (``last.pt``, ``best.pt``) holds the model, the optimizer, the schedule, the gradient
scaler, the weights' moving average (``--ema-decay``), the run's position (step, best score, place
in the epoch), the compute time so far and the Python / NumPy / torch RNG states, all as tensors
and plain types, so that it loads weights-only.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hppnet_plugin.io import atomic_write
from hppnet_plugin.weights import read_weight_file


@dataclass
class Position:
    """Where a run is, besides its weights: what a checkpoint stores to resume exactly."""

    step: int = 0
    best: float = -1.0  # best validation note F1 so far
    since_best: int = 0  # validations since the best one
    epoch: int = 0
    batches_done: int = 0  # batches of this epoch already trained on
    wall_before: float = 0.0  # compute seconds of the run's earlier legs


def rng_state() -> dict:
    """The current Python, NumPy and torch RNG states as tensors and plain types."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
            "numpy": {"name": name, "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "torch": torch.get_rng_state()}


def set_rng_state(state: dict):
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def load_checkpoint(path) -> dict:
    """A training checkpoint, read on the CPU and weights-only (the loader of weight files:
    the same checks and errors); a weight file without optimizer state is refused clearly."""
    state = read_weight_file(path)
    missing = [k for k in ("model", "optimizer", "scheduler", "step", "rng") if k not in state]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (no {', '.join(missing)}): a run cannot resume "
                         "from it; start a new run from its weights with --init-from")
    return state


def save(obj, path: Path):
    atomic_write(path, lambda f: torch.save(obj, f), overwrite=True)


def save_checkpoint(path: Path, config, trainee, position: Position, wall_s: float, run_info: dict):
    """Write ``trainee`` (model, optimizer, scheduler, scaler, the weights' moving average if kept)
    and ``position`` to ``path``."""
    average = {}
    if trainee.ema is not None:
        average = {"ema": trainee.ema.module.state_dict(), "ema_decay": trainee.ema_decay,
                   "ema_updates": int(trainee.ema.n_averaged.item())}
    save({"config": config.to_dict(), "model": trainee.model.state_dict(), "optimizer": trainee.optimizer.state_dict(),
          "scheduler": trainee.scheduler.state_dict(), "scaler": trainee.scaler.state_dict(), "step": position.step,
          "best": position.best, "since_best": position.since_best, "epoch": position.epoch,
          "batches_in_epoch": position.batches_done, "wall_s": wall_s, "rng": rng_state(), "run": run_info,
          **average}, path)


def restore_checkpoint(state: dict, trainee, position: Position):
    """Load a checkpoint's weights, optimizer, schedule, scaler, position and RNG into the run.
    ``load_state_dict`` copies weights and optimizer moments onto the model's device; the RNG
    states stay CPU tensors, so ``state`` is read with ``map_location="cpu"``."""
    trainee.model.load_state_dict(state["model"])
    if trainee.ema is not None and "ema" in state:
        trainee.ema.module.load_state_dict(state["ema"])
        trainee.ema.n_averaged.fill_(state["ema_updates"])
    trainee.optimizer.load_state_dict(state["optimizer"])
    trainee.scheduler.load_state_dict(state["scheduler"])
    position.step, position.best = state["step"], state["best"]
    position.since_best, position.epoch = state["since_best"], state["epoch"]
    position.batches_done = state.get("batches_in_epoch", 0)
    if "scaler" in state:
        trainee.scaler.load_state_dict(state["scaler"])
    position.wall_before = state.get("wall_s", 0.0)
    set_rng_state(state["rng"])
