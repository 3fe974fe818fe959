"""Synthetic piano corpus in the MAESTRO v3 layout.

Music: a folder of MIDI files (e.g. the music21 corpus converted to MIDI, or
converted here with ``--music21``) plus generated piano textures (chords,
arpeggios, scales, repeated notes, wide jumps, dense clusters over all 88 keys).
Each piece is made piano-like (transposed into range, tempo varied, onset
timing and velocity humanised, sustain pedal added), rendered with fluidsynth
through one of several soundfonts, onset latency of each soundfont measured and
removed, then augmented (gain, EQ, reverb, noise).

Splits are by piece. Test pieces are rendered twice: with a training soundfont
(split ``test``) and with a soundfont never used in train/validation (split
``test-unseen-instrument``).

Output: ``<root>/<split>/<name>.flac`` + ``.midi`` and ``<root>/maestro-v3.0.0.csv``
(the MAESTRO columns plus ``soundfont``/``program``/``source``), so the MAESTRO
loader reads it. Deterministic given ``--seed``; re-running skips finished pieces.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hppnet_plugin import constants as C
from hppnet_plugin.notes import Note, sort_notes

log = logging.getLogger(__name__)

INDEX_NAME = "maestro-v3.0.0.csv"
INDEX_COLUMNS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                 "audio_filename", "duration", "soundfont", "program", "source"]

DEFAULT_TRAIN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2:0,1",
    "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3:0",
    "/usr/share/sounds/sf2/TimGM6mb.sf2:0,1",
    "/usr/share/sounds/sf2/sf_GMbank.sf2:0,1",
)
DEFAULT_HOLDOUT_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General_Full.sf3:0"
DEFAULT_EXTRA_TRAIN_SOUNDFONTS = ("/etc/timidity/freepats.cfg:0",)
"""Training-only voices, drawn for training pieces alone so that the validation and test
renders stay those of the first corpus. A ``.cfg`` file is a timidity configuration
(freepats' grand piano: a timbre none of the soundfonts has), rendered with timidity."""
PACKAGE_OF = {
    "FluidR3_GM.sf2": "fluid-soundfont-gm", "FluidR3Mono_GM.sf3": "fluidr3mono-gm-soundfont",
    "TimGM6mb.sf2": "timgm6mb-soundfont", "sf_GMbank.sf2": "csound-soundfont",
    "MuseScore_General_Full.sf3": "musescore-general-soundfont", "freepats.cfg": "freepats timidity",
}
RENDER_RATE = 16_000


@dataclass(frozen=True)
class Voice:
    """One piano sound: a soundfont file and a General MIDI program in it."""

    path: str
    program: int

    @property
    def name(self) -> str:
        return f"{Path(self.path).stem}-p{self.program}"

    @property
    def renderer(self) -> str:
        return "timidity" if self.path.endswith(".cfg") else "fluidsynth"


def parse_soundfonts(specs) -> list:
    """["file.sf2:0,1", ...] -> [Voice]; a spec without ':' means program 0."""
    voices = []
    for spec in specs:
        path, _, programs = spec.partition(":")
        if not Path(path).is_file():
            package = PACKAGE_OF.get(Path(path).name)
            hint = (f"install it with: apt-get install {package}" if package
                    else "install the package that provides it")
            raise ValueError(f"soundfont {path} does not exist; {hint}, or pass --soundfont / "
                             "--extra-soundfont with a file you have")
        for p in (programs or "0").split(","):
            voices.append(Voice(path, int(p)))
    return voices


# ----------------------------------------------------------------------------- music

def load_midi_piece(path) -> list:
    """All non-drum notes of a MIDI file, as Notes (score timing)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    notes = []
    for inst in midi.instruments:
        if inst.is_drum:
            continue
        for n in inst.notes:
            if n.end - n.start > 0.01:
                notes.append(Note(n.start, n.end, int(np.clip(n.pitch, 0, 127)), max(1, n.velocity)))
    return sort_notes(notes)


TEXTURE_KINDS = ("chords", "arpeggio", "scale", "repeat", "jumps", "cluster", "two_hands")
DOUBLED_KINDS = ("octave_bass", "doubled_melody", "wide_chords", "partial_chords")
"""Textures whose chord notes sit on partials of lower notes of the same chord (octaves,
twelfths, double octaves): the notes hppnet-tiny missed most on an unseen piano."""

# Chord shapes spanning two or three octaves, in semitones above the lowest note: doubled
# roots (12, 24), fifths an octave up (19 = twelfth), thirds in the upper octave.
WIDE_SHAPES = ([0, 12, 16, 19, 24], [0, 7, 12, 16, 24], [0, 12, 19, 24, 28], [0, 12, 15, 19, 24],
               [0, 7, 16, 24, 31], [0, 12, 24, 28, 31, 36], [0, 19, 24, 28], [0, 12, 19, 22, 28],
               [0, 7, 12, 19, 24, 28], [0, 12, 17, 21, 24])
PARTIAL_INTERVALS = (12, 19, 24, 28, 31)  # octave, twelfth, double octave, 5th and 6th partials


def _doubled_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes):
    """One segment of a doubled-chord texture appended to ``notes``; returns the new time."""
    if kind == "octave_bass":  # left-hand octaves under a right-hand line or chords
        step = rng.uniform(0.2, 0.7)
        bass = int(rng.integers(lo, 60))
        mel = int(rng.integers(55, hi - 14))
        while t < seg_end:
            dur = step * rng.uniform(0.8, 2.0)
            for p in (bass, bass + 12):
                notes.append((t, t + dur, p, base_vel + rng.normal(0, 6)))
            for k in range(int(rng.integers(1, 3))):
                mt = t + k * step / 2
                chord = [mel] + ([mel - 12] if rng.random() < 0.3 else []) + \
                        ([mel + int(rng.choice([3, 4, 7]))] if rng.random() < 0.4 else [])
                for p in chord:
                    if lo <= p <= hi:
                        notes.append((mt, mt + step * rng.uniform(0.4, 1.0), p, base_vel + rng.normal(0, 8)))
                mel = int(np.clip(mel + rng.integers(-5, 6), 50, hi - 14))
            bass = int(np.clip(bass + rng.integers(-5, 6), lo, 62))
            t += step
    elif kind == "doubled_melody":  # melody in octaves (or double octaves), sometimes with a bass
        step = rng.uniform(0.1, 0.45)
        gap = int(rng.choice([12, 12, 24, 19]))
        mel = int(rng.integers(lo, hi - gap))
        while t < seg_end:
            dur = step * rng.uniform(0.7, 1.8)
            for p in (mel, mel + gap):
                notes.append((t, t + dur, p, base_vel + rng.normal(0, 7)))
            if rng.random() < 0.25 and mel - 12 >= lo:
                notes.append((t, t + 2 * dur, mel - 12, base_vel - 8 + rng.normal(0, 6)))
            mel = int(np.clip(mel + rng.integers(-4, 5), lo, hi - gap))
            t += step
    elif kind == "wide_chords":  # full chords over two or three octaves, anywhere on the keyboard
        while t < seg_end:
            shape = WIDE_SHAPES[int(rng.integers(len(WIDE_SHAPES)))]
            root = int(rng.integers(lo, hi - shape[-1] + 1))
            dur = rng.uniform(0.2, 1.8)
            spread = rng.uniform(0, 0.04) if rng.random() < 0.5 else 0.0  # rolled a little, or struck
            for j, iv in enumerate(shape):
                s = t + j * spread / max(1, len(shape) - 1)
                notes.append((s, s + dur * rng.uniform(0.7, 1.0), root + iv, base_vel + rng.normal(0, 9)))
            t += dur * rng.uniform(0.7, 1.2)
    else:  # partial_chords: a low note plus notes on its partials, with other chord notes between
        while t < seg_end:
            root = int(rng.integers(lo, hi - 24))
            dur = rng.uniform(0.15, 1.5)
            chosen = {0}
            for iv in PARTIAL_INTERVALS:
                if root + iv <= hi and rng.random() < 0.55:
                    chosen.add(iv)
            for _ in range(int(rng.integers(0, 3))):  # non-partial chord tones
                iv = int(rng.choice([3, 4, 9, 10, 14, 15, 16, 21, 22]))
                if root + iv <= hi:
                    chosen.add(iv)
            if len(chosen) == 1:
                chosen.add(12)
            for iv in sorted(chosen):
                vel = base_vel + rng.normal(0, 10) - (6 if iv in PARTIAL_INTERVALS else 0)
                notes.append((t, t + dur * rng.uniform(0.7, 1.0), root + iv, vel))
            t += dur * rng.uniform(0.8, 1.2)
    return t


def generate_texture(rng: np.random.Generator, duration_s: float, kinds=TEXTURE_KINDS) -> list:
    """Piano textures covering all 88 keys: chords, arpeggios, scales, repeats, jumps, clusters
    (``TEXTURE_KINDS``), or chords doubled on partials (``DOUBLED_KINDS``)."""
    notes, t = [], 0.0
    lo, hi = C.MIN_PITCH, C.MAX_PITCH
    while t < duration_s:
        kind = rng.choice(list(kinds))
        seg_end = t + rng.uniform(3.0, 8.0)
        base_vel = rng.uniform(35, 105)
        if kind in DOUBLED_KINDS:
            t = _doubled_segment(kind, rng, t, seg_end, base_vel, lo, hi, notes)
        elif kind == "chords":
            while t < seg_end:
                root = int(rng.integers(lo, hi - 12))
                shapes = [[0, 4, 7], [0, 3, 7], [0, 4, 7, 12], [0, 3, 7, 10], [0, 5, 9],
                          [0, 4, 7, 11, 14], [0, 7, 12, 16]]
                shape = shapes[int(rng.integers(len(shapes)))]
                dur = rng.uniform(0.15, 1.5)
                for iv in shape:
                    if root + iv <= hi:
                        notes.append((t, t + dur * rng.uniform(0.7, 1.0), root + iv, base_vel + rng.normal(0, 8)))
                t += dur * rng.uniform(0.8, 1.2)
        elif kind == "arpeggio":
            step = rng.uniform(0.05, 0.16)
            root = int(rng.integers(lo, hi - 30))
            pattern = [0, 4, 7, 12, 16, 19, 24] if rng.random() < 0.5 else [0, 3, 7, 12, 15, 19, 24]
            i = 0
            while t < seg_end:
                p = root + pattern[i % len(pattern)] + 12 * ((i // len(pattern)) % 2)
                if p <= hi:
                    notes.append((t, t + step * rng.uniform(1.0, 4.0), p, base_vel + rng.normal(0, 8)))
                t += step
                i += 1
        elif kind == "scale":
            step = rng.uniform(0.05, 0.2)
            scales = [[2, 2, 1, 2, 2, 2, 1], [2, 1, 2, 2, 1, 3, 1], [1]]
            steps = scales[int(rng.integers(len(scales)))]
            p = int(rng.integers(lo, hi - 24))
            direction, i = 1, 0
            while t < seg_end:
                notes.append((t, t + step * rng.uniform(0.8, 1.5), p, base_vel + rng.normal(0, 8)))
                p += direction * steps[i % len(steps)]
                i += 1
                if p > hi or p < lo or rng.random() < 0.03:
                    direction = -direction
                    p = int(np.clip(p, lo, hi))
                t += step
        elif kind == "repeat":
            p = int(rng.integers(lo, hi + 1))
            step = rng.uniform(0.08, 0.3)
            while t < seg_end:
                notes.append((t, t + step * rng.uniform(0.5, 0.95), p, base_vel + rng.normal(0, 12)))
                t += step
                if rng.random() < 0.15:
                    p = int(np.clip(p + rng.integers(-5, 6), lo, hi))
        elif kind == "jumps":
            while t < seg_end:
                dur = rng.uniform(0.1, 0.6)
                notes.append((t, t + dur, int(rng.integers(lo, hi + 1)), base_vel + rng.normal(0, 15)))
                t += rng.uniform(0.08, 0.4)
        elif kind == "cluster":
            while t < seg_end:
                n_voices = int(rng.integers(4, 11))
                dur = rng.uniform(0.3, 2.0)
                for p in rng.choice(np.arange(lo, hi + 1), n_voices, replace=False):
                    start = t + rng.uniform(0, 0.03)
                    notes.append((start, start + dur * rng.uniform(0.5, 1.0), int(p), base_vel + rng.normal(0, 12)))
                t += dur * rng.uniform(0.4, 1.0)
        else:  # two_hands: bass line + melody
            step = rng.uniform(0.15, 0.5)
            bass = int(rng.integers(lo, 55))
            mel = int(rng.integers(60, hi - 12))
            while t < seg_end:
                notes.append((t, t + step * 2 * rng.uniform(0.7, 1.0), bass, base_vel - 10 + rng.normal(0, 6)))
                for k in range(2):
                    mt = t + k * step
                    notes.append((mt, mt + step * rng.uniform(0.6, 1.2), mel, base_vel + rng.normal(0, 8)))
                    mel = int(np.clip(mel + rng.integers(-4, 5), 55, hi))
                bass = int(np.clip(bass + rng.integers(-5, 6), lo, 59))
                t += 2 * step
        t += rng.uniform(0.0, 0.6)
    return sort_notes(Note(s, e, p, int(np.clip(v, 1, 127))) for s, e, p, v in notes if s < duration_s)


def make_piano_like(notes, rng: np.random.Generator, max_duration_s: float, humanize: bool = True):
    """Transpose into range, vary tempo, humanise timing/velocity, crop, add pedal.

    Returns (notes, pedal_events) with pedal events as (time_s, cc64 value).
    """
    if not notes:
        return [], []
    shift = int(rng.integers(-7, 8))
    tempo = float(rng.uniform(0.75, 1.35))  # >1: faster
    raw = []
    for n in notes:
        p = n.pitch + shift
        while p < C.MIN_PITCH:
            p += 12
        while p > C.MAX_PITCH:
            p -= 12
        raw.append([n.start / tempo, n.end / tempo, p, n.velocity])
    raw.sort()
    total = max(r[1] for r in raw)
    # Crop a random window of at most max_duration_s.
    if total > max_duration_s:
        t0 = float(rng.uniform(0, total - max_duration_s))
        raw = [[s - t0, min(e, max_duration_s + t0) - t0, p, v] for s, e, p, v in raw
               if s >= t0 and s < t0 + max_duration_s - 0.1]
    if not raw:
        return [], []
    start0 = min(r[0] for r in raw)
    lead_in = float(rng.uniform(0.3, 1.0))
    out = []
    scored_velocity = len({r[3] for r in raw}) <= 2  # quantised scores: one velocity
    phrase_period = rng.uniform(4, 12)
    base = rng.uniform(45, 95)
    for s, e, p, v in raw:
        s, e = s - start0 + lead_in, e - start0 + lead_in
        if humanize:
            jitter = float(np.clip(rng.normal(0, 0.012), -0.03, 0.03))
            s, e = s + jitter, e + jitter * 0.5 + float(rng.normal(0, 0.02))
            if scored_velocity:
                v = base + 20 * np.sin(2 * np.pi * s / phrase_period) + rng.normal(0, 8)
            else:
                v = v + rng.normal(0, 6)
        s = max(s, 0.0)
        e = max(e, s + 0.03)
        out.append(Note(s, e, p, int(np.clip(v, 8, 127))))
    out = _remove_same_key_overlaps(sort_notes(out))
    pedal = []
    if rng.random() < 0.6:
        end = max(n.end for n in out)
        t = float(rng.uniform(0.2, 2.0))
        while t < end:
            down_for = float(rng.uniform(0.8, 3.5))
            pedal.append((t, 127))
            pedal.append((t + down_for, 0))
            t += down_for + float(rng.uniform(0.08, 2.0))
    return out, pedal


def _remove_same_key_overlaps(notes):
    """Cut a note where the next note of the same key starts (MIDI cannot overlap them)."""
    last = {}
    out = []
    for n in notes:
        prev = last.get(n.pitch)
        if prev is not None and out[prev].end > n.start - 0.01:
            p = out[prev]
            new_end = n.start - 0.01
            if new_end - p.start < 0.02:
                out[prev] = None
            else:
                out[prev] = Note(p.start, new_end, p.pitch, p.velocity)
        last[n.pitch] = len(out)
        out.append(n)
    return [n for n in out if n is not None]


def write_performance_midi(notes, pedal, path, program: int = 0, tuning_cents: float = 0.0):
    """Notes + sustain pedal as a one-track MIDI file. ``tuning_cents`` detunes the whole
    channel with one pitch-bend at time 0 (default bend range +-2 semitones)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=program, name="Piano")
    inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    inst.control_changes = [pretty_midi.ControlChange(C.SUSTAIN_CC, v, t) for t, v in pedal]
    if tuning_cents:
        bend = int(round(np.clip(tuning_cents / 200.0, -1, 1) * 8191))
        inst.pitch_bends = [pretty_midi.PitchBend(bend, 0.0)]
    midi.instruments.append(inst)
    midi.write(path if hasattr(path, "write") else str(path))


