"""``train``: the training loop (paper losses, Adam 6e-4), CPU or CUDA (+AMP), DDP via torchrun.

Run folder layout::

    <run>/last.pt       model + optimizer + scheduler + step + RNG (resume point)
    <run>/best.pt       the checkpoint with the best validation note F1
    <run>/metrics.csv   one row per logged step (losses) and per validation
    <run>/run.json      the arguments, corpus manifest hash, start time

Re-running the same command resumes from ``last.pt``.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from hppnet_plugin.config import DECODING_FIELDS, HPPNetConfig
from hppnet_plugin.model import HEADS, HPPNet

from . import metrics as M
from .checkpoint import Position, load_checkpoint, restore_checkpoint, save_checkpoint
from .data import cache_pieces, epoch_batches, load_cached, training_crops
from .datasets import dataset_pieces, without_voices_or_sources
from .devices import distributed, mixed_precision, training_device
from .distill import DISTILLED_HEADS, distillation_loss, distilled_sources, load_teacher
from .losses import hppnet_losses
from .runlog import MetricsLog, write_run_json
from .validation import validate

log = logging.getLogger(__name__)


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
    teacher: Optional[torch.nn.Module] = None  # --distill-from: frozen, its probabilities are targets
    distill_weight: float = 0.0
    distill_where_right: bool = False  # --distill-where-teacher-right: the labels alone where it errs
    ema: Optional[torch.optim.swa_utils.AveragedModel] = None  # --ema-decay: the weights' moving average
    ema_decay: float = 0.0
    partial_negative_weight: float = 1.0  # --partial-negative-weight: onset loss on partials of struck keys

    def scored_model(self) -> torch.nn.Module:
        """What validation scores, best.pt is chosen by and export writes: the average, if kept."""
        return self.model if self.ema is None else self.ema.module


def _moving_average(model: torch.nn.Module, decay: float):
    """An exponential moving average of ``model``'s weights (torch.optim.swa_utils); its first
    update copies the weights, later ones blend them in at ``1 - decay``."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _initial_state(path, config: HPPNetConfig) -> dict:
    """Weights to start a new run from: the same architecture, or base weights seeding an sp."""
    from hppnet_plugin.weights import load_weights

    from .warm_start import sp_config_from_base, sp_state_from_base

    source_dict, state = load_weights(path)
    # Decoding thresholds are not architecture: shipped weights carry calibrated ones, and the new
    # run decodes at its own (the defaults, or --thresholds-from; export calibrates or keeps them).
    source = dataclasses.replace(HPPNetConfig.from_dict(source_dict), **{
        k: getattr(config, k) for k in DECODING_FIELDS})
    if config.variant == "sp" and source.variant == "base":
        if sp_config_from_base(source) != config:
            raise ValueError(f"{path} (E={source.channels}) cannot seed this sp (E={config.channels})")
        return sp_state_from_base(state)
    if source != config:
        raise ValueError(f"--init-from {path} is a {source.variant} with E={source.channels}; this run "
                         f"trains a {config.variant} with E={config.channels}")
    return {k: v.float() for k, v in state.items()}


def _run_config(args) -> HPPNetConfig:
    """The run's architecture; its decoding thresholds (what validation decodes at) are the
    defaults, or those of --thresholds-from."""
    config = HPPNetConfig.for_variant(args.variant, **({"channels": args.channels} if args.channels else {}))
    if not args.thresholds_from:
        return config
    from hppnet_plugin.weights import read_weight_file

    source = HPPNetConfig.from_dict(read_weight_file(args.thresholds_from)["config"])
    return dataclasses.replace(config, **{k: getattr(source, k) for k in DECODING_FIELDS})


def _schedule(optimizer, args, warmup: bool):
    """The learning rate: times --lr-decay every --lr-decay-steps, after a linear rise to --lr over
    the first --warmup-steps when ``warmup``."""
    if warmup and args.warmup_steps:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / args.warmup_steps)
                                                 * args.lr_decay ** (s // args.lr_decay_steps))
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_decay_steps, gamma=args.lr_decay)


