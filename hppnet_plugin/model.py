"""HPPNet: harmonic dilated convolution trunk + frequency-grouped LSTM heads.

Layout everywhere: features (batch, 1, frames, bins) -> logits (batch, frames, 88).
No I/O and no device handling here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import HPPNetConfig

HEADS = ("onset", "frame", "offset", "velocity")

INITIAL_PROBABILITY = {"onset": 0.01, "frame": 0.05, "offset": 0.01, "velocity": 0.5}
"""Output-bias initialisation: each head starts at roughly its label frequency
instead of 0.5, which skips the long first phase in which the network only learns
that almost every (frame, key) is silent (an init choice, not an architecture change)."""


class HarmonicDilatedConv(nn.Module):
    """HD-Conv: the sum of one 1x3 frequency-dilated conv per harmonic, then ReLU.

    Parameters are stored in the paper's 8-branch layout (``branches.i.weight`` of
    shape (out, in, 1, 3)), so checkpoints are faithful to the paper. ``forward``
    uses the exact fast form: the 17 distinct frequency shifts of the input
    (centre + up/down per harmonic) are stacked on the channel axis and mixed by one
    1x1 convolution (a single GEMM) whose weight is assembled from the branches,
    the centre taps summed. ``forward_reference`` runs the 8 dilated convs.
    """

    def __init__(self, in_channels: int, out_channels: int, dilations):
        super().__init__()
        self.dilations = tuple(int(d) for d in dilations)
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, (1, 3), padding=(0, d), dilation=(1, d))
            for d in self.dilations
        )

    def fused_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(out, 17*in, 1, 1) weight and (out,) bias of the equivalent 1x1 conv.

        Input channel blocks are ordered: centre, then for each harmonic the
        shift by -d (tap 0) and by +d (tap 2).
        """
        ws = [b.weight for b in self.branches]  # each (out, in, 1, 3)
        centre = sum(w[..., 1] for w in ws)
        blocks = [centre]
        for w in ws:
            blocks += [w[..., 0], w[..., 2]]
        weight = torch.cat(blocks, dim=1).unsqueeze(-1)
        bias = sum(b.bias for b in self.branches)
        return weight, bias

    def shifted_stack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, F) -> (B, 17*C, T, F): x[f], then x[f-d], x[f+d] per dilation."""
        n_bins = x.shape[-1]
        pad = max(self.dilations)
        xp = F.pad(x, (pad, pad))
        copies = [x]
        for d in self.dilations:
            copies.append(xp[..., pad - d: pad - d + n_bins])
            copies.append(xp[..., pad + d: pad + d + n_bins])
        return torch.cat(copies, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.fused_weight()
        return F.relu(F.conv2d(self.shifted_stack(x), weight, bias))

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(sum(branch(x) for branch in self.branches))


def instance_norm(channels: int) -> nn.Module:
    """Instance normalisation with a per-channel affine, as GroupNorm(C, C).

    Mathematically identical to ``nn.InstanceNorm2d(C, affine=True)`` (same
    parameter names, so checkpoints are interchangeable), but nn.InstanceNorm2d's
    CPU backward is wrong for channels-last tensors in torch 2.13 (the layout the
    FG-LSTM's permute hands back as gradient): measured max gradient error 14
    against a hand-written norm, which stalled training. GroupNorm's is exact
    (tests/test_model.py checks this).
    """
    return nn.GroupNorm(channels, channels, eps=1e-5, affine=True)


def _conv_block(cin, cout, kernel, dilation=(1, 1)):
    padding = tuple(dil * (k // 2) for k, dil in zip(kernel, dilation))
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation),
        nn.ReLU(),
        instance_norm(cout),
    )


HDCONV_TIME_BLOCK = 16
"""Frames per slice when HD-Conv + pooling run without autograd. HD-Conv and the
key pooling look at one frame at a time, so slicing is exact; a slice's 17 stacked
copies (16 frames of tiny: 1.5 MB) stay in cache instead of a 24 s window's
~570 MB going through memory (measured on 2 cores: 0.90 s -> 0.27 s per window)."""


class Trunk(nn.Module):
    """Log-CQT (B, 1, T, 352) -> key features (B, E, T, 88)."""

    def __init__(self, config: HPPNetConfig):
        super().__init__()
        s, e = config.stem_channels, config.channels
        self.stem = nn.Sequential(
            _conv_block(1, s, (7, 7)), _conv_block(s, s, (7, 7)), _conv_block(s, s, (7, 7))
        )
        self.hdconv = HarmonicDilatedConv(s, e, config.dilations)
        bins_per_key = config.n_bins // 88
        self.pool = nn.MaxPool2d((1, bins_per_key))
        self.context = nn.Sequential(*[_conv_block(e, e, (5, 3), dilation=(1, 12)) for _ in range(4)])

    def harmonic_keys(self, x: torch.Tensor) -> torch.Tensor:
        """Stem output (B, S, T, 352) -> HD-Conv pooled to keys (B, E, T, 88)."""
        if torch.is_grad_enabled():  # autograd keeps every slice's stack anyway
            return self.pool(self.hdconv(x))
        return torch.cat([self.pool(self.hdconv(s)) for s in x.split(HDCONV_TIME_BLOCK, dim=2)], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.context(self.harmonic_keys(self.stem(x)))


class FGLSTMHead(nn.Module):
    """Frequency-grouped LSTM: every key is its own sequence through one shared
    bidirectional LSTM (pitch invariance), then Linear -> 1 logit per key and frame."""

    def __init__(self, in_channels: int, hidden: int, initial_probability: float = 0.5):
        super().__init__()
        self.lstm = nn.LSTM(in_channels, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden, 1)
        p = initial_probability
        nn.init.constant_(self.linear.bias, math.log(p / (1 - p)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, e, t, k = features.shape
        seq = features.permute(0, 3, 2, 1).reshape(b * k, t, e)
        out, _ = self.lstm(seq)
        logits = self.linear(out).reshape(b, k, t)
        return logits.transpose(1, 2)  # (B, T, 88)


class HPPNet(nn.Module):
    """The three variants of the paper, chosen by ``config.variant``.

    ``forward(features, heads=...)`` returns a dict of logits (B, T, 88) for the
    requested heads; inference skips ``offset`` (used for training only).
    """

    def __init__(self, config: HPPNetConfig):
        super().__init__()
        self.config = config
        e, hidden = config.channels, config.channels // 2
        if config.variant == "sp":
            self.onset_trunk = Trunk(config)
            self.trunk = Trunk(config)
            self.heads = nn.ModuleDict({"onset": FGLSTMHead(e, hidden, INITIAL_PROBABILITY["onset"])})
            for name in HEADS[1:]:
                self.heads[name] = FGLSTMHead(e + 1, hidden, INITIAL_PROBABILITY[name])
        else:
            self.trunk = Trunk(config)
            self.heads = nn.ModuleDict({name: FGLSTMHead(e, hidden, INITIAL_PROBABILITY[name]) for name in HEADS})

    def forward(self, features: torch.Tensor, heads=HEADS) -> dict:
        unknown = set(heads) - set(HEADS)
        if unknown:
            raise ValueError(f"unknown heads {sorted(unknown)}; choose from {HEADS}")
        out = {}
        if self.config.variant == "sp":
            onset_logits = self.heads["onset"](self.onset_trunk(features))
            out["onset"] = onset_logits
            shared = self.trunk(features)
            onset_channel = torch.sigmoid(onset_logits.detach()).unsqueeze(1)  # (B, 1, T, 88)
            shared = torch.cat([shared, onset_channel], dim=1)
            for name in heads:
                if name != "onset":
                    out[name] = self.heads[name](shared)
        else:
            shared = self.trunk(features)
            for name in heads:
                out[name] = self.heads[name](shared)
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
