"""Pianos made of string modes, one per seed: as many different instruments as a corpus wants,
where the soundfonts and sample sets give a handful.

A struck piano string sounds as a sum of exponentially decaying partials. What tells one piano
from another is how those partials are laid out and how they die away, and each of these is
drawn per instrument from the ranges measured on real pianos:
- inharmonicity: partial n of a key sits at ``n f0 sqrt(1 + B n^2)``; B grows about 2-3× per
  octave up the treble and again toward the lowest wound bass strings, and is larger on short
  pianos (uprights, baby grands) than on concert grands;
- stretched octaves (the Railsback curve) that tuners set to match that inharmonicity;
- one, two or three strings per key, mistuned against each other by a few cents: the beating
  and the two-stage decay (prompt sound, then aftersound) of a real unison;
- the hammer's striking point (near 1/8 of the string), which weakens every partial near a
  multiple of its inverse, the hammer's hardness and the spectral tilt;
- decay rates ``b1 + b3 f^2`` (a frequency-independent loss plus air and internal friction that
  kill the high partials first), slower in the bass than in the treble;
- the hammer's thump (a short noise burst), the attack time and an uneven voicing from key to key;
- the soundboard and case as a fixed set of resonances over every key.

The keys are rendered once per instrument, fortissimo, as a sample set; the corpus plays them
from MIDI with the same key, damper, pedal and velocity model as the recorded Iowa Steinway
(:mod:`training.sampler`), with the velocity response (dynamic range, how fast soft notes lose
their brightness) and the damper speed drawn per instrument as well.

A voice spec ``modal-piano:3,7`` names instruments 3 and 7 (the "program" is the seed).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .augment import peaking_coefficients
from .sampler import Dynamics

MODAL_PIANO = "modal-piano"
LOWEST, HIGHEST = 21, 108
MAX_PARTIALS = 96
DECAY_FLOOR_DB = -70.0
"""A key's sample ends when its slowest partial has fallen this far below its start."""


def is_modal_voice(path: str) -> bool:
    return path == MODAL_PIANO


@dataclass(frozen=True)
class ModalPiano:
    """One instrument's physical parameters (see the module docstring for what each does)."""

    seed: int
    b_middle_c: float  # inharmonicity coefficient B at MIDI 60
    b_octave_gain: float  # factor B grows by per octave above the bass break
    bass_break: int  # lowest plain-steel string; B rises again below (wound strings)
    b_bass_gain: float  # factor B grows by per octave below the break
    single_below: int  # keys below this have one string
    double_below: int  # ... below this two, above three
    detune_cents: float  # standard deviation of the unison strings' mistuning
    stretch_cents: float  # octave stretch at the keyboard's ends
    strike_point: float  # hammer position as a fraction of the speaking length
    tilt: float  # partial amplitude ~ n^-tilt
    radiation_hz: float  # the soundboard radiates partials below this weakly (thin bass fundamentals)
    hammer_hz: float  # the fortissimo hammer's roll-off at middle C; shorter contact (higher) in the treble
    loss_middle_c: float  # frequency-independent decay rate at MIDI 60, 1/s
    loss_octave_gain: float  # factor it grows by per octave
    loss_air: float  # decay rate per Hz^2
    prompt_share: float  # share of each partial in the prompt (fast) decay
    aftersound_slowdown: float  # how much slower the aftersound decays
    attack_ms: float
    thump_db: float  # hammer noise relative to the tone
    thump_ms: float
    voicing_db: float  # key-to-key level spread
    body: tuple  # ((centre Hz, gain dB, Q), ...) of the soundboard and case
    max_seconds: float

    @property
    def dynamics(self) -> Dynamics:
        rng = np.random.default_rng([self.seed, 1])
        return Dynamics(range_db=float(rng.uniform(32, 46)), gain_curve=float(rng.uniform(0.9, 1.5)),
                        soft_harmonics=float(rng.uniform(2, 6)), loud_harmonics=float(rng.uniform(25, 60)),
                        brightness_curve=float(rng.uniform(1.0, 2.0)), damper_scale=float(rng.uniform(0.6, 1.6)))


