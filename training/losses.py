"""The paper's losses (eq. 2-7)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from hppnet_plugin.decoding import PARTIAL_INTERVALS, PARTIAL_SOURCE_FRAMES

from .labels import velocity_target

ONSET_POSITIVE_WEIGHT = 2.0


def partial_onset_negatives(onset_target: torch.Tensor) -> torch.Tensor:
    """(batch, frames, keys) 1 where a key has no onset label but lies a partial interval above a
    key whose onset label is within PARTIAL_SOURCE_FRAMES frames before or one after: where the
    decoder's threshold on partials applies, and where most false notes on an unheard piano are."""
    frames = onset_target.shape[1]
    struck = torch.zeros_like(onset_target)
    for shift in range(-1, PARTIAL_SOURCE_FRAMES + 1):  # struck[t] = max(onset[t - shift])
        if shift >= 0:
            struck[:, shift:] = torch.maximum(struck[:, shift:], onset_target[:, :frames - shift])
        else:
            struck[:, :shift] = torch.maximum(struck[:, :shift], onset_target[:, -shift:])
    above = torch.zeros_like(onset_target)
    for interval in PARTIAL_INTERVALS:
        above[..., interval:] = torch.maximum(above[..., interval:], struck[..., :-interval])
    return above * (1.0 - onset_target)


def hppnet_losses(logits: dict, batch: dict, partial_negative_weight: float = 1.0) -> dict:
    """Per-head losses and their sum.

    onset: BCE with positive weight 2; frame, offset: BCE; velocity: squared error
    of sigmoid(velocity) against velocity/128, averaged over onset frames only.
    ``partial_negative_weight`` weighs the onset loss of the keys without an onset on a partial
    of a key being struck (:func:`partial_onset_negatives`) that many times.
    """
    onset_target = batch["onset"]
    weight = None
    if partial_negative_weight != 1.0:
        weight = 1.0 + (partial_negative_weight - 1.0) * partial_onset_negatives(onset_target)
    losses = {
        "onset": F.binary_cross_entropy_with_logits(
            logits["onset"], onset_target, weight=weight,
            pos_weight=torch.tensor(ONSET_POSITIVE_WEIGHT, device=onset_target.device)),
        "frame": F.binary_cross_entropy_with_logits(logits["frame"], batch["frame"]),
        "offset": F.binary_cross_entropy_with_logits(logits["offset"], batch["offset"]),
    }
    velocity = torch.sigmoid(logits["velocity"].float())
    squared = (velocity - velocity_target(batch["velocity"])) ** 2
    losses["velocity"] = (onset_target * squared).sum() / onset_target.sum().clamp_min(1.0)
    losses["total"] = sum(losses.values())
    return losses
