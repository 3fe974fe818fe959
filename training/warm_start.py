"""Seed an hppnet-sp from a trained hppnet-base (issue: sp warm start).

sp is two trunks of base's shape, one for onsets and one for frame, offset and velocity,
whose heads also see the detached onset probability as one extra input channel. Base's
trunk goes into both sp trunks, base's heads into sp's heads, and the extra channel of
the frame/offset/velocity LSTMs gets zero input weights, so the seeded sp computes
exactly base's outputs; fine-tuning then only has to teach the specialisation.
"""
from __future__ import annotations

import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.model import HEADS

# LSTM input weights are (4 * hidden, inputs): these gain one input column, set to zero.
_INPUT_WEIGHTS = ("lstm.weight_ih_l0", "lstm.weight_ih_l0_reverse")


def sp_config_from_base(base: HPPNetConfig) -> HPPNetConfig:
    if base.variant != "base":
        raise ValueError(f"an sp warm start needs hppnet-base weights; got a {base.variant!r} model")
    return HPPNetConfig.from_dict({**base.to_dict(), "variant": "sp"})


def sp_state_from_base(base_state: dict) -> dict:
    """State dict of an hppnet-sp that computes what the hppnet-base ``base_state`` computes."""
    sp = {}
    for key, value in base_state.items():
        value = value.detach().float().clone()
        if key.startswith("trunk."):
            sp[key] = value
            sp["onset_" + key] = value.clone()
        elif key.startswith("heads."):
            head, param = key.split(".", 2)[1:]
            if head not in HEADS:
                raise ValueError(f"unexpected head {head!r} in the base weights")
            if head != "onset" and param in _INPUT_WEIGHTS:
                value = torch.cat([value, torch.zeros(value.shape[0], 1)], dim=1)
            sp[key] = value
        else:
            raise ValueError(f"unexpected parameter {key!r} in the base weights")
    return sp
