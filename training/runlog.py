"""What a run writes about itself: ``metrics.csv`` (and TensorBoard), and ``run.json`` (the command,
arguments, configuration, corpus and every (re)start)."""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import torch

from hppnet_plugin.io import atomic_write
from hppnet_plugin.model import count_parameters
from hppnet_plugin.weights import read_sidecar, read_weight_file, sha256_of

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["step", "wall_s", "kind", "lr", "loss_total", "loss_onset", "loss_frame",
                  "loss_offset", "loss_velocity", "frame_f1", "note_f1", "note_offset_f1",
                  "note_offset_velocity_f1", "loss_distill"]


def drop_rows_after(metrics_file: Path, step: int):
    """Rows a killed run logged after its last checkpoint: the resumed run trains those steps
    again, so the log keeps one trajectory (the one the checkpoints hold). A file with other
    columns is rewritten with today's, so that appended rows match its header."""
    with open(metrics_file, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames
    kept = [r for r in rows if int(r["step"]) <= step]
    dropped = len(rows) - len(kept)
    if dropped:
        log.info("dropping %d rows of %s logged after step %d (after the last checkpoint)",
                 dropped, metrics_file.name, step)
    if dropped or header != METRIC_COLUMNS:

        def write(f):
            writer = csv.DictWriter(f, METRIC_COLUMNS)
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in METRIC_COLUMNS} for r in kept)

        atomic_write(metrics_file, write, overwrite=True, mode="w")


def manifest_hash(data_root: Path) -> str:
    for name in ("manifest.json", "maestro-v3.0.0.csv", "maestro-v3.0.0.json"):
        p = data_root / name
        if p.exists():
            return hashlib.sha256(p.read_bytes()).hexdigest()
    return ""


def weights_lineage(path) -> dict:
    """What a run seeded by ``--init-from PATH`` starts from: the file (name, sha256), its steps and
    every leg that trained it, and what it was itself seeded from, so that a fine-tune's sidecar
    holds the whole training of its weights. Read from the file's sidecar (a weight file) or its
    run record (a training checkpoint)."""
    path = Path(path)
    meta = read_sidecar(path)
    if not meta:
        full = read_weight_file(path)
        run = full.get("run", {})
        meta = {"name": None, "steps": full.get("step"), "training_history": run.get("history", []),
                "initialised_from": run.get("initialised_from")}
    return {"weights": path.name, "name": meta.get("name"), "sha256": sha256_of(path), "steps": meta.get("steps"),
            "training_history": meta.get("training_history", []), "initialised_from": meta.get("initialised_from")}


def write_run_json(out: Path, args, config, model, train_frames: int, n_train: int, n_val: int, data_root: Path,
                   device, world: int, step: int, frames_per_second: float) -> dict:
    """run.json: the command, arguments, configuration and data of the run, and every (re)start
    of it with the step it started from (the full provenance); returns what it wrote."""
    argv = getattr(args, "argv", None) or sys.argv[1:]  # main(argv) called from Python: its own argv
    info = {"command": " ".join(shlex.quote(a) for a in ["python", "-m", "hppnet_plugin.training"] + list(argv)),
            "args": vars(args), "config": config.to_dict(), "parameters": count_parameters(model),
            "train_pieces": n_train, "train_hours": train_frames / frames_per_second / 3600,
            "validation_pieces": n_val, "corpus_manifest_sha256": manifest_hash(data_root),
            "device": str(device), "world_size": world, "threads": torch.get_num_threads()}
    previous = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    init_from = getattr(args, "init_from", None)
    # Recorded by the first (re)start that finds the seed file; later restarts keep that record
    # (the file may have changed or gone since).
    if previous.get("initialised_from"):
        info["initialised_from"] = previous["initialised_from"]
    elif init_from and Path(init_from).exists():
        info["initialised_from"] = weights_lineage(init_from)
    info["history"] = previous.get("history", []) + [
        {"command": info["command"], "from_step": step, "started": time.strftime("%Y-%m-%d %H:%M:%S")}]
    text = json.dumps(info, indent=1, default=str)
    (out / "run.json").write_text(text)
    return json.loads(text)  # plain JSON types, as checkpoints store it (they load weights-only)


class MetricsLog:
    """metrics.csv (and TensorBoard with --tensorboard) of rank 0; other ranks log nothing.
    Rows a killed run logged after its last checkpoint are dropped first."""

    def __init__(self, out: Path, step: int, rank: int, tensorboard: bool):
        self.file = self.writer = self.tensorboard = None
        if rank != 0:
            return
        path = out / "metrics.csv"
        if path.exists():
            drop_rows_after(path, step)
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
