"""CQT front end: 16 kHz samples (batch, samples) -> log-CQT (batch, 1, frames, bins)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import HPPNetConfig


class LogCQT(nn.Module):
    """nnAudio's CQT1992v2 kernels with the paper's parameters, then a fixed-reference log.

    nnAudio pads every bin's kernel to the longest one (~65k samples for the
    lowest bin). Here the bins are split into octave groups and each group's
    kernels are cropped to that group's support (the cropped part is exactly
    zero), which gives the same numbers several times faster.

    Output frame ``i`` is centred on sample ``i * hop_length``; a clip of ``n``
    samples gives ``n // hop_length + 1`` frames. The signal is zero-padded at
    both ends (so clips shorter than a kernel work).
    """

    def __init__(self, config: HPPNetConfig):
        super().__init__()
        from nnAudio.features import CQT1992v2

        self.hop_length = config.hop_length
        self.log_floor_db = config.log_floor_db
        reference = CQT1992v2(
            sr=config.sample_rate, hop_length=config.hop_length, fmin=config.fmin_hz,
            n_bins=config.n_bins, bins_per_octave=config.bins_per_octave,
            output_format="Magnitude", pad_mode="constant", verbose=False,
        )
        # nnAudio's default "librosa" normalisation scales bin k by sqrt(length_k);
        # folding it into the kernels gives the same output.
        scale = torch.sqrt(reference.lenghts.float()).view(-1, 1)
        real = reference.cqt_kernels_real[:, 0] * scale  # (bins, width)
        imag = reference.cqt_kernels_imag[:, 0] * scale
        width = real.shape[-1]
        self.full_width = width
        nonzero = (real.abs() + imag.abs()) > 0
        self.groups = []
        for g, first in enumerate(range(0, config.n_bins, config.bins_per_octave)):
            last = min(first + config.bins_per_octave, config.n_bins)
            cols = torch.nonzero(nonzero[first:last].any(0)).flatten()
            # Keep the crop symmetric about the kernel centre so frame alignment holds.
            half = int(max(width // 2 - cols.min(), cols.max() - width // 2)) + 1
            lo, hi = width // 2 - half, width // 2 + half
            kernel = torch.cat([real[first:last, lo:hi], imag[first:last, lo:hi]]).unsqueeze(1)
            self.register_buffer(f"kernel_{g}", kernel.float().contiguous(), persistent=False)
            self.groups.append((last - first, half))

    @property
    def padding(self) -> int:
        """Samples of context a frame needs on each side (half the longest kernel)."""
        return self.full_width // 2

    def forward(self, audio: torch.Tensor, prepadded: bool = False) -> torch.Tensor:
        """(B, samples) -> (B, 1, frames, bins).

        With ``prepadded=True`` the input already holds :attr:`padding` samples of
        real context before the first frame's centre and after the last one, and
        ``(samples - 2 * padding) // hop_length + 1`` frames come out; this is how
        long audio is processed window by window with the same numbers as at once.
        """
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        audio = audio.unsqueeze(1).float()  # (B, 1, samples)
        pad = self.padding
        if prepadded:
            n_frames = (audio.shape[-1] - 2 * pad) // self.hop_length + 1
            padded = audio
        else:
            n_frames = audio.shape[-1] // self.hop_length + 1
            padded = F.pad(audio, (pad, pad))
        outputs = []
        for g, (n_group_bins, half) in enumerate(self.groups):
            kernel = getattr(self, f"kernel_{g}")
            # This group's kernels span [centre - half, centre + half).
            segment = padded[..., pad - half:]
            out = F.conv1d(segment, kernel, stride=self.hop_length)[..., :n_frames]
            real, imag = out[:, :n_group_bins], out[:, n_group_bins:]
            outputs.append(torch.sqrt(real.pow(2) + imag.pow(2)))
        magnitude = torch.cat(outputs, dim=1)  # (B, bins, frames)
        # 10*log10 of the magnitude (authors' scaling) against a fixed floor, scaled
        # to [-1, ...] so the first conv sees unit-range inputs.
        floor = 10.0 ** (self.log_floor_db / 10.0)
        log_cqt = 10.0 * torch.log10(magnitude.clamp_min(floor)) / -self.log_floor_db
        return log_cqt.transpose(1, 2).unsqueeze(1)
