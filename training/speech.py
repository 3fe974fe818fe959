"""Speech without music for note-free training clips: espeak-ng in many languages, voices and
rates, alone in a room, over room noise, or as a crowd of voices; and spoken announcements
before or after a piece. A voice has a pitch and harmonics but no piano onsets: a piano
transcriber must write no notes on it.

The noise benchmark's speech (benchmarks/noise_robustness.py) uses other sentences and the
espeak-ng variants that :data:`TRAINING_VARIANTS` leaves out.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hppnet_plugin.constants import SAMPLE_RATE
from hppnet_plugin.notes import Note

from .augment import background_noise

SENTENCES = {
    "en": ["Good evening and welcome to tonight's concert.",
           "Please make sure your mobile phones are switched off.",
           "The first half of the programme lasts about forty minutes.",
           "After the interval we will hear the second sonata.",
           "Thank you all for coming, and enjoy the music.",
           "Could the owner of the blue car please return to the car park."],
    "de": ["Herzlich willkommen zu unserem Konzert heute Abend.",
           "Bitte schalten Sie Ihre Mobiltelefone aus.",
           "Nach der Pause hören Sie die zweite Sonate."],
    "fr": ["Bonsoir et bienvenue à ce récital.", "Merci d'éteindre vos téléphones portables.",
           "La deuxième partie commencera dans quinze minutes."],
    "es": ["Buenas noches y bienvenidos al concierto.", "Por favor, apaguen sus teléfonos móviles."],
    "it": ["Buonasera e benvenuti al concerto di stasera.", "Vi preghiamo di spegnere i telefoni cellulari."],
    "nl": ["Goedenavond en welkom bij dit concert.", "Wilt u uw mobiele telefoon uitzetten."],
    "pl": ["Dobry wieczór, witamy na koncercie.", "Prosimy o wyłączenie telefonów komórkowych."],
    "pt": ["Boa noite e bem-vindos ao concerto.", "Por favor, desliguem os telemóveis."],
    "ru": ["Добрый вечер, добро пожаловать на концерт.", "Пожалуйста, выключите мобильные телефоны."],
    "ja": ["皆様、本日はようこそお越しくださいました。"],
    "cmn": ["欢迎各位来到今晚的音乐会。"],
    "sv": ["God kväll och välkomna till konserten."],
    "cs": ["Dobrý večer a vítejte na koncertě."],
}
TRAINING_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "croak", "klatt", "klatt2")
"""espeak-ng voice variants drawn for training clips (the noise benchmark speaks with others)."""


def speak(text: str, language: str, variant: str, rate_wpm: int, pitch: int) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at 16 kHz."""
    import soundfile as sf
    import soxr

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install espeak-ng (the corpus's speech "
                           "clips and the noise benchmark's speech are spoken with it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = ["espeak-ng", "-v", f"{language}+{variant}", "-s", str(rate_wpm), "-p", str(pitch), "-w", str(wav), text]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wav.exists():
            raise RuntimeError(f"espeak-ng failed ({language}+{variant}): {result.stderr[-300:]}")
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    return soxr.resample(audio, sr, SAMPLE_RATE).astype(np.float32) if sr != SAMPLE_RATE else audio


def _utterances(rng: np.random.Generator, seconds: float, variants=TRAINING_VARIANTS) -> np.ndarray:
    """About ``seconds`` of one speaker (one language, voice, rate), sentences with pauses."""
    language = str(rng.choice(sorted(SENTENCES)))
    variant, rate, pitch = str(rng.choice(variants)), int(rng.integers(110, 230)), int(rng.integers(15, 85))
    parts, total = [], 0
    while total < seconds * SAMPLE_RATE:
        sentence = SENTENCES[language][int(rng.integers(len(SENTENCES[language])))]
        parts.append(speak(sentence, language, variant, rate, pitch))
        parts.append(np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE), dtype=np.float32))
        total += len(parts[-2]) + len(parts[-1])
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def speech_clip(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """A note-free training clip: one speaker alone, one over room noise, or a crowd of 3-8
    voices over room noise; the level of each at -40 to -3 dBFS peak. The recording chain
    (room, device, codec) is applied by the corpus builder like any training audio."""
    n = int(duration_s * SAMPLE_RATE)
    kind = str(rng.choice(["alone", "over noise", "crowd"]))
    if kind == "crowd":
        x = np.zeros(n)
        for _ in range(int(rng.integers(3, 9))):
            voice = _utterances(rng, duration_s)
            offset = int(rng.integers(0, max(1, n // 3)))
            piece = voice[: n - offset]
            x[offset:offset + len(piece)] += piece * float(rng.uniform(0.3, 1.0))
    else:
        x = np.zeros(n)
        voice = _utterances(rng, duration_s * float(rng.uniform(0.5, 1.0)))
        start = int(rng.integers(0, max(1, n - len(voice))))
        x[start:start + len(voice)] = voice
    x = x / (np.max(np.abs(x)) + 1e-12)
    if kind != "alone":
        noise = background_noise(rng, n, str(rng.choice(["pink", "brown", "white"])))
        x = x + noise * np.sqrt(np.mean(x ** 2)) * 10 ** (-float(rng.uniform(5, 30)) / 20)
    x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (float(rng.uniform(-40, -3)) / 20)
    return x.astype(np.float32)


def announcement(rng: np.random.Generator) -> np.ndarray:
    """2-8 s of one speaker, unit peak: spoken before or after a piece."""
    x = _utterances(rng, float(rng.uniform(2.0, 8.0)))
    return (x / (np.max(np.abs(x)) + 1e-12)).astype(np.float32)


def place_announcement(seed: int, notes, pedal):
    """(notes, pedal, (announcement audio, its start in seconds), outro seconds): a speaker before
    the piece (the notes move later) or after it."""
    rng = np.random.default_rng([seed, 12])
    voice = announcement(rng)
    length_s = len(voice) / SAMPLE_RATE
    if rng.random() < 0.6:  # before: the music starts after the speaker and a pause
        shift = length_s + float(rng.uniform(0.5, 3.0))
        notes = [Note(n.start + shift, n.end + shift, n.pitch, n.velocity) for n in notes]
        pedal = [(t + shift, v) for t, v in pedal]
        return notes, pedal, (voice, 0.0), 0.0
    start_s = max(n.end for n in notes) + 1.0 + float(rng.uniform(0.5, 2.0))  # after the last note's tail
    return notes, pedal, (voice, start_s), start_s - max(n.end for n in notes) - 1.0 + length_s


def mix_announcement(audio, spoken, sr, rng):
    """The announcement mixed in at -20 to +3 dB of the piano's peak."""
    voice, start_s = spoken
    first = int(start_s * sr)
    if first + len(voice) > len(audio):
        audio = np.concatenate([audio, np.zeros(first + len(voice) - len(audio), dtype=audio.dtype)])
    level = (np.max(np.abs(audio)) + 1e-6) * 10 ** (float(rng.uniform(-20, 3)) / 20)
    audio = audio.copy()
    audio[first:first + len(voice)] += voice * level
    return audio
