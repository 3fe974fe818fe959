"""The architecture + front-end description stored inside every checkpoint."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from . import constants as C

VARIANTS = ("sp", "base", "tiny")
DECODING_FIELDS = ("onset_threshold", "frame_threshold", "min_note_ms", "partial_onset_threshold")
"""The config fields that set decoding, not the architecture."""


@dataclass(frozen=True)
class HPPNetConfig:
    """Everything needed to rebuild an HPPNet and its front end.

    Parameters
    ----------
    variant : {"sp", "base", "tiny"}
        ``sp``: separate onset trunk, onset prediction fed to the other heads;
        ``base``: one trunk, four heads; ``tiny``: base with narrow channels.
    channels : int
        E, the trunk's output channels (128 in the paper, 48 for tiny). The LSTM
        has ``channels // 2`` units per direction.
    stem_channels : int
        Channels of the three 7x7 convolutions (16 in the paper).
    harmonics : tuple of int
        Harmonics h whose dilation ``round(48 * log2(h))`` HD-Conv uses.
    onset_threshold, frame_threshold, min_note_ms : float
        Decoding defaults stored with the weights (``export --calibrate`` chooses them).
    partial_onset_threshold : float or None
        The onset threshold of keys that sit on a partial of a key being struck
        (:data:`hppnet_plugin.decoding.PARTIAL_INTERVALS`); None: ``onset_threshold``.
    """

    variant: str = "sp"
    channels: int = 128
    stem_channels: int = 16
    harmonics: tuple = (2, 3, 4, 5, 6, 7, 8, 9)
    sample_rate: int = C.SAMPLE_RATE
    hop_length: int = C.HOP_LENGTH
    n_bins: int = C.N_BINS
    bins_per_octave: int = C.BINS_PER_OCTAVE
    fmin_hz: float = C.CQT_FMIN_HZ
    log_floor_db: float = C.LOG_FLOOR_DB
    onset_threshold: float = C.ONSET_THRESHOLD
    frame_threshold: float = C.FRAME_THRESHOLD
    min_note_ms: float = C.MIN_NOTE_MS
    partial_onset_threshold: Optional[float] = None

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}; got {self.variant!r}")
        if self.channels < 2 or self.channels % 2:
            raise ValueError(f"channels must be an even number >= 2; got {self.channels}")
        object.__setattr__(self, "harmonics", tuple(int(h) for h in self.harmonics))
        # Audio loading (resampling target), labels, metrics and the CQT's key pooling are built
        # for these values; they are recorded in checkpoints but are not free parameters.
        fixed = {"sample_rate": C.SAMPLE_RATE, "hop_length": C.HOP_LENGTH, "n_bins": C.N_BINS,
                 "bins_per_octave": C.BINS_PER_OCTAVE}
        wrong = {k: getattr(self, k) for k, v in fixed.items() if getattr(self, k) != v}
        if wrong:
            raise ValueError(f"{', '.join(f'{k}={v}' for k, v in wrong.items())} is not supported: this version "
                             f"reads audio, builds labels and scores at {', '.join(f'{k}={v}' for k, v in fixed.items())} "
                             f"({C.N_KEYS} keys, {C.N_BINS // C.N_KEYS} CQT bins per key)")

    @classmethod
    def for_variant(cls, variant: str, **overrides) -> "HPPNetConfig":
        """The paper's configuration of ``variant`` ("sp", "base", "tiny", or "hppnet-sp"...)."""
        name = variant.removeprefix("hppnet-")
        defaults = {"sp": {"channels": 128}, "base": {"channels": 128}, "tiny": {"channels": 48}}
        if name not in defaults:
            raise ValueError(f"unknown HPPNet variant {variant!r}; expected one of {VARIANTS}")
        return cls(variant=name, **{**defaults[name], **overrides})

    @property
    def frames_per_second(self) -> float:
        """Output frames per second of audio (50 for the paper's 16 kHz and 320-sample hop)."""
        return self.sample_rate / self.hop_length

    @property
    def dilations(self) -> tuple:
        import math

        return tuple(int(round(self.bins_per_octave * math.log2(h))) for h in self.harmonics)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["harmonics"] = list(self.harmonics)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HPPNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"checkpoint config has unknown fields {sorted(unknown)}; "
                             "it was written by a newer hppnet-plugin: upgrade the package")
        return cls(**d)
