"""No-music audio that no training clip resembles, for benchmarks/noise_robustness.py: speech
(other sentences and espeak-ng voices than the corpus's speech clips), a crowd over room noise,
vinyl crackle over hiss, and room tone with a door slam. 16 kHz, seeded."""
from __future__ import annotations

import numpy as np

SR = 16_000
ANNOUNCEMENTS = {
    "en": ("Ladies and gentlemen, welcome to this evening's recital. Tonight's programme opens with "
           "a sonata in three movements, followed by a set of short character pieces. We kindly ask "
           "you to refrain from photography during the performance."),
    "de": ("Meine Damen und Herren, wir beginnen das Konzert in wenigen Minuten. "
           "Bitte nehmen Sie Ihre Plätze ein."),
    "fr": "Mesdames et messieurs, le concert va commencer. Veuillez regagner vos places.",
    "es": "Señoras y señores, el recital comenzará en breve. Gracias por su paciencia.",
}
BENCHMARK_VARIANTS = ("Andy", "Annie", "adam", "Alicia", "benjamin", "belinda", "david", "Denis")
"""espeak-ng variants the corpus's speech clips do not use (training.speech.TRAINING_VARIANTS)."""


def speech(language: str, seed: int) -> np.ndarray:
    """An announcement in ``language`` by a voice drawn from :data:`BENCHMARK_VARIANTS`, with
    room tone under it, peak -6 dBFS."""
    from hppnet_plugin.training.speech import speak

    rng = np.random.default_rng([seed, 1])
    voice = speak(ANNOUNCEMENTS[language], language, str(rng.choice(BENCHMARK_VARIANTS)),
                  int(rng.integers(140, 180)), int(rng.integers(35, 65)))
    x = np.concatenate([np.zeros(SR // 2), voice, np.zeros(SR // 2)])
    x = x + _pink(rng, len(x)) * 0.002
    return _at_peak(x, -6)


def crowd(seed: int, seconds: float = 20.0, voices: int = 6) -> np.ndarray:
    """``voices`` people talking at once over room noise (an audience before a concert)."""
    from hppnet_plugin.training.speech import speak

    rng = np.random.default_rng([seed, 2])
    n = int(seconds * SR)
    x = np.zeros(n)
    for k in range(voices):
        language = str(rng.choice(sorted(ANNOUNCEMENTS)))
        talk = speak(ANNOUNCEMENTS[language], language, BENCHMARK_VARIANTS[k % len(BENCHMARK_VARIANTS)],
                     int(rng.integers(130, 200)), int(rng.integers(20, 80)))
        start = int(rng.integers(0, n // 4))
        piece = talk[: n - start]
        x[start:start + len(piece)] += piece * rng.uniform(0.2, 1.0)
    x = x / (np.max(np.abs(x)) + 1e-12) + _pink(rng, n) * 0.05
    return _at_peak(x, -10)


def vinyl(seed: int, seconds: float = 20.0) -> np.ndarray:
    """Record-surface crackle (clicks of every size, a few pops) over hiss and turntable rumble."""
    from scipy import signal

    rng = np.random.default_rng([seed, 3])
    n = int(seconds * SR)
    x = rng.normal(0, 0.01, n) + signal.lfilter([1], [1, -0.999], rng.normal(0, 0.0005, n))
    clicks = rng.random(n) < 40 / SR  # about 40 clicks a second
    x[clicks] += rng.pareto(2.5, int(clicks.sum())) * rng.choice([-1, 1], int(clicks.sum())) * 0.05
    for _ in range(int(rng.integers(3, 8))):  # pops: short decaying bursts
        at = int(rng.integers(0, n - 400))
        x[at:at + 400] += rng.normal(0, 0.3, 400) * np.exp(-np.arange(400) / 60)
    x = signal.lfilter([1, -0.5], [1], x)  # the cartridge's tilt
    return _at_peak(x, -12)


def door_slam(seed: int, seconds: float = 20.0) -> np.ndarray:
    """Quiet room tone, then a door slamming (a low thump, the frame's resonance, the latch) in the
    room, once or twice."""
    from scipy import signal

    rng = np.random.default_rng([seed, 4])
    n = int(seconds * SR)
    x = _pink(rng, n) * 0.003
    for _ in range(int(rng.integers(1, 3))):
        at = int(rng.uniform(2, seconds - 3) * SR)
        t = np.arange(int(0.6 * SR)) / SR
        thump = np.sin(2 * np.pi * rng.uniform(50, 110) * t) * np.exp(-t / rng.uniform(0.05, 0.15))
        body = signal.lfilter(*signal.butter(2, [150, 900], btype="band", fs=SR), rng.normal(0, 1, len(t)))
        body *= np.exp(-t / rng.uniform(0.03, 0.08))
        latch = np.zeros(len(t))
        click = int(rng.uniform(0.005, 0.03) * SR)
        latch[click:click + 40] = rng.normal(0, 1, 40) * np.exp(-np.arange(40) / 8)
        slam = 0.8 * thump + 0.5 * body + 0.4 * latch
        tail = rng.normal(0, 1, int(0.8 * SR)) * np.exp(-np.arange(int(0.8 * SR)) / SR / 0.12)  # the room
        slam = signal.fftconvolve(slam, np.concatenate([[1.0], 0.02 * tail]))[: len(t)]
        x[at:at + len(t)] += slam * rng.uniform(0.3, 1.0)
    return _at_peak(x, -3)


def _pink(rng, n) -> np.ndarray:
    from scipy import signal

    x = signal.lfilter([1], [1, -0.95], rng.normal(0, 1, n))
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _at_peak(x, peak_db) -> np.ndarray:
    return (x / (np.max(np.abs(x)) + 1e-12) * 10 ** (peak_db / 20)).astype(np.float32)


UNHEARD = {  # label: generator(seed) -> audio
    "speech, English announcement": lambda seed: speech("en", seed),
    "speech, German announcement": lambda seed: speech("de", seed),
    "six voices over room noise, 20 s": crowd,
    "vinyl crackle over hiss, 20 s": vinyl,
    "room tone and a door slam, 20 s": door_slam,
}
