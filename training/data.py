"""Feature + label cache, random training crops and the order an epoch draws them in.

Each piece is turned once into a compressed ``.npz`` holding its log-CQT
(float16, frames x 352) and label rolls (uint8, frames x 88), keyed by the audio
file, its size and mtime, and the front-end settings, so an epoch never
recomputes features and a changed front end never reads stale ones.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
from pathlib import Path

import numpy as np
import torch

from hppnet_plugin.audio import load_audio
from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.frontend import LogCQT
from hppnet_plugin.io import atomic_write

from .labels import notes_to_rolls

log = logging.getLogger(__name__)

FRONTEND_FIELDS = ("sample_rate", "hop_length", "n_bins", "bins_per_octave", "fmin_hz", "log_floor_db")
LABEL_VERSION = 1


def cache_key(piece, config: HPPNetConfig) -> str:
    stat = Path(piece.audio_path).stat()
    parts = {"audio": str(Path(piece.audio_path).resolve()), "size": stat.st_size, "mtime": stat.st_mtime,
             "midi": str(piece.midi_path), "txt": str(piece.txt_path), "labels": LABEL_VERSION,
             **{f: getattr(config, f) for f in FRONTEND_FIELDS}}
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def features_of(audio, frontend) -> np.ndarray:
    """Log-CQT features (frames, 352) of 16 kHz audio, as the cache stores them (float16)."""
    with torch.no_grad():
        return frontend(torch.from_numpy(np.asarray(audio, np.float32)))[0, 0].numpy().astype(np.float16)


def cached_piece_name(path) -> str:
    """The piece name of a cache file (``<name>-<key>.npz``)."""
    return Path(path).stem.rsplit("-", 1)[0]


def cache_piece(piece, cache_dir, config: HPPNetConfig, frontend=None) -> Path:
    """Compute (or reuse) the cached features and labels of ``piece``; returns the file."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{piece.name}-{cache_key(piece, config)}.npz"
    if path.exists():
        return path
    frontend = frontend or shared_frontend(config)
    try:
        audio = load_audio(piece.audio_path)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"cannot cache {piece.audio_path}: {error}") from error
    features = features_of(audio, frontend)
    rolls = notes_to_rolls(piece.notes(), len(features))
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez_compressed(f, features=features, **rolls), overwrite=True)
    return path


_FRONTENDS = {}


def shared_frontend(config: HPPNetConfig) -> LogCQT:
    """One CPU front end per process and configuration, built when first needed: building the CQT
    kernels costs more than a short piece, and a filled cache needs none."""
    if config not in _FRONTENDS:
        _FRONTENDS[config] = LogCQT(config)
    return _FRONTENDS[config]


def _cache_one(args):
    piece, cache_dir, config = args
    torch.set_num_threads(1)
    try:
        return cache_piece(piece, cache_dir, config), None
    except ValueError as error:
        return None, str(error)


def cache_pieces(pieces, cache_dir, config, progress=True, workers: int = 1) -> list:
    """Cache every piece (``workers`` processes, one thread each, when > 1); unreadable ones
    are skipped with a logged count. Returns the paths in the order of ``pieces``."""
    from tqdm import tqdm

    paths, failed = [], []
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap(_cache_one, [(p, cache_dir, config) for p in pieces]),
                                total=len(pieces), desc="caching features", unit="piece", disable=not progress))
    else:
        results = []
        for piece in tqdm(pieces, desc="caching features", unit="piece", disable=not progress):
            try:
                results.append((cache_piece(piece, cache_dir, config), None))
            except ValueError as error:
                results.append((None, str(error)))
    for path, error in results:
        if path is not None:
            paths.append(path)
        else:
            failed.append(error)
    if failed:
        log.warning("skipped %d unreadable pieces (first: %s)", len(failed), failed[0])
    if not paths:
        raise ValueError(f"no usable pieces to cache ({len(failed)} failed)")
    return paths


