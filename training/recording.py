"""What happens to a piano between the strings and the file: a room, microphones, a device's
filters and automatic gain, background noise and a lossy codec. Drawn per rendering, for
training audio only (``synth --recording``).

- Rooms are image-source shoebox models (pyroomacoustics): living room to concert hall, RT60
  0.15-2.2 s, walls of different absorption, the piano and the microphones placed in the room;
  so the early reflections are there, not only a diffuse tail.
- Microphones: one close (0.3-1 m) or distant (2-12 m), or two spaced ones summed to mono,
  which combs the spectrum the way a phone-recorded stereo pair folded down does.
- Devices (pedalboard): studio (gentle EQ), laptop (small capsule: no bass, resonances, a
  compressor), phone (band-limited 200-7000 Hz or narrower, strong automatic gain, sometimes the
  GSM codec).
- Codecs (ffmpeg): MP3, Opus or AAC at 32-128 kbit/s.

Every stage keeps the piano's onsets where the labels put them: the impulse response starts at
the direct sound of the nearest microphone, and codec round-trips are realigned to the input.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .augment import background_noise
from hppnet_plugin.constants import SAMPLE_RATE

CODECS = {"mp3": ("libmp3lame", "mp3"), "opus": ("libopus", "ogg"), "aac": ("aac", "m4a")}
DEVICES = ("studio", "laptop", "phone")


def room_impulse_response(rng: np.random.Generator) -> np.ndarray:
    """A drawn room and microphone set-up as one mono impulse response at 16 kHz, unit energy,
    starting at the direct sound of the nearest microphone."""
    import pyroomacoustics as pra

    size = float(rng.uniform(0, 1)) ** 1.5  # more living rooms than halls
    dim = np.array([4 + 24 * size, 3.5 + 16 * size, 2.5 + 8 * size]) * rng.uniform(0.85, 1.15, 3)
    rt60 = float(np.clip(0.15 + 2.0 * size * rng.uniform(0.5, 1.1) + rng.uniform(0, 0.2), 0.15, 2.2))
    absorption, max_order = pra.inverse_sabine(rt60, dim.tolist())
    walls = ["east", "west", "north", "south", "floor", "ceiling"]
    materials = {w: pra.Material(float(np.clip(absorption * rng.uniform(0.6, 1.4), 0.02, 0.99))) for w in walls}
    room = pra.ShoeBox(dim.tolist(), fs=SAMPLE_RATE, materials=materials, max_order=min(max_order, 30),
                       air_absorption=True)
    margin = 0.5
    piano = np.array([rng.uniform(margin, dim[0] - margin), rng.uniform(margin, dim[1] - margin),
                      rng.uniform(0.8, 1.2)])
    room.add_source(piano.tolist())
    setup = str(rng.choice(["close", "distant", "spaced pair"], p=[0.35, 0.4, 0.25]))
    distance = rng.uniform(0.3, 1.0) if setup == "close" else rng.uniform(2.0, 12.0)
    mics = [_point_at(piano, distance, dim, rng)]
    if setup == "spaced pair":
        mics.append(_point_at(mics[0], rng.uniform(0.3, 3.0), dim, rng))
    room.add_microphone_array(np.array(mics).T)
    room.compute_rir()
    rirs = [np.asarray(room.rir[m][0], dtype=np.float64) for m in range(len(mics))]
    ir = np.zeros(max(len(r) for r in rirs))
    for r in rirs:
        ir[: len(r)] += r
    first = int(np.argmax(np.abs(ir) > 0.3 * np.abs(ir).max()))
    ir = ir[max(0, first - 2):]
    return ir / (np.sqrt(np.sum(ir ** 2)) + 1e-12)


def _point_at(origin, distance, dim, rng) -> list:
    """A point about ``distance`` from ``origin`` inside the room, at a microphone's height."""
    for _ in range(50):
        angle = rng.uniform(0, 2 * np.pi)
        point = origin + np.array([distance * np.cos(angle), distance * np.sin(angle), 0.0])
        point[2] = rng.uniform(0.8, 2.2)
        if all(0.2 < point[i] < dim[i] - 0.2 for i in range(3)):
            return point.tolist()
    return np.clip(origin + 0.3, 0.2, np.asarray(dim) - 0.2).tolist()  # a small room: close by


