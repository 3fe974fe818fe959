"""Seconds per training step on this machine: precision x memory layout, side by side.

    python benchmarks/training_step.py --variant base --cache /work/corpus/.hppnet-cache
    python benchmarks/training_step.py --variant tiny --runs 5          # synthetic features

One step is what `python -m hppnet_plugin.training train` does per batch (forward of all
heads, the paper's losses, backward, gradient clipping, Adam), on a batch of --batch-size
crops of --crop-seconds. Crops come from cached training pieces (--cache, a feature-cache
folder) or, without it, from the front end run on synthetic piano audio. Each configuration
runs one warm-up step, then --runs steps; the configurations take turns (round robin) so a
noisy neighbour slows all of them alike. Prints the median seconds per step and the ratio to
the first configuration, and writes a JSON (default benchmarks/results-training-step-<variant>.json).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hppnet_plugin.cpu import cpu_features, cpu_model

CONFIGURATIONS = {  # name: (autocast dtype or None, channels_last)
    "bf16 autocast": (torch.bfloat16, False),
    "bf16 autocast, channels-last": (torch.bfloat16, True),
    "fp32": (None, False),
    "fp32, channels-last": (None, True),
}


def cached_batch(cache: Path, batch_size: int, crop_frames: int, seed: int = 0) -> dict:
    from hppnet_plugin.training.data import CropDataset, collate

    paths = sorted(Path(cache).glob("*.npz"))
    if not paths:
        raise SystemExit(f"no cached pieces (*.npz) in {cache}")
    rng = np.random.default_rng(seed)
    chosen = [paths[i] for i in rng.choice(len(paths), size=min(len(paths), 4 * batch_size), replace=False)]
    dataset = CropDataset(chosen, crop_frames, seed=seed)
    return collate([dataset[i] for i in range(batch_size)])


def frontend_batch(config, batch_size: int, crop_frames: int) -> dict:
    """Features of synthetic piano audio and random labels of the right shapes and rates."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from inference_speed import synthetic_piano

    from hppnet_plugin.frontend import LogCQT

    seconds = crop_frames * config.hop_length / config.sample_rate
    audio = torch.from_numpy(synthetic_piano(seconds + 1, sr=config.sample_rate)[:, 0].copy())
    with torch.no_grad():
        features = LogCQT(config)(audio.unsqueeze(0))[:, :, :crop_frames]
    rng = np.random.default_rng(0)
    labels = {k: torch.from_numpy((rng.random((batch_size, crop_frames, 88)) < p).astype(np.float32))
              for k, p in (("onset", 0.01), ("frame", 0.05), ("offset", 0.01))}
    labels["velocity"] = labels["onset"] * 80
    return {"features": features.repeat(batch_size, 1, 1, 1), **labels}


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="base", choices=["sp", "base", "tiny"])
    parser.add_argument("--cache", help="feature-cache folder of a corpus (default: synthetic features)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--crop-seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", action="append", choices=list(CONFIGURATIONS), help="configurations to run")
    parser.add_argument("--json")
    return parser.parse_args(argv)


def _models(config, names) -> dict:
    """{configuration: (model, optimizer)}, every model from the same seed."""
    from hppnet_plugin.model import HPPNet

    models = {}
    for name in names:
        torch.manual_seed(0)
        model = HPPNet(config)
        if CONFIGURATIONS[name][1]:
            model = model.to(memory_format=torch.channels_last)
        models[name] = (model, torch.optim.Adam(model.parameters(), lr=6e-4))
    return models


def _step(name, model, optimizer, batch) -> tuple:
    """(seconds, loss) of one optimizer step in configuration ``name``."""
    from hppnet_plugin.model import HEADS
    from hppnet_plugin.training.losses import hppnet_losses

    dtype, channels_last = CONFIGURATIONS[name]
    features = batch["features"].contiguous(memory_format=torch.channels_last) if channels_last else batch["features"]
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits = model(features, heads=HEADS)
    losses = hppnet_losses({k: v.float() for k, v in logits.items()}, batch)
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
    optimizer.step()
    return time.perf_counter() - start, losses["total"].item()


def main(argv=None) -> int:
    from hppnet_plugin.config import HPPNetConfig

    args = _arguments(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = HPPNetConfig.for_variant(args.variant)
    crop_frames = int(round(args.crop_seconds * config.frames_per_second))
    batch = (cached_batch(Path(args.cache), args.batch_size, crop_frames) if args.cache
             else frontend_batch(config, args.batch_size, crop_frames))
    names = args.only or list(CONFIGURATIONS)
    models = _models(config, names)
    times = {name: [] for name in names}
    for name in names:
        _step(name, *models[name], batch)  # warm-up: oneDNN builds its kernels
    for _ in range(args.runs):
        for name in names:
            seconds, _ = _step(name, *models[name], batch)
            times[name].append(seconds)
            print(f"  {name}: {seconds:.2f} s", flush=True)
    reference = statistics.median(times[names[0]])
    print(f"\n{args.variant}, batch {args.batch_size} x {args.crop_seconds:g} s, {args.threads} threads, "
          f"median of {args.runs}:")
    rows = {}
    for name in names:
        median = statistics.median(times[name])
        rows[name] = {"median_s": round(median, 3), "runs_s": [round(t, 3) for t in times[name]],
                      "speed_vs_first": round(reference / median, 3)}
        print(f"{name:32s} {median:6.2f} s/step   x{reference / median:.2f}")
    report = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_model(), "cpu_features": cpu_features(),
              "torch": torch.__version__, "variant": args.variant, "batch_size": args.batch_size,
              "crop_seconds": args.crop_seconds, "threads": args.threads,
              "data": "cached training crops" if args.cache else "synthetic piano features",
              "results": rows}
    out = Path(args.json or Path(__file__).with_name(f"results-training-step-{args.variant}.json"))
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