def draw_piano(seed: int) -> ModalPiano:
    """The instrument of ``seed`` (the same seed gives the same piano on every machine)."""
    rng = np.random.default_rng([seed, 0])
    size = rng.uniform(0, 1)  # 0: a long concert grand, 1: a short upright
    bass_break = int(rng.integers(30, 42))
    single_below = int(rng.integers(28, 36))
    body = tuple((float(np.exp(rng.uniform(np.log(70), np.log(6000)))), float(rng.uniform(-7, 7)),
                  float(rng.uniform(0.8, 4.0))) for _ in range(int(rng.integers(5, 11))))
    return ModalPiano(
        seed=seed, b_middle_c=float(np.exp(rng.uniform(np.log(2.5e-4), np.log(1.2e-3))) * (1 + size)),
        b_octave_gain=float(rng.uniform(2.0, 3.2)), bass_break=bass_break, b_bass_gain=float(rng.uniform(1.2, 2.5)),
        single_below=single_below, double_below=int(rng.integers(max(single_below + 6, 40), 50)),
        detune_cents=float(rng.uniform(0.3, 2.5)), stretch_cents=float(rng.uniform(8, 35)) * (1 + 0.5 * size),
        strike_point=float(rng.uniform(1 / 9.5, 1 / 6.5)), tilt=float(rng.uniform(0.3, 0.9)),
        radiation_hz=float(rng.uniform(80, 250)),
        hammer_hz=float(np.exp(rng.uniform(np.log(1200), np.log(5000)))),
        loss_middle_c=float(np.exp(rng.uniform(np.log(0.8), np.log(3.0)))), loss_octave_gain=float(rng.uniform(1.15, 1.5)),
        loss_air=float(np.exp(rng.uniform(np.log(2e-7), np.log(1.5e-6)))), prompt_share=float(rng.uniform(0.75, 0.97)), aftersound_slowdown=float(rng.uniform(2.5, 8.0)),
        attack_ms=float(rng.uniform(0.3, 2.5)), thump_db=float(rng.uniform(-38, -18)),
        thump_ms=float(rng.uniform(2, 15)), voicing_db=float(rng.uniform(0.3, 2.0)), body=body,
        max_seconds=float(rng.uniform(6, 14)))


def inharmonicity(piano: ModalPiano, pitch: int) -> float:
    octaves = (pitch - 60) / 12
    b = piano.b_middle_c * piano.b_octave_gain ** octaves
    if pitch < piano.bass_break:
        at_break = piano.b_middle_c * piano.b_octave_gain ** ((piano.bass_break - 60) / 12)
        b = at_break * piano.b_bass_gain ** ((piano.bass_break - pitch) / 12)
    return float(b)


def fundamental_hz(piano: ModalPiano, pitch: int) -> float:
    """Equal temperament at A440 with the octaves stretched toward both ends."""
    x = (pitch - 64.5) / 43.5
    cents = piano.stretch_cents * np.sign(x) * abs(x) ** 2.5
    return float(440.0 * 2 ** ((pitch - 69) / 12 + cents / 1200))