def load_cached(path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


class CropDataset(torch.utils.data.Dataset):
    """Fixed-length crops from cached pieces held in memory, re-drawn every epoch.

    An epoch has ``total_frames // crop_frames`` crops; crop ``i`` of epoch ``e``
    picks its piece (proportional to length) and offset from a generator seeded
    by (seed, e, i), so any sampler - random or ``DistributedSampler`` - sees the
    same deterministic epoch. Pieces shorter than the crop are padded with
    silence (features -1, labels 0). Each crop also says (``distill``, 0 or 1) whether a teacher's
    probabilities may train on it: its piece has notes and ``distill_sources`` allows it.
    """

    def __init__(self, cached_paths, crop_frames: int, seed: int = 0, edge_crops: bool = False,
                 note_free_weight: float = 1.0, distill_sources=None):
        self.items = [load_cached(p) for p in cached_paths]
        lengths = np.array([len(i["features"]) for i in self.items], dtype=np.float64)
        has_notes = np.array([i["onset"].any() for i in self.items])
        # Pieces without a single onset (noise clips) can be drawn more often than their length says.
        weights = lengths * np.where(has_notes, 1.0, note_free_weight)
        allowed = np.ones(len(self.items), bool) if distill_sources is None else np.asarray(distill_sources, bool)
        self.distill = (has_notes & allowed).astype(np.float32)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.crop_frames = crop_frames
        self.edge_crops = edge_crops
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    @property
    def total_frames(self) -> int:
        return int(sum(len(i["features"]) for i in self.items))

    def __len__(self):
        return max(1, self.total_frames // self.crop_frames)

    def crop(self, index: int, start: int) -> dict:
        """Frames [start, start + crop_frames) of a piece; outside the piece (start < 0, or past
        its end) is silence: features at the floor (-1), labels 0, as inference pads files."""
        item, n = self.items[index], self.crop_frames
        out = {}
        for key, value in item.items():
            fill = -1.0 if key == "features" else 0
            before = max(0, -start)
            piece = value[max(0, start):start + n]
            after = n - before - len(piece)
            parts = [np.full((k,) + value.shape[1:], fill, dtype=value.dtype) for k in (before, after)]
            out[key] = np.concatenate([parts[0], piece, parts[1]]) if before or after else piece
        return out

    def __getitem__(self, i: int) -> dict:
        index, start = self.position(i)
        return {**self.crop(index, start), "distill": self.distill[index]}

    def position(self, i: int) -> tuple:
        """(piece index, start frame) of crop ``i`` of this epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, i])
        index = min(int(np.searchsorted(self.cumulative, rng.random())), len(self.items) - 1)
        length = len(self.items[index]["features"])
        if self.edge_crops:  # a file's first and last frames (where recordings start and stop) are
            # otherwise in 1 of (length - crop) crops; here a crop may reach half its length beyond.
            half = self.crop_frames // 2
            start = int(rng.integers(-half, max(1 - half, length - half)))
        else:
            start = int(rng.integers(0, max(1, length - self.crop_frames + 1)))
        return index, start


def collate(crops) -> dict:
    """List of crop dicts -> batch tensors: features (B, 1, T, bins), rolls (B, T, 88) float."""
    batch = {"features": torch.from_numpy(np.stack([c["features"] for c in crops]).astype(np.float32)).unsqueeze(1)}
    for key in ("onset", "frame", "offset", "velocity"):
        batch[key] = torch.from_numpy(np.stack([c[key] for c in crops]).astype(np.float32))
    if all("distill" in c for c in crops):
        batch["distill"] = torch.tensor([float(c["distill"]) for c in crops])
    return batch


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


def training_crops(args, config: HPPNetConfig, train_paths, rank: int, world: int, dist,
                   distill_sources=None) -> tuple:
    """(dataset of random crops, sampler, DataLoader arguments) of a run's options ``args``."""
    crop_frames = int(round(args.crop_seconds * config.frames_per_second))
    dataset = CropDataset(train_paths, crop_frames, seed=args.seed, edge_crops=args.edge_crops,
                          note_free_weight=args.note_free_weight, distill_sources=distill_sources)
    if dist is not None:
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, world, rank, shuffle=True, seed=args.seed)
    else:
        sampler = EpochSampler(len(dataset), args.seed)
    loader_args = dict(batch_size=args.batch_size, sampler=sampler, collate_fn=collate,
                       num_workers=args.workers, drop_last=len(dataset) >= args.batch_size * world)
    return dataset, sampler, loader_args


def epoch_batches(dataset, sampler, loader_args, epoch: int, batches_done: int):
    """The batches of ``epoch`` not yet trained on (a resumed epoch continues after ``batches_done``)."""
    dataset.set_epoch(epoch)
    skip = batches_done
    if isinstance(sampler, EpochSampler):
        sampler.set_epoch(epoch, skip=skip * loader_args["batch_size"])
        skip = 0
    else:
        sampler.set_epoch(epoch)
    return itertools.islice(torch.utils.data.DataLoader(dataset, **loader_args), skip, None)
