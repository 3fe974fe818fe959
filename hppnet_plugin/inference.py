"""Long inputs in fixed windows: features -> model -> stitched probability rolls.

A window is a core of ``chunk_frames`` frames plus ``context_frames`` on each side;
only the core's predictions are kept, so consecutive cores tile the input
exactly once (no note lost or doubled at a boundary: decoding runs once, on the
stitched stream). The CQT of each window is computed from the audio around it,
so features equal those of the whole file. Memory is bounded by the window and
batch size, not the file length.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from . import constants as C


INFERENCE_HEADS = ("onset", "frame", "velocity")  # the offset head is for training only


@contextmanager
def timed(timings, stage: str):
    """Add the block's wall time to ``timings[stage]`` (seconds) when timings is a dict."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


@contextmanager
def torch_threads(threads):
    """torch's CPU thread count set to ``threads`` inside the block and restored after it
    (None: left as it is), so that one transcriber's setting does not leak into the process."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def choose_device(device="auto") -> torch.device:
    """"auto" -> CUDA, then Apple MPS, then CPU; otherwise the named device."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'") from error
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; use device='auto' or 'cpu'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but Apple MPS is not available; use 'auto' or 'cpu'")
    return dev


def autocast_dtype(device: torch.device, precision: str = "auto"):
    """The reduced-precision dtype the model runs in on ``device``, or None for fp32.

    "auto": on a CPU, bf16 where it is native and measured faster than fp32 here
    (:func:`hppnet_plugin.cpu.bf16_is_faster_on_cpu`), else fp32; on CUDA and MPS, fp32.
    On the shipped weights CPU bf16 changes note F1 by less than 0.1 point (docs/model-card.md).
    CUDA stays fp32: under bf16 autocast on an H200 the onset head of tiny and base never left
    its prior in training, where fp32 learned (docs/gpu-training.md), and bf16 CUDA inference
    has not been measured on trained weights. "bf16"/"fp16" force a dtype; "fp32" turns reduced
    precision off.
    """
    if precision not in C.PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {C.PRECISIONS}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cpu":
        from .cpu import bf16_is_faster_on_cpu

        return torch.bfloat16 if bf16_is_faster_on_cpu() else None
    return None


class FeatureArraySource:
    """Windows cut from precomputed features (frames, bins), e.g. a training cache."""

    def __init__(self, features):
        self.features = torch.as_tensor(np.asarray(features, dtype=np.float32))

    def total_frames(self, needed_frame: int):
        return len(self.features)

    def get(self, start: int, end: int) -> torch.Tensor:
        return self.features[start:end]


class AudioFeatureSource:
    """Windows of log-CQT computed from a stream of 16 kHz blocks, with bounded memory."""

    def __init__(self, blocks, frontend, device, timings=None):
        self.timings = timings
        self.blocks = iter(blocks)
        self.frontend = frontend
        self.device = device
        self.hop = frontend.hop_length
        self.pad = frontend.padding
        self.buffer = np.zeros(0, np.float32)
        self.buffer_start = 0  # absolute sample index of buffer[0]
        self.n_samples = None  # known once the stream is exhausted

    def _fill(self, until_sample: int):
        parts = [self.buffer]
        have = self.buffer_start + len(self.buffer)
        while self.n_samples is None and have < until_sample:
            with timed(self.timings, "audio"):
                block = next(self.blocks, None)
            if block is None:
                self.n_samples = have
                break
            parts.append(block)
            have += len(block)
        self.buffer = np.concatenate(parts) if len(parts) > 1 else self.buffer

    def total_frames(self, needed_frame: int):
        """Frames in the input if known, else a bound proving ``needed_frame`` exists."""
        self._fill(needed_frame * self.hop + self.pad + 1)
        if self.n_samples is None:
            return math.inf
        return self.n_samples // self.hop + 1 if self.n_samples > 0 else 0

    def get(self, start: int, end: int) -> torch.Tensor:
        lo, hi = start * self.hop - self.pad, (end - 1) * self.hop + self.pad + 1
        self._fill(hi)
        # Drop audio no later window needs (windows only move forward).
        drop = max(0, lo - self.buffer_start)
        self.buffer, self.buffer_start = self.buffer[drop:], self.buffer_start + drop
        segment = np.zeros(hi - lo, np.float32)
        a, b = max(lo, self.buffer_start), min(hi, self.buffer_start + len(self.buffer))
        if self.n_samples is not None:
            b = min(b, self.n_samples)
        if b > a:
            segment[a - lo:b - lo] = self.buffer[a - self.buffer_start:b - self.buffer_start]
        with torch.no_grad(), timed(self.timings, "cqt"):
            audio = torch.from_numpy(segment).to(self.device)
            return self.frontend(audio.unsqueeze(0), prepadded=True)[0, 0]


EDGE_SILENCE_FRAMES = 50
"""Frames of silence placed before the first and after the last frame of an input. The
convolutions' zero padding is not silence for a log-CQT whose floor is -1, and a model
sees it as a sudden event at the edges (measured: the shipped tiny model fires onsets of
p = 0.8 on pure digital silence without this, none with 10 frames or more)."""


