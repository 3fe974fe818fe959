"""Distillation toward a teacher's probabilities: a fine-tune on a new corpus keeps what the
teacher already does well (music it transcribes) while the labels teach the new parts.

The loss is the binary KL divergence of the student's onset, frame and offset probabilities from
the teacher's (cross-entropy minus the teacher's entropy: 0 where they agree), averaged over
the crops that may be distilled: those of pieces with notes (a teacher that writes notes on
noise or speech must not teach them), minus the sources ``--distill-exclude-source`` names
(e.g. ``speech-texture``, music with a spoken announcement). With ``labels``, only the frames and
keys where the teacher is right (its probability on the label's side of 0.5) are distilled: where
it errs, the labels alone teach, instead of ten times their weight holding the student to the
teacher's misses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hppnet_plugin.config import HPPNetConfig

from .data import FRONTEND_FIELDS, cached_piece_name
from .datasets import generated_sources, synth_index_rows, voice_in

DISTILLED_HEADS = ("onset", "frame", "offset")


def load_teacher(path, config: HPPNetConfig, device) -> torch.nn.Module:
    """The frozen teacher model of ``path`` (any variant reading the student's features)."""
    from hppnet_plugin.weights import build_model, load_weights

    config_dict, state = load_weights(path)
    teacher_config = HPPNetConfig.from_dict(config_dict)
    different = [f for f in FRONTEND_FIELDS if getattr(teacher_config, f) != getattr(config, f)]
    if different:
        raise ValueError(f"--distill-from {path} reads other features than this run ({', '.join(different)} "
                         "differ); distil from weights with the same front end")
    teacher = build_model(config_dict, state, source=str(path)).to(device)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def distilled_sources(cached_paths, root, excluded_sources=(), excluded_voices=()) -> np.ndarray:
    """Per cached piece: whether it may be distilled: not made from one of ``excluded_sources``
    nor rendered with one of ``excluded_voices`` (a piano the teacher transcribes badly would
    teach its errors). Whether it has notes is the dataset's to check, on the labels it holds."""
    if not excluded_sources and not excluded_voices:
        return np.ones(len(cached_paths), dtype=bool)
    rows = synth_index_rows(root, ("source", "soundfont"), "--distill-exclude-source / --distill-exclude-voice")
    names = {Path(r["audio_filename"]).stem for r in rows
             if r["source"] in set(excluded_sources) or voice_in(r["soundfont"], excluded_voices)}
    if not names:
        raise ValueError(f"--distill-exclude-source {list(excluded_sources)} / --distill-exclude-voice "
                         f"{list(excluded_voices)} name no piece; generated sources in the corpus: "
                         f"{generated_sources(rows)}; voices: {sorted({r['soundfont'] for r in rows})}")
    return np.array([cached_piece_name(p) not in names for p in cached_paths], dtype=bool)


def distillation_loss(logits: dict, teacher_logits: dict, mask: torch.Tensor, labels=None) -> torch.Tensor:
    """Mean over heads of the binary KL divergence from the teacher's probabilities, over the crops
    ``mask`` (B,) keeps; with ``labels`` ({head: (B, T, 88) 0/1}), over the frames and keys where
    the teacher is on the label's side of 0.5 (a sum over them divided by all frames and keys, so
    that the teacher's errors only drop out)."""
    if not mask.any():
        return logits["onset"].new_zeros(())
    losses = []
    for head in DISTILLED_HEADS:
        teacher = teacher_logits[head].float()
        target = torch.sigmoid(teacher)
        cross = F.binary_cross_entropy_with_logits(logits[head], target, reduction="none")
        entropy = F.binary_cross_entropy_with_logits(teacher, target, reduction="none")
        divergence = cross - entropy
        if labels is not None:
            divergence = divergence * ((target > 0.5) == (labels[head] > 0.5))
        per_crop = divergence.mean(dim=(1, 2))
        losses.append((per_crop * mask).sum() / mask.sum())
    return sum(losses) / len(losses)