# ----------------------------------------------------------------------------- audio

def render(midi_path, voice: Voice, out_wav, reverb: bool = False):
    """Render a MIDI file to a 16 kHz WAV with fluidsynth (or timidity for a ``.cfg`` voice)."""
    if voice.renderer == "timidity":
        return _render_timidity(midi_path, voice, out_wav)
    if shutil.which("fluidsynth") is None:
        raise RuntimeError("fluidsynth is not installed: apt-get install fluidsynth (the synth "
                           "subcommand renders audio with it)")
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RENDER_RATE), "-F", str(out_wav),
           "-o", f"synth.reverb.active={1 if reverb else 0}", "-o", "synth.chorus.active=0",
           "-o", "synth.dynamic-sample-loading=1", voice.path, str(midi_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"fluidsynth failed on {midi_path} with {voice.path}: {result.stderr[-500:]}")


def _render_timidity(midi_path, voice: Voice, out_wav):
    if shutil.which("timidity") is None:
        raise RuntimeError("timidity is not installed: apt-get install timidity freepats (the "
                           f"voice {voice.path} renders with it)")
    # --preserve-silence: without it timidity drops the leading silence and every label is
    # early by the first onset time. Reverb and chorus off, as for fluidsynth.
    cmd = ["timidity", "-c", voice.path, "-Ow", "-s", str(RENDER_RATE), "--output-mono",
           "--preserve-silence", "-EFreverb=0", "-EFchorus=0", "-A60", "-o", str(out_wav), str(midi_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"timidity failed on {midi_path} with {voice.path}: "
                           f"{(result.stderr or result.stdout)[-500:]}")


def _program_midi(program, path, pedal=()):
    write_performance_midi([Note(0.5, 1.5, 60, 100)], list(pedal), path, program)


def measure_latency_s(voice: Voice) -> float:
    """Delay between a note-on and the first audible sample of ``voice``, seconds."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "probe.mid", Path(tmp) / "probe.wav"
        _program_midi(voice.program, mid)
        render(mid, voice, wav)
        audio, sr = sf.read(wav, always_2d=True)
        x = np.abs(audio).max(axis=1)
        if x.max() <= 0:
            raise RuntimeError(f"soundfont {voice.path} program {voice.program} rendered silence")
        first = int(np.argmax(x > 0.01 * x.max()))
        return max(first / sr - 0.5, 0.0)


def augment(audio: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random EQ, room reverb, noise and gain; ``strength`` 0 gives only a gain change."""
    from scipy import signal

    x = audio.astype(np.float64)
    sr = RENDER_RATE
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
        t = np.arange(n) / RENDER_RATE
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
            length = min(n - start, int(RENDER_RATE * rt60))
            burst = rng.normal(0, 1, length) * np.exp(-6.9 * np.arange(length) / RENDER_RATE / rt60)
            x[start:start + length] += signal.lfilter([1], [1, -float(rng.uniform(0.5, 0.98))], burst)
            start += length + int(RENDER_RATE * rng.uniform(0.2, 3.0))
    else:
        x = rng.normal(0, 1, n)
        if kind == "pink":
            x = signal.lfilter([1], [1, -0.95], x)
        elif kind == "brown":
            x = signal.lfilter([1], [1, -0.999], x)
            x = signal.lfilter([1, -1], [1, -0.995], x)  # no DC drift
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def noise_clip(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """A note-free training clip: silence, or one background at a peak level from barely
    audible (-85 dBFS) to loud (-6 dBFS)."""
    kind = str(rng.choice(NOISE_KINDS))
    x = background_noise(rng, int(duration_s * RENDER_RATE), kind)
    if kind != "silence":
        x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (float(rng.uniform(-85, -6)) / 20)
    return x.astype(np.float32)


def add_silences(notes, pedal, rng: np.random.Generator):
    """Quiet stretches real recordings have: a long intro, and up to two pauses (every note
    stopped, the pedal lifted, 1.5-5 s of nothing). Returns (notes, pedal, outro_s)."""
    notes, pedal = list(notes), list(pedal)
    if rng.random() < 0.35:  # long intro
        shift = float(rng.uniform(1.5, 6.0))
        notes = [Note(n.start + shift, n.end + shift, n.pitch, n.velocity) for n in notes]
        pedal = [(t + shift, v) for t, v in pedal]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        starts = sorted({round(n.start, 3) for n in notes})
        if len(starts) < 8:
            break
        cut = starts[int(rng.integers(len(starts) // 4, 3 * len(starts) // 4))]
        gap = float(rng.uniform(1.5, 5.0))
        moved = []
        for n in notes:
            if n.start >= cut:
                moved.append(Note(n.start + gap, n.end + gap, n.pitch, n.velocity))
            elif n.end > cut:  # sounding at the cut: released there
                if cut - n.start >= 0.03:
                    moved.append(Note(n.start, cut, n.pitch, n.velocity))
            else:
                moved.append(n)
        pedal = [(t, v) for t, v in pedal if t < cut] + [(cut, 0)] + [(t + gap, v) for t, v in pedal if t >= cut]
        notes = sort_notes(moved)
    outro = float(rng.uniform(1.5, 6.0)) if rng.random() < 0.35 else 0.0
    return notes, sorted(pedal), outro


def _peaking_eq(x, sr, f0, gain_db, q, signal):
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return signal.lfilter(b, den, x)


# ----------------------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Job:
    name: str
    split: str
    source: str  # MIDI path or "texture"
    voice: Voice
    seed: int
    max_duration_s: float
    augment_strength: float


def plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
              n_validation, n_test, max_palestrina_fraction=0.15, n_doubled=0, n_noise=0,
              extra_train_voices=()) -> list:
    """Deterministic list of render jobs. Splits by piece; test pieces get two renders.

    The doubled-chord textures (``n_doubled``), note-free noise clips (``n_noise``) and the
    training-only voices are planned after, and apart from, the original pieces, so the
    validation and test splits do not change when they are added."""
    rng = np.random.default_rng(seed)
    midi_files = sorted(str(p) for p in midi_files)
    palestrina = [p for p in midi_files if "palestrina" in Path(p).name.lower()]
    others = [p for p in midi_files if p not in set(palestrina)]
    rng.shuffle(palestrina)
    keep = int(max_palestrina_fraction * len(others) / max(1e-9, 1 - max_palestrina_fraction))
    sources = others + palestrina[:keep] + ["texture"] * n_textures
    order = rng.permutation(len(sources))
    pieces = [(i, sources[j]) for i, j in enumerate(order)]
    jobs = []
    for index, (i, source) in enumerate(pieces):
        stem = "texture" if source == "texture" else Path(source).name.split(".")[0].replace("__", "-")
        name = f"{index:05d}-{stem}"
        piece_seed = int(rng.integers(2 ** 31))
        voice = train_voices[int(rng.integers(len(train_voices)))]
        if index < n_test:
            jobs.append(Job(name, "test", source, voice, piece_seed, max_duration_s, 0.0))
            jobs.append(Job(name, "test-unseen-instrument", source, holdout_voice, piece_seed,
                            max_duration_s, 0.0))
        elif index < n_test + n_validation:
            jobs.append(Job(name, "validation", source, voice, piece_seed, max_duration_s, 0.0))
        else:
            jobs.append(Job(name, "train", source, voice, piece_seed, max_duration_s, 1.0))
    if not (n_doubled or n_noise or extra_train_voices):
        return jobs
    extra_rng = np.random.default_rng([seed, 1])
    all_voices = list(train_voices) + list(extra_train_voices)
    jobs = [job if job.split != "train" else
            Job(job.name, job.split, job.source, all_voices[int(extra_rng.integers(len(all_voices)))],
                job.seed, job.max_duration_s, job.augment_strength) for job in jobs]
    extras = ["texture-doubled"] * n_doubled + ["noise"] * n_noise
    for offset, j in enumerate(extra_rng.permutation(len(extras))):
        source = extras[j]
        voice = all_voices[int(extra_rng.integers(len(all_voices)))]
        jobs.append(Job(f"{len(pieces) + offset:05d}-{source}", "train", source, voice,
                        int(extra_rng.integers(2 ** 31)), max_duration_s, 1.0))
    return jobs


def run_job(job: Job, root: str, latencies: dict) -> dict:
    """Render one piece (skipped when its files exist). Returns its index row."""
    import soundfile as sf

    out_dir = Path(root) / job.split
    audio_path, midi_path = out_dir / f"{job.name}.flac", out_dir / f"{job.name}.midi"
    composer = {"texture": "generated", "texture-doubled": "generated", "noise": "noise"}.get(
        job.source, job.source.split("/")[-1].split("__")[0])
    row = {"canonical_composer": composer, "canonical_title": job.name, "split": job.split, "year": job.split,
           "midi_filename": f"{job.split}/{job.name}.midi",
           "audio_filename": f"{job.split}/{job.name}.flac", "soundfont": job.voice.name,
           "program": job.voice.program, "source": Path(job.source).name}
    if audio_path.exists() and midi_path.exists():
        row["duration"] = round(sf.info(str(audio_path)).duration, 3)
        return row
    rng = np.random.default_rng(job.seed)  # same piece -> same performance in every split
    out_dir.mkdir(parents=True, exist_ok=True)
    if job.source == "noise":
        return _write_noise_job(job, rng, out_dir, audio_path, midi_path, row)
    if job.source in ("texture", "texture-doubled"):
        raw = generate_texture(rng, job.max_duration_s + 5,
                               DOUBLED_KINDS if job.source == "texture-doubled" else TEXTURE_KINDS)
    else:
        raw = load_midi_piece(job.source)
    notes, pedal = make_piano_like(raw, rng, job.max_duration_s)
    if not notes:
        return {}
    tuning_cents, outro_s = 0.0, 0.0
    if job.augment_strength > 0:  # training renders only: validation and test stay as they were
        recording_rng = np.random.default_rng([job.seed, 7])
        notes, pedal, outro_s = add_silences(notes, pedal, recording_rng)
        tuning_cents = float(recording_rng.uniform(-30, 30))  # real pianos are rarely at A440
    render_rng = np.random.default_rng([job.seed, zlib.crc32(job.split.encode()), job.voice.program])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_mid, tmp_wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
        write_performance_midi(notes, pedal, tmp_mid, job.voice.program, tuning_cents)
        render(tmp_mid, job.voice, tmp_wav, reverb=job.augment_strength > 0 and render_rng.random() < 0.3)
        audio, sr = sf.read(tmp_wav, always_2d=True, dtype="float32")
        audio = audio.mean(axis=1)
        # Remove the soundfont's onset latency so audio lines up with the MIDI.
        audio = audio[int(round(latencies[job.voice.name] * sr)):]
        end_s = max(n.end for n in notes) + 1.0 + outro_s
        audio = audio[: int(end_s * sr)]
        if len(audio) < int(end_s * sr):  # an outro longer than the renderer's tail: silence
            audio = np.concatenate([audio, np.zeros(int(end_s * sr) - len(audio), dtype=audio.dtype)])
        audio = augment(audio, render_rng, job.augment_strength)
        tmp_flac = out_dir / f".{job.name}.flac.tmp"
        sf.write(tmp_flac, audio, sr, format="FLAC", subtype="PCM_16")
        shutil.copy(tmp_mid, out_dir / f".{job.name}.midi.tmp")
        os.replace(out_dir / f".{job.name}.midi.tmp", midi_path)
        os.replace(tmp_flac, audio_path)
    row["duration"] = round(len(audio) / sr, 3)
    return row


def _write_noise_job(job: Job, rng, out_dir: Path, audio_path: Path, midi_path: Path, row: dict) -> dict:
    """A note-free clip: background audio and a MIDI file without notes."""
    import soundfile as sf

    from hppnet_plugin.io import atomic_write

    audio = noise_clip(rng, float(rng.uniform(8.0, min(30.0, max(8.0, job.max_duration_s)))))
    # The MIDI first: a piece counts as done when its audio exists. PCM_24 keeps -85 dBFS noise.
    atomic_write(midi_path, lambda f: write_performance_midi([], [], f, job.voice.program), overwrite=True)
    atomic_write(audio_path, lambda f: sf.write(f, audio, RENDER_RATE, format="FLAC", subtype="PCM_24"),
                 overwrite=True)
    row["duration"] = round(len(audio) / RENDER_RATE, 3)
    return row


def _run_job_star(args):
    try:
        return run_job(*args)
    except Exception as error:  # one bad source must not stop the corpus
        return {"error": f"{args[0].name}: {error}"}


def midi_files_from_music21(out_dir: Path, limit: int = 0) -> list:
    """Convert music21's bundled corpus to MIDI files in ``out_dir`` (slow: ~30 min for all)."""
    try:
        from music21 import corpus
    except ImportError as error:
        raise RuntimeError("--music21 needs the music21 package: pip install music21") from error
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = corpus.getPaths()
    if limit:
        paths = paths[:limit]
    files = []
    for p in paths:
        target = out_dir / (str(Path(p).relative_to(Path(p).parents[1])).replace("/", "__") + ".mid")
        if not target.exists():
            try:
                corpus.parse(p).write("midi", fp=str(target))
            except Exception:
                continue
        files.append(target)
    return files


def build_corpus(root, midi_dir=None, use_music21=False, n_textures=60, max_pieces=0,
                 train_soundfonts=DEFAULT_TRAIN_SOUNDFONTS, holdout_soundfont=DEFAULT_HOLDOUT_SOUNDFONT,
                 seed=0, max_duration_s=40.0, n_validation=10, n_test=12, workers=None, progress=True,
                 n_doubled=0, n_noise=0, extra_train_soundfonts=()):
    """Build (or finish building) the corpus under ``root``; returns the index path."""
    from multiprocessing import get_context

    from tqdm import tqdm

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    midi_files = []
    if midi_dir:
        midi_dir = Path(midi_dir)
        if not midi_dir.is_dir():
            raise ValueError(f"MIDI folder {midi_dir} does not exist")
        midi_files = sorted(p for p in midi_dir.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        if not midi_files:
            raise ValueError(f"no .mid/.midi files under {midi_dir}")
    if use_music21:
        midi_files += midi_files_from_music21(root / "_music21_midi")
    train_voices = parse_soundfonts(train_soundfonts)
    extra_voices = parse_soundfonts(extra_train_soundfonts)
    holdout_voice = parse_soundfonts([holdout_soundfont])[0]
    if any(Path(v.path).stem.split("_")[0] == Path(holdout_voice.path).stem.split("_")[0]
           for v in train_voices + extra_voices):
        log.warning("held-out soundfont %s shares a family with a training soundfont", holdout_voice.path)
    jobs = plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
                     n_validation, n_test, n_doubled=n_doubled, n_noise=n_noise,
                     extra_train_voices=extra_voices)
    if max_pieces:
        jobs = jobs[:max_pieces]
    latency_file = root / "soundfont_latency.json"
    latencies = json.loads(latency_file.read_text()) if latency_file.exists() else {}
    for voice in sorted({j.voice for j in jobs}, key=lambda v: v.name):
        if voice.name not in latencies:
            latencies[voice.name] = measure_latency_s(voice)
    latency_file.write_text(json.dumps(latencies, indent=1, sort_keys=True))
    workers = workers or os.cpu_count() or 1
    rows, errors = [], []
    args = [(job, str(root), latencies) for job in jobs]
    with get_context("spawn").Pool(workers) as pool:
        for row in tqdm(pool.imap(_run_job_star, args, chunksize=1), total=len(args),
                        desc="rendering", unit="piece", disable=not progress):
            if "error" in row:
                errors.append(row["error"])
            elif row:
                rows.append(row)
    for e in errors:
        log.warning("skipped %s", e)
    index = root / INDEX_NAME
    tmp = index.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, index)
    manifest = {"seed": seed, "n_textures": n_textures, "max_duration_s": max_duration_s,
                "train_soundfonts": list(train_soundfonts), "holdout_soundfont": holdout_soundfont,
                "extra_train_soundfonts": list(extra_train_soundfonts), "n_doubled_textures": n_doubled,
                "n_noise_clips": n_noise,
                "latency_s": latencies, "n_pieces": len(rows), "skipped": errors,
                "hours": {s: round(sum(r["duration"] for r in rows if r["split"] == s) / 3600, 3)
                          for s in sorted({r["split"] for r in rows})},
                "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest()}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return index
