"""``export``: training checkpoint -> shippable weight file + provenance sidecar."""
from __future__ import annotations

import csv
import datetime
import json
import subprocess
from pathlib import Path

import torch

from hppnet_plugin.io import atomic_write
from hppnet_plugin.model import count_parameters
from hppnet_plugin.weights import (WEIGHTS_FORMAT, build_model, read_sidecar, read_weight_file, sha256_of,
                                   sidecar_path)


def add_arguments(sub):
    p = sub.add_parser("export", help="turn a training checkpoint into a weight file with a provenance sidecar",
                       description="Write weights + config (fp32, or fp16 with --fp16) and <out>.json "
                                   "(variant, parameters, training command, corpus hash, steps, git commit, "
                                   "validation metrics, sha256).")
    p.add_argument("checkpoint", help="best.pt / last.pt from a training run")
    p.add_argument("out", help="weight file to write, e.g. hppnet_plugin/weights/hppnet-tiny.pt")
    p.add_argument("--fp16", action="store_true", help="store tensors as float16 (loaded as fp32)")
    p.add_argument("--curve", help="also write a PNG of validation F1 over training steps (needs matplotlib)")
    p.add_argument("--calibrate", metavar="DATA", action="append",
                   help="choose the decoding thresholds on this dataset's validation split and store them "
                        "in the weights' config (the grid and scores go into the sidecar); repeat to pool "
                        "the validation pieces of several datasets (e.g. an unheard piano's and the "
                        "training voices')")
    p.add_argument("--thresholds-from", metavar="WEIGHTS",
                   help="take the decoding thresholds of these weights (e.g. the ones a fine-tune started "
                        "from) instead of calibrating; the sidecar names them and keeps their calibration")
    p.add_argument("--onsets-only", action="store_true",
                   help="with --calibrate: choose only the two onset thresholds, keeping the frame threshold "
                        "and minimum note length of the weights exported (or of --thresholds-from WEIGHTS)")
    p.add_argument("--raw", action="store_true",
                   help="of a checkpoint that keeps a moving average of its weights (train --ema-decay), write "
                        "the weights themselves instead of the average")
    p.add_argument("--dataset", default="maestro", choices=["maestro", "maps"], help="layout of --calibrate DATA")
    p.add_argument("--cache", help="feature cache of --calibrate DATA (default DATA/.hppnet-cache; only with one DATA)")
    p.add_argument("--overwrite", action="store_true")


def _git_commit() -> str:
    """HEAD, with "+dirty" when tracked Python files differ from it: the code that chose the
    thresholds is then not the commit's (the exported weight files themselves do not count)."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = head and git("status", "--porcelain", "--untracked-files=no", "--", ":(top,glob)**/*.py")
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def _validation_history(run_dir: Path, kind: str = "validation") -> list:
    """The validation rows of ``run_dir``'s metrics.csv: those of the weights' moving average in a
    run that keeps one (kind "validation-raw": of the weights themselves)."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)
                if row["kind"] == kind]


def _checkpoint_weights(full: dict, raw: bool) -> tuple:
    """(state dict, what it is) of a weight file or training checkpoint: the moving average of the
    weights where the checkpoint keeps one, unless ``raw``."""
    if "state_dict" in full:
        return full["state_dict"], None
    if "ema" in full and not raw:
        return full["ema"], {"ema_decay": full["ema_decay"], "updates": full["ema_updates"]}
    return full["model"], None


def _confidence_on_validation(items, calibration: dict, fps: float) -> dict:
    """How often the notes of each confidence bin were wrong on the validation pieces, decoded
    with the chosen thresholds: what a confidence value means for these weights."""
    from hppnet_plugin.decoding import decode_rolls

    from .metrics import confidence_counts, confidence_table

    total = {}
    for rolls, reference in items:
        notes = decode_rolls(rolls["onset"], rolls["frame"], rolls["velocity"], calibration["onset_threshold"],
                             calibration["frame_threshold"], fps, calibration["min_note_ms"],
                             calibration["partial_onset_threshold"])
        for key, (n, right) in confidence_counts(reference, notes).items():
            total[key] = (total.get(key, (0, 0))[0] + n, total.get(key, (0, 0))[1] + right)
    return confidence_table(total)


def _calibration(model, data_roots, dataset: str, cache, keep=None) -> dict:
    """Decoding thresholds chosen on the validation splits of ``data_roots`` (pooled, each piece
    weighing the same) and note-free clips, with the grid's scores and what each confidence bin
    means at the chosen thresholds (with ``keep``, only the onset thresholds: see
    :func:`training.calibrate.choose_thresholds`). Computed in fp32, so that the thresholds do not
    depend on the arithmetic of the machine that exports."""
    from .calibrate import QUIET_BACKGROUNDS, QUIET_SECONDS, QUIET_SEEDS, choose_thresholds, quiet_audio
    from .validation import audio_rolls, validation_rolls

    model.eval()
    items = [item for root in data_roots for item in validation_rolls(model, root, dataset, cache, dtype=None)]
    quiet = [audio_rolls(model, clip, dtype=None) for clip in quiet_audio()]
    fps = model.config.frames_per_second
    calibration = {"data": [str(root) for root in data_roots], "pieces": len(items), "precision": "fp32",
                   "note_free_audio": {"backgrounds": [list(b) for b in QUIET_BACKGROUNDS],
                                       "seeds": list(QUIET_SEEDS), "seconds_each": QUIET_SECONDS},
                   **({"kept": keep} if keep else {}), **choose_thresholds(items, fps, quiet=quiet, keep=keep)}
    calibration["confidence"] = _confidence_on_validation(items, calibration, fps)
    return calibration