def _peaking_sos(centre_hz: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """One resonance of the body as a second-order section."""
    b, a = peaking_coefficients(min(centre_hz, 0.45 * rate), gain_db, q, rate)
    return np.concatenate([np.asarray(b) / a[0], np.asarray(a) / a[0]])[None, :]


def key_sample(piano: ModalPiano, pitch: int, rate: int) -> np.ndarray:
    """One key of ``piano`` struck fortissimo and held: mono float32 at ``rate``, before the body."""
    rng = np.random.default_rng([piano.seed, 2, pitch])
    f0, b = fundamental_hz(piano, pitch), inharmonicity(piano, pitch)
    n = np.arange(1, MAX_PARTIALS + 1, dtype=np.float64)
    freqs = n * f0 * np.sqrt(1 + b * n ** 2)
    keep = freqs < 0.45 * rate
    n, freqs = n[keep], freqs[keep]
    amps = (np.abs(np.sin(np.pi * n * piano.strike_point)) + 0.03) * n ** -piano.tilt
    amps /= np.sqrt(1 + (freqs / (piano.hammer_hz * 2 ** ((pitch - 60) / 24))) ** 4)
    amps *= freqs / np.sqrt(freqs ** 2 + piano.radiation_hz ** 2)
    amps *= 10 ** (rng.normal(0, 2.0, len(n)) / 20)  # partial-to-partial unevenness
    loss = piano.loss_middle_c * piano.loss_octave_gain ** ((pitch - 60) / 12)
    sigma = loss + piano.loss_air * freqs ** 2  # decay rate of each partial, 1/s
    slow = sigma / piano.aftersound_slowdown
    floor = 10 ** (DECAY_FLOOR_DB / 20)
    seconds = min(piano.max_seconds, -np.log(floor) / slow[0] + 0.05)
    seconds = max(seconds, 0.6)
    length = int(seconds * rate)
    strings = 1 if pitch < piano.single_below else 2 if pitch < piano.double_below else 3
    detune = rng.normal(0, piano.detune_cents, strings)
    detune -= detune.mean()
    out = np.zeros(length, dtype=np.float64)
    t_all = np.arange(length) / rate
    for k in range(strings):
        string_sigma = sigma * rng.uniform(0.85, 1.15)
        string_slow = slow * rng.uniform(0.85, 1.15)
        ratio = 2 ** (detune[k] / 1200)
        phases = rng.uniform(0, 2 * np.pi, len(n))
        for i in range(len(n)):
            # a partial stops where it is 70 dB down: the high ones are short and cheap
            stop = min(length, int(rate * -np.log(floor) / string_slow[i]) + 1)
            t = t_all[:stop]
            envelope = (piano.prompt_share * np.exp(-string_sigma[i] * t)
                        + (1 - piano.prompt_share) * np.exp(-string_slow[i] * t))
            out[:stop] += amps[i] * envelope * np.sin(2 * np.pi * freqs[i] * ratio * t + phases[i])
    out /= strings
    attack = 1 - np.exp(-t_all / (piano.attack_ms / 1000 * (1 + max(0, 60 - pitch) / 48)))
    out *= attack
    peak = np.max(np.abs(out[: int(0.1 * rate)])) or 1.0
    thump_length = min(length, int(rate * piano.thump_ms / 1000 * 8))
    thump = rng.normal(0, 1, thump_length) * np.exp(-t_all[:thump_length] / (piano.thump_ms / 1000))
    from scipy import signal

    centre = min(0.4 * rate, max(200.0, 4 * f0))
    thump = signal.sosfilt(signal.butter(2, centre, btype="low", fs=rate, output="sos"), thump)
    thump *= peak * 10 ** (piano.thump_db / 20) / (np.max(np.abs(thump)) or 1.0)
    out[:thump_length] += thump
    level = 10 ** (rng.normal(0, piano.voicing_db) / 20) * 0.25 / (np.sqrt(np.mean(out[: int(0.2 * rate)] ** 2)) or 1.0)
    return (out * level).astype(np.float32)


class ModalSamples(Mapping):
    """{MIDI pitch: mono float32 samples} of one instrument through its soundboard, each key
    synthesised the first time it is played (a piece uses a fraction of the 88)."""

    def __init__(self, seed: int, rate: int):
        self.piano, self.rate = draw_piano(seed), rate
        self._body = np.concatenate([_peaking_sos(f, g, q, rate) for f, g, q in self.piano.body])
        self._keys: dict = {}

    def __getitem__(self, pitch: int) -> np.ndarray:
        from scipy import signal

        if not LOWEST <= pitch <= HIGHEST:
            raise KeyError(pitch)
        if pitch not in self._keys:
            dry = key_sample(self.piano, pitch, self.rate)
            self._keys[pitch] = signal.sosfilt(self._body, dry).astype(np.float32)
        return self._keys[pitch]

    def __iter__(self):
        return iter(range(LOWEST, HIGHEST + 1))

    def __len__(self) -> int:
        return HIGHEST - LOWEST + 1


@lru_cache(maxsize=16)
def load_modal_samples(seed: int, rate: int) -> ModalSamples:
    """The sample set of instrument ``seed`` (kept per process: a corpus worker renders many
    pieces with each instrument)."""
    return ModalSamples(seed, rate)