def device_chain(rng: np.random.Generator, device: str):
    """The pedalboard chain of a recording device."""
    import pedalboard as pb

    plugins = []
    if device == "studio":
        for _ in range(int(rng.integers(0, 3))):
            plugins.append(pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(80), np.log(6000)))),
                                         gain_db=float(rng.uniform(-6, 6)), q=float(rng.uniform(0.5, 2.0))))
    elif device == "laptop":
        plugins += [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(150, 400))),
                    pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(5000, 7800))),
                    pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(1500, 5000)),
                                  gain_db=float(rng.uniform(3, 10)), q=float(rng.uniform(1.0, 4.0))),
                    pb.Compressor(threshold_db=float(rng.uniform(-30, -15)), ratio=float(rng.uniform(2, 6)),
                                  attack_ms=float(rng.uniform(2, 20)), release_ms=float(rng.uniform(50, 300)))]
    else:  # phone
        narrow = rng.random() < 0.3
        plugins += [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(200, 400))),
                    pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(3300, 3800) if narrow
                                                               else rng.uniform(5500, 7800))),
                    pb.Compressor(threshold_db=float(rng.uniform(-35, -20)), ratio=float(rng.uniform(3, 10)),
                                  attack_ms=float(rng.uniform(1, 10)), release_ms=float(rng.uniform(50, 200)))]
        if narrow and rng.random() < 0.5:
            plugins.append(pb.GSMFullRateCompressor())
    return pb.Pedalboard(plugins)


def codec_round_trip(audio: np.ndarray, codec: str, kbps: int) -> np.ndarray:
    """``audio`` (16 kHz) encoded with ``codec`` at ``kbps`` and decoded, sample-aligned again."""
    import soundfile as sf

    encoder, extension = CODECS[codec]
    with tempfile.TemporaryDirectory() as tmp:
        source, coded, decoded = Path(tmp) / "in.wav", Path(tmp) / f"coded.{extension}", Path(tmp) / "out.wav"
        sf.write(source, audio, SAMPLE_RATE, subtype="FLOAT")
        quiet = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1"]
        for cmd in (quiet + ["-i", str(source), "-c:a", encoder, "-b:a", f"{kbps}k", "-ac", "1",
                             "-fflags", "+bitexact", "-flags:a", "+bitexact", str(coded)],
                    quiet + ["-i", str(coded), "-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "wav",
                             "-c:a", "pcm_f32le", str(decoded)]):
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"ffmpeg failed ({codec} {kbps} kbit/s): {result.stderr[-300:]}")
        out, _ = sf.read(decoded, dtype="float32")
    return _aligned_to(out, audio)


def _aligned_to(out: np.ndarray, reference: np.ndarray, max_lag: int = 4096) -> np.ndarray:
    """``out`` shifted so that it lines up with ``reference`` (codec delay or priming removed),
    cut or padded to its length."""
    from scipy import signal

    n = min(len(out), len(reference), 20 * SAMPLE_RATE)
    if n > 2 * max_lag:
        corr = signal.correlate(out[:n], reference[:n], mode="full", method="fft")
        lags = np.arange(-n + 1, n)
        window = np.abs(lags) <= max_lag
        lag = int(lags[window][np.argmax(corr[window])])
        out = out[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, dtype=out.dtype), out])
    if len(out) < len(reference):
        out = np.concatenate([out, np.zeros(len(reference) - len(out), dtype=out.dtype)])
    return out[: len(reference)].astype(np.float32)


def record(audio: np.ndarray, rng: np.random.Generator, room_probability: float = 0.8) -> np.ndarray:
    """``audio`` as a drawn recording of it: room, device, level, background noise, codec."""
    from scipy import signal

    x = audio.astype(np.float64)
    if rng.random() < room_probability:
        ir = room_impulse_response(rng)
        x = signal.fftconvolve(x, ir)[: len(x)]
    device = str(rng.choice(DEVICES, p=[0.5, 0.25, 0.25]))
    x = device_chain(rng, device)(x.astype(np.float32)[None, :], SAMPLE_RATE)[0].astype(np.float64)
    x = x / (np.max(np.abs(x)) + 1e-12) * float(rng.uniform(0.1, 0.95))
    if rng.random() < 0.6:  # hiss, rumble or hum at 20-60 dB SNR
        snr_db = float(rng.uniform(20, 60))
        noise = background_noise(rng, len(x), str(rng.choice(["white", "pink", "brown", "hum", "hum+pink"])))
        x = x + noise * np.sqrt(np.mean(x ** 2) / (np.mean(noise ** 2) + 1e-12)) * 10 ** (-snr_db / 20)
    x = np.clip(x, -1, 1).astype(np.float32)
    if rng.random() < 0.4:
        codec = str(rng.choice(list(CODECS)))
        x = np.clip(codec_round_trip(x, codec, int(rng.choice([32, 48, 64, 96, 128]))), -1, 1)
    return x.astype(np.float32)