def stream_rolls(model, source, chunk_frames: int = 1000, context_frames: int = 100,
                 batch_size: int = 4, heads=INFERENCE_HEADS, device=None, progress=None, timings=None,
                 edge_frames: int = EDGE_SILENCE_FRAMES, silence: float = -1.0, dtype=None,
                 crossfade_frames: int = 0):
    """Yield ``(start_frame, {head: probabilities (frames, 88) float32 ndarray})`` in order.

    ``source`` gives features for frame ranges (see FeatureArraySource,
    AudioFeatureSource). Several windows are batched into one forward pass.
    ``edge_frames`` of ``silence`` (the log-CQT floor) surround the input.
    ``dtype``: run the model under autocast to this dtype (see :func:`autocast_dtype`).
    ``crossfade_frames``: at each boundary between two cores, blend the two windows'
    probabilities linearly over this many frames centred on the boundary (each window sees
    them, in its core or its context) instead of switching from one to the next at once; at
    most ``2 * context_frames`` and ``chunk_frames``.
    """
    if chunk_frames < 1 or context_frames < 0 or batch_size < 1:
        raise ValueError("chunk_frames and batch_size must be >= 1 and context_frames >= 0")
    half = int(crossfade_frames) // 2
    if half < 0 or half > context_frames or 2 * half > chunk_frames:
        raise ValueError(f"crossfade_frames must be 0..min(2 * context_frames, chunk_frames); got {crossfade_frames}")
    windows = _window_rolls(model, source, chunk_frames, context_frames, batch_size, heads, device, timings,
                            edge_frames, silence, dtype)
    blocks = _crossfaded(windows, half) if half else (
        (s, {h: p[s - lo:e - lo] for h, p in probs.items()}) for s, e, lo, probs in windows)
    for start, block in blocks:
        yield start, block
        if progress is not None:
            progress(start + len(next(iter(block.values()))))


def _window_rolls(model, source, chunk_frames, context_frames, batch_size, heads, device, timings, edge_frames,
                  silence, dtype):
    """Yield ``(core start, core end, first frame, {head: probabilities})`` per window in order:
    the probabilities cover the window's context and core from its first frame."""
    device = device or next(model.parameters()).device
    start = 0
    # Not constructed for fp32: torch.autocast raises on some devices (MPS on older torch) even disabled.
    autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    while True:
        batch = []
        while len(batch) < batch_size:
            total = source.total_frames(start + chunk_frames + context_frames)
            if start >= total:
                break
            end = int(min(start + chunk_frames, total))
            lo, hi = max(0, start - context_frames), int(min(end + context_frames, total))
            features = source.get(lo, hi)
            before = edge_frames if lo == 0 else 0
            after = edge_frames if hi == total else 0
            if before or after:
                features = torch.cat([features.new_full((before, features.shape[-1]), silence), features,
                                      features.new_full((after, features.shape[-1]), silence)])
            batch.append((start, end, lo - before, features))
            start = end
        if not batch:
            return
        # Windows of equal length share a forward pass; the first and last windows
        # (shorter: no context beyond the ends) run on their own, unpadded, so the
        # edges see exactly what a single pass over the whole input would see.
        probs = [None] * len(batch)
        for length in sorted({len(f) for *_, f in batch}):
            members = [i for i, (*_, f) in enumerate(batch) if len(f) == length]
            x = torch.stack([batch[i][3] for i in members]).unsqueeze(1).to(device)
            with torch.no_grad(), autocast, timed(timings, "model"):
                logits = model(x, heads=heads)
                out = {h: torch.sigmoid(v).float().cpu().numpy() for h, v in logits.items()}
            for j, i in enumerate(members):
                probs[i] = {h: v[j] for h, v in out.items()}
        for i, (s, e, lo, _) in enumerate(batch):
            yield s, e, lo, probs[i]


def _crossfaded(windows, half: int):
    """Contiguous blocks of probabilities from consecutive windows, blended linearly over
    [boundary - half, boundary + half) at each boundary between two cores."""
    fade = ((np.arange(2 * half, dtype=np.float32) + 0.5) / (2 * half))[:, None]  # the next window's weight
    held, previous = None, None  # the fade region of the window before; that window, not yet yielded
    for window in windows:
        if previous is not None:
            block, held = _blend(previous, held, fade, half, last=False)
            yield block
        previous = window
    if previous is not None:
        yield _blend(previous, held, fade, half, last=True)[0]


def _blend(window, held, fade, half: int, last: bool):
    """((first frame, block), the fade region for the next window) of one window."""
    s, e, lo, probs = window
    first = s if held is None else s - half
    end = e if last else e - half
    block = {h: p[first - lo:end - lo].copy() for h, p in probs.items()}
    if held is not None:  # the last core may be shorter than the fade: blend what there is
        for h, p in block.items():
            n = min(2 * half, len(p))
            p[:n] = (1 - fade[:n]) * held[h][:n] + fade[:n] * p[:n]
    following = None if last else {h: p[e - half - lo:e + half - lo] for h, p in probs.items()}
    return (first, block), following
