"""Scoring a model on cached validation pieces, shared by training (validation every N steps)
and export (threshold calibration): the model's rolls of a piece, decoded like inference,
scored with mir_eval (training.metrics)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.decoding import decode_rolls
from hppnet_plugin.inference import INFERENCE_HEADS, FeatureArraySource, stream_rolls

from . import metrics as M
from .data import cache_pieces, features_of, load_cached, shared_frontend
from .datasets import dataset_pieces

def piece_rolls(model, features, device=None, dtype=None) -> dict:
    """The model's probability rolls {onset, frame, velocity} of one piece's cached features,
    computed in the overlapping windows inference uses."""
    blocks = list(stream_rolls(model, FeatureArraySource(features), device=device, dtype=dtype))
    return {h: np.concatenate([b[h] for _, b in blocks]) for h in INFERENCE_HEADS}


def audio_rolls(model, audio, device=None, dtype=None) -> dict:
    """The model's rolls of 16 kHz audio (features computed as the cache computes them)."""
    return piece_rolls(model, features_of(audio, shared_frontend(model.config)), device, dtype)


def piece_scores(rolls: dict, reference, onset_threshold: float, frame_threshold: float,
                 fps: float = C.FRAMES_PER_SECOND, min_note_ms: float = C.MIN_NOTE_MS,
                 partial_onset_threshold=None) -> dict:
    """Flat mir_eval metrics of one piece's rolls, decoded at the given thresholds."""
    notes = decode_rolls(rolls["onset"], rolls["frame"], rolls["velocity"], onset_threshold, frame_threshold, fps,
                         min_note_ms, partial_onset_threshold)
    return M.flatten(M.transcription_metrics(reference, notes))


def validation_rolls(model, data_root, dataset: str = "maestro", cache_dir=None, max_pieces: int = 0,
                     device=None, dtype=None) -> list:
    """[(rolls, reference notes)] of the validation pieces (cached features, computed if missing)."""
    data_root = Path(data_root)
    pieces = dataset_pieces(dataset, data_root, "validation")
    if max_pieces:
        pieces = pieces[:max_pieces]
    paths = cache_pieces(pieces, Path(cache_dir) if cache_dir else data_root / ".hppnet-cache", model.config,
                         progress=False)
    return [(piece_rolls(model, load_cached(path)["features"], device, dtype), piece.notes())
            for path, piece in zip(paths, pieces)]


def validate(model, items, device) -> dict:
    """Mean metrics over [(cached item, reference notes)], at the model's own thresholds."""
    model.eval()
    rows = [piece_scores(piece_rolls(model, item["features"], device), reference,
                         model.config.onset_threshold, model.config.frame_threshold,
                         min_note_ms=model.config.min_note_ms,
                         partial_onset_threshold=model.config.partial_onset_threshold)
            for item, reference in items]
    model.train()
    return {k: v["mean"] for k, v in M.summarize(rows).items()}
