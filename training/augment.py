"""Augmentation of rendered audio (EQ, room reverb, noise, gain) and the note-free backgrounds
(silence, hiss, rumble, hum, reverb tails) of noise clips and of the noise added to pieces."""
from __future__ import annotations

import numpy as np

from hppnet_plugin.constants import SAMPLE_RATE


def augment(audio: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random EQ, room reverb, noise and gain; ``strength`` 0 gives only a gain change."""
    from scipy import signal

    x = audio.astype(np.float64)
    sr = SAMPLE_RATE
    if strength > 0 and rng.random() < 0.8:  # EQ: random low and high shelves via 2nd-order filters
        for _ in range(int(rng.integers(1, 4))):
            f0 = float(np.exp(rng.uniform(np.log(80), np.log(6000))))
            gain_db = float(rng.uniform(-9, 9)) * strength
            q = float(rng.uniform(0.5, 2.0))
            x = _peaking_eq(x, sr, f0, gain_db, q, signal)
    if strength > 0 and rng.random() < 0.6:  # reverb: exponentially decaying noise impulse response
        rt60 = float(rng.uniform(0.2, 1.8))
        n = int(sr * min(rt60, 1.5))
        t = np.arange(n) / sr
        ir = rng.normal(0, 1, n) * np.exp(-6.9 * t / rt60)
        ir[: int(0.005 * sr)] = 0
        ir /= np.sqrt(np.sum(ir ** 2)) + 1e-12
        wet = signal.fftconvolve(x, ir)[: len(x)]
        mix = float(rng.uniform(0.1, 0.5)) * strength
        x = (1 - mix) * x + mix * wet * (np.std(x) / (np.std(wet) + 1e-12))
    peak = np.max(np.abs(x)) + 1e-12
    x = x / peak * float(rng.uniform(0.1, 0.95))
    if strength > 0 and rng.random() < 0.6:  # noise at 20-60 dB SNR: hiss, room rumble or mains hum
        snr_db = float(rng.uniform(20, 60))
        noise = background_noise(rng, len(x), str(rng.choice(["white", "pink", "brown", "hum", "hum+pink"])))
        noise *= np.sqrt(np.mean(x ** 2) / (np.mean(noise ** 2) + 1e-12)) * 10 ** (-snr_db / 20)
        x = x + noise
    return np.clip(x, -1, 1).astype(np.float32)


NOISE_KINDS = ("silence", "white", "pink", "brown", "hum", "hum+pink", "reverb_tails")


def background_noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """``n`` samples (16 kHz) of a note-free background, unit RMS (zeros for "silence").

    white/pink/brown: hiss and room rumble; hum: 50 or 60 Hz mains with random harmonics
    (some of them near low piano keys: it has no onsets, and the model must learn that);
    reverb_tails: decaying noise bursts, like the tail of a room after a sound stops."""
    from scipy import signal

    if kind == "silence":
        return np.zeros(n)
    if kind == "hum+pink":
        mix = background_noise(rng, n, "hum") + float(rng.uniform(0.2, 1.0)) * background_noise(rng, n, "pink")
        return mix / (np.sqrt(np.mean(mix ** 2)) + 1e-12)
    if kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = float(rng.choice([50.0, 60.0])) * float(rng.uniform(0.995, 1.005))
        x = np.zeros(n)
        for h in range(1, int(rng.integers(3, 16))):
            x += rng.uniform(0, 1) / h ** rng.uniform(0.3, 1.5) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3))
        x += 0.01 * rng.normal(0, 1, n)
    elif kind == "reverb_tails":
        x = np.zeros(n)
        start = 0
        while start < n:
            rt60 = float(rng.uniform(0.3, 2.5))
            length = min(n - start, int(SAMPLE_RATE * rt60))
            burst = rng.normal(0, 1, length) * np.exp(-6.9 * np.arange(length) / SAMPLE_RATE / rt60)
            x[start:start + length] += signal.lfilter([1], [1, -float(rng.uniform(0.5, 0.98))], burst)
            start += length + int(SAMPLE_RATE * rng.uniform(0.2, 3.0))
    else:
        x = rng.normal(0, 1, n)
        if kind == "pink":
            x = signal.lfilter([1], [1, -0.95], x)
        elif kind == "brown":
            x = signal.lfilter([1], [1, -0.999], x)
            x = signal.lfilter([1, -1], [1, -0.995], x)  # no DC drift
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def background_at_peak(kind: str, peak_db, seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of :func:`background_noise` scaled to a peak level in dBFS (None: as is),
    float32: the note-free test audio of calibration, the noise benchmark and the tests."""
    x = background_noise(np.random.default_rng(seed), int(seconds * SAMPLE_RATE), kind)
    if peak_db is not None and kind != "silence":
        x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (peak_db / 20)
    return x.astype(np.float32)


def noise_clip(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """A note-free training clip: silence, or one background at a peak level from barely
    audible (-85 dBFS) to loud (-6 dBFS)."""
    kind = str(rng.choice(NOISE_KINDS))
    x = background_noise(rng, int(duration_s * SAMPLE_RATE), kind)
    if kind != "silence":
        x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (float(rng.uniform(-85, -6)) / 20)
    return x.astype(np.float32)


def hum_clip(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """A note-free training clip of mains hum (alone or over pink noise) that switches on and
    off abruptly, at -50 to -6 dBFS peak.

    Hum starting or stopping at once - a file cut from a longer recording, a light switched
    on - is a sudden low tone on the lowest keys: the models wrote A#1/B1 notes there (issue
    11), from the few hum clips among the noise clips. Here every clip is hum, and the gates
    put those edges inside a crop as well as at the file's ends."""
    n = int(duration_s * SAMPLE_RATE)
    x = background_noise(rng, n, str(rng.choice(["hum", "hum+pink"])))
    for _ in range(int(rng.integers(0, 3))):  # 0-2 stretches where the hum drops away or out
        start = int(rng.integers(0, n))
        stop = min(n, start + int(rng.uniform(0.3, 3.0) * SAMPLE_RATE))
        x[start:stop] *= float(rng.choice([0.0, rng.uniform(0.0, 0.3)]))
    x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (float(rng.uniform(-50, -6)) / 20)
    return x.astype(np.float32)


def peaking_coefficients(f0: float, gain_db: float, q: float, sr: int) -> tuple:
    """(b, a) of the RBJ peaking equaliser, unnormalised."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return b, den


def _peaking_eq(x, sr, f0, gain_db, q, signal):
    return signal.lfilter(*peaking_coefficients(f0, gain_db, q, sr), x)