def _thresholds_of(weights) -> dict:
    """The decoding thresholds of a weight file, as a calibration record: its values, the file
    (name, sha256) and the calibration its own sidecar records."""
    weights = Path(weights)
    config = read_weight_file(weights)["config"]
    record = read_sidecar(weights).get("decoding_thresholds", {})
    return {"onset_threshold": config["onset_threshold"], "frame_threshold": config["frame_threshold"],
            "min_note_ms": config.get("min_note_ms", 0.0),
            "partial_onset_threshold": config.get("partial_onset_threshold"),
            "taken_from": {"weights": weights.name, "sha256": sha256_of(weights),
                           "calibration": record.get("calibration")}}


def _provenance(checkpoint: Path, full: dict, history_kind: str = "validation") -> tuple:
    """(run info, validation history, step, compute seconds) of a training checkpoint, or of a
    weight file being re-exported (its sidecar keeps them)."""
    run = full.get("run", {})
    history = _validation_history(checkpoint.parent, history_kind)
    step, wall_s = full.get("step"), full.get("wall_s", 0)
    source_meta = read_sidecar(checkpoint) if "state_dict" in full else {}
    if source_meta:  # re-exporting a weight file (e.g. to calibrate it on other data): keep its provenance
        run = {"command": source_meta.get("training_command", ""), **source_meta, **run}
        run["history"] = source_meta.get("training_history", [])
        history = history or source_meta.get("validation_history", [])
        step, wall_s = source_meta.get("steps"), (source_meta.get("wall_hours") or 0) * 3600
    return run, history, step, wall_s


def _sidecar(checkpoint: Path, out: Path, full: dict, config: dict, model, fp16: bool, calibration,
             average) -> dict:
    raw_of_average = "ema" in full and average is None
    if average is None and "state_dict" in full:  # a weight file re-exported stays what it was
        average = read_sidecar(checkpoint).get("moving_average")
    run, history, step, wall_s = _provenance(checkpoint, full, "validation-raw" if raw_of_average else "validation")
    best_row = max(history, key=lambda r: float(r.get("note_f1", 0)), default={})
    # The validation of the weights in this file; best_validation may be an earlier step's.
    shipped_row = next((r for r in reversed(history) if str(r.get("step")) == str(step)), {})
    return {
        "name": f"hppnet-{config['variant']}", "variant": config["variant"], "format": WEIGHTS_FORMAT,
        "dtype": "float16" if fp16 else "float32", "parameters": count_parameters(model),
        "training_command": run.get("command", ""), "training_history": run.get("history", []),
        "initialised_from": run.get("initialised_from"),
        "corpus_manifest_sha256": run.get("corpus_manifest_sha256", ""),
        "train_hours": run.get("train_hours"), "device": run.get("device"), "threads": run.get("threads"),
        "steps": step, "wall_hours": round((wall_s or 0) / 3600, 3),
        "moving_average": average,
        "best_validation": best_row, "shipped_validation": shipped_row, "validation_history": history,
        "decoding_thresholds": {"onset": config["onset_threshold"], "frame": config["frame_threshold"],
                                "min_note_ms": config.get("min_note_ms", 0.0),
                                "partial_onset": config.get("partial_onset_threshold"),
                                "calibration": calibration},
        "git_commit": _git_commit(), "source_checkpoint": checkpoint.name,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "sha256": sha256_of(out),
    }


