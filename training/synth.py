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
RENDER_RATE = 16_000


@dataclass(frozen=True)
class Voice:
    """One piano sound: a soundfont file and a General MIDI program in it."""

    path: str
    program: int

    @property
    def name(self) -> str:
        return f"{Path(self.path).stem}-p{self.program}"


def parse_soundfonts(specs) -> list:
    """["file.sf2:0,1", ...] -> [Voice]; a spec without ':' means program 0."""
    voices = []
    for spec in specs:
        path, _, programs = spec.partition(":")
        if not Path(path).is_file():
            raise ValueError(f"soundfont {path} does not exist; install it (see data-facts.md: "
                             "apt-get install fluid-soundfont-gm ...) or pass --soundfont with another file")
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


def generate_texture(rng: np.random.Generator, duration_s: float) -> list:
    """Piano textures covering all 88 keys: chords, arpeggios, scales, repeats, jumps, clusters."""
    notes, t = [], 0.0
    lo, hi = C.MIN_PITCH, C.MAX_PITCH
    while t < duration_s:
        kind = rng.choice(["chords", "arpeggio", "scale", "repeat", "jumps", "cluster", "two_hands"])
        seg_end = t + rng.uniform(3.0, 8.0)
        base_vel = rng.uniform(35, 105)
        if kind == "chords":
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


def write_performance_midi(notes, pedal, path, program: int = 0):
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=program, name="Piano")
    inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    inst.control_changes = [pretty_midi.ControlChange(C.SUSTAIN_CC, v, t) for t, v in pedal]
    midi.instruments.append(inst)
    midi.write(str(path))


# ----------------------------------------------------------------------------- audio

def render(midi_path, voice: Voice, out_wav, reverb: bool = False):
    """Render a MIDI file to a 16 kHz WAV with the fluidsynth command line."""
    if shutil.which("fluidsynth") is None:
        raise RuntimeError("fluidsynth is not installed: apt-get install fluidsynth (the synth "
                           "subcommand renders audio with it)")
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RENDER_RATE), "-F", str(out_wav),
           "-o", f"synth.reverb.active={1 if reverb else 0}", "-o", "synth.chorus.active=0",
           "-o", "synth.dynamic-sample-loading=1", voice.path, str(midi_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"fluidsynth failed on {midi_path} with {voice.path}: {result.stderr[-500:]}")


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
    if strength > 0 and rng.random() < 0.5:  # noise at 25-55 dB SNR, white or pink-ish
        snr_db = float(rng.uniform(25, 55))
        noise = rng.normal(0, 1, len(x))
        if rng.random() < 0.5:
            noise = signal.lfilter([1], [1, -0.95], noise)
        noise *= np.sqrt(np.mean(x ** 2) / (np.mean(noise ** 2) + 1e-12)) * 10 ** (-snr_db / 20)
        x = x + noise
    return np.clip(x, -1, 1).astype(np.float32)


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
              n_validation, n_test, max_palestrina_fraction=0.15) -> list:
    """Deterministic list of render jobs. Splits by piece; test pieces get two renders."""
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
    return jobs


def run_job(job: Job, root: str, latencies: dict) -> dict:
    """Render one piece (skipped when its files exist). Returns its index row."""
    import soundfile as sf

    out_dir = Path(root) / job.split
    audio_path, midi_path = out_dir / f"{job.name}.flac", out_dir / f"{job.name}.midi"
    row = {"canonical_composer": job.source.split("/")[-1].split("__")[0] if job.source != "texture"
           else "generated", "canonical_title": job.name, "split": job.split, "year": job.split,
           "midi_filename": f"{job.split}/{job.name}.midi",
           "audio_filename": f"{job.split}/{job.name}.flac", "soundfont": job.voice.name,
           "program": job.voice.program, "source": Path(job.source).name}
    if audio_path.exists() and midi_path.exists():
        row["duration"] = round(sf.info(str(audio_path)).duration, 3)
        return row
    rng = np.random.default_rng(job.seed)  # same piece -> same performance in every split
    if job.source == "texture":
        raw = generate_texture(rng, job.max_duration_s + 5)
    else:
        raw = load_midi_piece(job.source)
    notes, pedal = make_piano_like(raw, rng, job.max_duration_s)
    if not notes:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    render_rng = np.random.default_rng([job.seed, zlib.crc32(job.split.encode()), job.voice.program])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_mid, tmp_wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
        write_performance_midi(notes, pedal, tmp_mid, job.voice.program)
        render(tmp_mid, job.voice, tmp_wav, reverb=job.augment_strength > 0 and render_rng.random() < 0.3)
        audio, sr = sf.read(tmp_wav, always_2d=True, dtype="float32")
        audio = audio.mean(axis=1)
        # Remove the soundfont's onset latency so audio lines up with the MIDI.
        audio = audio[int(round(latencies[job.voice.name] * sr)):]
        end_s = max(n.end for n in notes) + 1.0
        audio = audio[: int(end_s * sr)]
        audio = augment(audio, render_rng, job.augment_strength)
        tmp_flac = out_dir / f".{job.name}.flac.tmp"
        sf.write(tmp_flac, audio, sr, format="FLAC", subtype="PCM_16")
        shutil.copy(tmp_mid, out_dir / f".{job.name}.midi.tmp")
        os.replace(out_dir / f".{job.name}.midi.tmp", midi_path)
        os.replace(tmp_flac, audio_path)
    row["duration"] = round(len(audio) / sr, 3)
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
                 seed=0, max_duration_s=40.0, n_validation=10, n_test=12, workers=None, progress=True):
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
    holdout_voice = parse_soundfonts([holdout_soundfont])[0]
    if any(Path(v.path).stem.split("_")[0] == Path(holdout_voice.path).stem.split("_")[0]
           for v in train_voices):
        log.warning("held-out soundfont %s shares a family with a training soundfont", holdout_voice.path)
    jobs = plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
                     n_validation, n_test)
    if max_pieces:
        jobs = jobs[:max_pieces]
    latency_file = root / "soundfont_latency.json"
    latencies = json.loads(latency_file.read_text()) if latency_file.exists() else {}
    for voice in {j.voice for j in jobs}:
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
                "latency_s": latencies, "n_pieces": len(rows), "skipped": errors,
                "hours": {s: round(sum(r["duration"] for r in rows if r["split"] == s) / 3600, 3)
                          for s in sorted({r["split"] for r in rows})},
                "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest()}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return index
