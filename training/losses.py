"""The paper's losses (eq. 2-7)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .labels import velocity_target

ONSET_POSITIVE_WEIGHT = 2.0


def hppnet_losses(logits: dict, batch: dict) -> dict:
    """Per-head losses and their sum.

    onset: BCE with positive weight 2; frame, offset: BCE; velocity: squared error
    of sigmoid(velocity) against velocity/128, averaged over onset frames only.
    """
    onset_target = batch["onset"]
    losses = {
        "onset": F.binary_cross_entropy_with_logits(
            logits["onset"], onset_target,
            pos_weight=torch.tensor(ONSET_POSITIVE_WEIGHT, device=onset_target.device)),
        "frame": F.binary_cross_entropy_with_logits(logits["frame"], batch["frame"]),
        "offset": F.binary_cross_entropy_with_logits(logits["offset"], batch["offset"]),
    }
    velocity = torch.sigmoid(logits["velocity"].float())
    squared = (velocity - velocity_target(batch["velocity"])) ** 2
    losses["velocity"] = (onset_target * squared).sum() / onset_target.sum().clamp_min(1.0)
    losses["total"] = sum(losses.values())
    return losses