def export(checkpoint, out, fp16: bool = False, overwrite: bool = False, calibrate=None,
           dataset: str = "maestro", cache=None, thresholds_from=None, raw: bool = False,
           onsets_only: bool = False) -> Path:
    """Write the weight file and its sidecar; with ``calibrate`` (dataset roots, or one), first
    choose the decoding thresholds on their validation splits (training.calibrate), with
    ``onsets_only`` only the onset thresholds; with ``thresholds_from`` (a weight file), use that
    file's thresholds (with ``onsets_only``: its frame threshold and minimum length). A checkpoint
    that keeps a moving average of its weights gives the average, or with ``raw`` the weights
    themselves."""
    if onsets_only and not calibrate:
        raise ValueError("--onsets-only chooses the onset thresholds on --calibrate DATA; pass --calibrate")
    if calibrate and thresholds_from and not onsets_only:
        raise ValueError("--calibrate and --thresholds-from both choose the thresholds; pass one, or add "
                         "--onsets-only to calibrate the onset thresholds at the other weights' frame threshold "
                         "and minimum length")
    calibrate = [calibrate] if isinstance(calibrate, (str, Path)) else list(calibrate or [])
    if cache and len(calibrate) > 1:
        raise ValueError("--cache names the feature cache of one --calibrate DATA; with several, each "
                         "DATA keeps its own (DATA/.hppnet-cache): drop --cache")
    checkpoint, out = Path(checkpoint), Path(out)
    side = sidecar_path(out)
    for path in (out, side):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite")
    full = read_weight_file(checkpoint)
    config = full["config"]
    state, average = _checkpoint_weights(full, raw)
    model = build_model(config, state, source=str(checkpoint))  # proves it loads
    given = _thresholds_of(thresholds_from) if thresholds_from else None
    if onsets_only:
        source = given or {"frame_threshold": config["frame_threshold"], "min_note_ms": config.get("min_note_ms", 0.0),
                           "taken_from": {"weights": checkpoint.name}}
        keep = {"frame_threshold": source["frame_threshold"], "min_note_ms": source["min_note_ms"],
                "from": source["taken_from"]}
        calibration = _calibration(model, calibrate, dataset, cache, keep=keep)
    else:
        calibration = _calibration(model, calibrate, dataset, cache) if calibrate else given
    if calibration:
        config = {**config, "onset_threshold": calibration["onset_threshold"],
                  "frame_threshold": calibration["frame_threshold"], "min_note_ms": calibration["min_note_ms"],
                  "partial_onset_threshold": calibration["partial_onset_threshold"]}
    dtype = torch.float16 if fp16 else torch.float32
    weights = {"format": WEIGHTS_FORMAT, "config": config,
               "state_dict": {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: torch.save(weights, f), overwrite=overwrite)
    text = json.dumps(_sidecar(checkpoint, out, full, config, model, fp16, calibration, average), indent=1).encode()
    atomic_write(side, lambda f: f.write(text), overwrite=True)
    return out


_CURVE_KEYS = {"note_f1": "note F1", "frame_f1": "frame F1", "note_offset_f1": "note+offset F1"}


def learning_curve_series(run_dir, seed_run=None, seed_step=None) -> tuple:
    """({("run" or "seed", metric): (steps, values)}, offset): what :func:`plot_learning_curve`
    draws; a seeded run's steps are shifted by ``seed_step``, the seed's shown up to it."""
    def validations(folder):
        rows = {int(r["step"]): r for r in _validation_history(Path(folder))}  # a resumed run may repeat steps
        if not rows:
            raise ValueError(f"no validation rows in {Path(folder) / 'metrics.csv'}")
        return rows

    offset = int(seed_step) if seed_run is not None else 0
    parts = {"run": (validations(run_dir), offset)}
    if seed_run is not None:
        parts["seed"] = ({k: v for k, v in validations(seed_run).items() if k <= offset}, 0)
    series = {}
    for part, (rows, shift) in parts.items():
        steps = sorted(rows)
        for key in _CURVE_KEYS:
            series[(part, key)] = ([shift + s for s in steps], [float(rows[s].get(key, "nan")) for s in steps])
    return series, offset


def plot_learning_curve(run_dir, out_png, title: str = "", seed_run=None, seed_step=None,
                        ylim=(0.0, 1.0)) -> Path:
    """Validation F1 (note, frame, note+offset) over steps from ``<run>/metrics.csv``.

    ``ylim=None`` fits the axis to the values: a short fine-tune moves F1 by tenths of a point,
    which the full 0–1 axis draws as flat lines.

    A run seeded by ``--init-from`` starts at its seed's step: with ``seed_run`` (the seed's run
    folder) and ``seed_step``, the seed's validations up to that step are drawn first (dashed) and
    this run's steps continue from there, so the curve shows where the warm start began."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series, offset = learning_curve_series(run_dir, seed_run, seed_step)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for color, key in zip(("C0", "C1", "C2"), _CURVE_KEYS):
        if ("seed", key) in series:
            ax.plot(*series[("seed", key)], ls="--", marker="o", ms=2, color=color, alpha=0.6,
                    label=f"{_CURVE_KEYS[key]} (seed run)")
        ax.plot(*series[("run", key)], marker="o", ms=4, color=color, label=_CURVE_KEYS[key])
    seed = seed_run is not None
    if seed:
        ax.axvline(offset, color="grey", lw=0.8)
    ax.set_xlabel("training step" + (f" (seed run's steps, then {offset:,} + this run's)" if seed else ""))
    ax.set_ylabel("validation F1")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"validation during training ({Path(run_dir).name})")
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return Path(out_png)


def run(args):
    path = export(args.checkpoint, args.out, fp16=args.fp16, overwrite=args.overwrite, calibrate=args.calibrate,
                  dataset=args.dataset, cache=args.cache, thresholds_from=args.thresholds_from, raw=args.raw,
                  onsets_only=args.onsets_only)
    print(f"wrote {path} and {sidecar_path(path)}")
    if args.curve:
        print(f"wrote {plot_learning_curve(Path(args.checkpoint).parent, args.curve)}")