def _trainee(args, config, device, rank: int, last: Path) -> tuple:
    """(Trainee, Position): a new model (or one seeded by --init-from), or the run resumed from ``last``."""
    torch.manual_seed(args.seed + rank)
    model = HPPNet(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    use_amp, amp_dtype = mixed_precision(device, args.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    trainee = Trainee(model, model, optimizer, _schedule(optimizer, args, warmup=True), scaler, use_amp, amp_dtype,
                      partial_negative_weight=args.partial_negative_weight)
    position = Position()
    if last.exists():
        _resume(last, config, trainee, position, args)
        if rank == 0:
            log.info("resumed from %s at step %d (best note F1 %.4f, lr %.2e)", last, position.step,
                     position.best, optimizer.param_groups[0]["lr"])
    else:
        if args.init_from:
            model.load_state_dict(_initial_state(args.init_from, config))
            if rank == 0:
                log.info("initialised from %s", args.init_from)
        trainee.ema, trainee.ema_decay = _moving_average(model, args.ema_decay), args.ema_decay
    return trainee, position


def _resume(last: Path, config, trainee: Trainee, position: Position, args):
    """Load ``last`` into the run; --reset-lr then restarts the schedule at --lr."""
    state = load_checkpoint(last)
    # Normalised: a checkpoint written before a decoding default existed has the same model.
    if HPPNetConfig.from_dict(state["config"]).to_dict() != config.to_dict():
        raise ValueError(f"{last} was trained with another configuration ({state['config']['variant']}, "
                         f"E={state['config']['channels']}); use a new --out folder")
    decay = state.get("ema_decay", 0.0)
    if decay != args.ema_decay:
        raise ValueError(f"{last} was trained with --ema-decay {decay:g}; resume with the same value (a "
                         "different average starts a new run: a new --out with --init-from)")
    trainee.ema, trainee.ema_decay = _moving_average(trainee.model, decay), decay
    restore_checkpoint(state, trainee, position)
    if args.reset_lr:  # continue from the checkpoint with a new learning-rate schedule
        for group in trainee.optimizer.param_groups:
            group["lr"] = group["initial_lr"] = args.lr
        trainee.scheduler = _schedule(trainee.optimizer, args, warmup=False)


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


def train_step(trainee: Trainee, batch: dict, device, clip_grad: float) -> dict:
    """One optimiser step on a batch; returns the losses as floats."""
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with torch.autocast(device.type, dtype=trainee.amp_dtype, enabled=trainee.use_amp):
        logits = trainee.train_model(batch["features"], heads=HEADS)
    logits = {k: v.float() for k, v in logits.items()}
    losses = hppnet_losses(logits, batch, trainee.partial_negative_weight)
    if trainee.teacher is not None:
        with torch.no_grad(), torch.autocast(device.type, dtype=trainee.amp_dtype, enabled=trainee.use_amp):
            teacher_logits = trainee.teacher(batch["features"], heads=HEADS)
        labels = {h: batch[h] for h in DISTILLED_HEADS} if trainee.distill_where_right else None
        losses["distill"] = distillation_loss(logits, teacher_logits, batch["distill"], labels)
        losses["total"] = losses["total"] + trainee.distill_weight * losses["distill"]
    trainee.optimizer.zero_grad(set_to_none=True)
    trainee.scaler.scale(losses["total"]).backward()
    if clip_grad > 0:  # clip the gradients *before* the step (the authors' code clips after)
        trainee.scaler.unscale_(trainee.optimizer)
        torch.nn.utils.clip_grad_norm_(trainee.model.parameters(), clip_grad)
    trainee.scaler.step(trainee.optimizer)
    trainee.scaler.update()
    trainee.scheduler.step()
    if trainee.ema is not None:
        trainee.ema.update_parameters(trainee.model)
    return {k: v.item() for k, v in losses.items()}


@dataclass
class _Leg:
    """One leg of a run (from its start or resume to its stop): what each step reports to, and
    when it logs, validates, checkpoints and stops."""

    args: object
    config: HPPNetConfig
    device: torch.device
    out: Path
    rank: int
    dist: object
    trainee: Trainee
    position: Position
    metrics: MetricsLog
    val_items: list
    progress: object
    run_info: dict  # run.json's content, stored in every checkpoint so that it names its own command
    start_time: float = dataclasses.field(default_factory=time.time)
    last_save: float = dataclasses.field(default_factory=time.time)
    running: dict = dataclasses.field(default_factory=dict)
    running_steps: int = 0

    def wall_s(self) -> float:
        return self.position.wall_before + time.time() - self.start_time

    def checkpoint(self, path: Path):
        save_checkpoint(path, self.config, self.trainee, self.position, self.wall_s(), self.run_info)
        self.last_save = time.time()

    def after_step(self, losses: dict) -> bool:
        """Log, validate and checkpoint as the options say after a step; returns whether to stop."""
        args, step = self.args, self.position.step
        for k, v in losses.items():
            self.running[k] = self.running.get(k, 0.0) + v
        self.running_steps += 1
        self.progress.update(1)
        if step % args.log_every == 0 and self.metrics:
            self._log_losses()
        stop = False
        if (step % args.validate_every == 0 or step == args.steps) and self.rank == 0:
            stop = self._validate()
        if args.max_minutes and time.time() - self.start_time > args.max_minutes * 60:
            stop = True
        if self.dist is not None:  # rank 0 decides (early stop, time limit); all ranks follow
            flag = torch.tensor([int(stop)], device=self.device)
            self.dist.broadcast(flag, 0)
            stop = bool(flag.item())
        if self.rank == 0 and (time.time() - self.last_save > args.checkpoint_minutes * 60 or stop):
            self.checkpoint(self.out / "last.pt")
        return stop

    def _log_losses(self):
        avg = {k: v / self.running_steps for k, v in self.running.items()}
        self.running, self.running_steps = {}, 0
        self.progress.set_postfix(loss=f"{avg['total']:.4f}", best_f1=f"{max(self.position.best, 0):.3f}")
        self.metrics.row({"step": self.position.step, "wall_s": round(self.wall_s(), 1), "kind": "train",
                          "lr": self.trainee.scheduler.get_last_lr()[0],
                          **{f"loss_{k}": round(v, 5) for k, v in avg.items()}})

    def _validation_row(self, kind: str, scores: dict):
        row = {"step": self.position.step, "wall_s": round(self.wall_s(), 1), "kind": kind,
               "lr": self.trainee.scheduler.get_last_lr()[0]}
        row.update({f"{g}_f1": round(scores[f"{g}_f1"], 4) for g in M.METRIC_GROUPS})
        self.metrics.row(row)

    def _validate(self) -> bool:
        """Validate, log, keep best.pt and last.pt; returns whether to stop early."""
        position, trainee = self.position, self.trainee
        scores = validate(trainee.scored_model(), self.val_items, self.device)
        self._validation_row("validation", scores)
        if trainee.ema is not None:  # the weights themselves too, to see what the average adds
            raw = validate(trainee.model, self.val_items, self.device)
            self._validation_row("validation-raw", raw)
            log.info("step %d: weights without the average: validation note F1 %.4f frame F1 %.4f",
                     position.step, raw["note_f1"], raw["frame_f1"])
        improved = scores["note_f1"] > position.best
        if improved:
            position.best, position.since_best = scores["note_f1"], 0
        else:
            position.since_best += 1
        log.info("step %d: validation note F1 %.4f frame F1 %.4f (best %.4f)",
                 position.step, scores["note_f1"], scores["frame_f1"], position.best)
        if improved:
            self.checkpoint(self.out / "best.pt")
        self.checkpoint(self.out / "last.pt")
        stop = position.since_best >= self.args.patience
        if stop:
            log.info("early stop: %d validations without improvement", position.since_best)
        return stop


def _train(leg: _Leg, dataset, sampler, loader_args):
    """Train until --steps, early stop or the time limit; a resumed epoch continues where it stopped."""
    args, position = leg.args, leg.position
    leg.trainee.model.train()
    stop = False
    while position.step < args.steps and not stop:
        for batch in epoch_batches(dataset, sampler, loader_args, position.epoch, position.batches_done):
            position.batches_done += 1
            losses = train_step(leg.trainee, batch, leg.device, args.clip_grad)
            position.step += 1
            stop = leg.after_step(losses)
            if stop or position.step >= args.steps:
                break
        else:
            position.epoch, position.batches_done = position.epoch + 1, 0
    if leg.rank == 0:
        leg.checkpoint(leg.out / "last.pt")
        if not (leg.out / "best.pt").exists():
            leg.checkpoint(leg.out / "best.pt")


def run(args):
    if not 0 <= args.ema_decay < 1:
        raise ValueError(f"--ema-decay must be in [0, 1) (0: no average; 0.99 averages about the last 100 "
                         f"steps); got {args.ema_decay}")
    if args.partial_negative_weight <= 0:
        raise ValueError(f"--partial-negative-weight must be > 0 (1: the paper's loss); got {args.partial_negative_weight}")
    if args.distill_where_teacher_right and not args.distill_from:
        raise ValueError("--distill-where-teacher-right needs a teacher: add --distill-from WEIGHTS")
    rank, world, dist = distributed()
    device = training_device(args.device, args.threads, world)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = _run_config(args)
    data_root = Path(args.data)
    cache_dir = Path(args.cache) if args.cache else data_root / ".hppnet-cache"
    train_paths, val_paths, val_pieces = _cached_pieces(args, config, data_root, cache_dir, rank, dist)
    if args.cache_only:
        log.info("feature cache ready: %d training and %d validation pieces in %s",
                 len(train_paths), len(val_paths), cache_dir)
        return out
    distill_sources = None
    if args.distill_from:
        distill_sources = distilled_sources(train_paths, data_root, args.distill_exclude_source or (),
                                            args.distill_exclude_voice or ())
    dataset, sampler, loader_args = training_crops(args, config, train_paths, rank, world, dist, distill_sources)
    trainee, position = _trainee(args, config, device, rank, out / "last.pt")
    if args.distill_from:
        trainee.teacher, trainee.distill_weight = load_teacher(args.distill_from, config, device), args.distill_weight
        trainee.distill_where_right = args.distill_where_teacher_right
        if rank == 0:
            log.info("distilling from %s (weight %g) on %d of %d training pieces", args.distill_from,
                     args.distill_weight, int(dataset.distill.sum()), len(train_paths))
    if dist is not None:
        trainee.train_model = torch.nn.parallel.DistributedDataParallel(
            trainee.model, device_ids=[device.index] if device.type == "cuda" else None)
    val_items = [(load_cached(p), piece.notes()) for p, piece in zip(val_paths, val_pieces)] if rank == 0 else []
    info = {}
    if rank == 0:
        info = write_run_json(out, args, config, trainee.model, dataset.total_frames, len(train_paths),
                              len(val_paths), data_root, device, world, position.step, config.frames_per_second)
        log.info("%s: %d parameters, %d training pieces (%.2f h), device %s, %s", config.variant,
                 info["parameters"], len(train_paths), info["train_hours"], device,
                 f"{trainee.amp_dtype} autocast" if trainee.use_amp else "fp32")
    from tqdm import tqdm

    progress = tqdm(total=args.steps, initial=position.step, desc=f"train {config.variant}", unit="step",
                    disable=rank != 0 or args.no_progress, dynamic_ncols=True)
    metrics = MetricsLog(out, position.step, rank, args.tensorboard)
    leg = _Leg(args, config, device, out, rank, dist, trainee, position, metrics, val_items, progress, info)
    _train(leg, dataset, sampler, loader_args)
    metrics.close()
    progress.close()
    if dist is not None:
        dist.barrier()
        dist.destroy_process_group()
    return out
