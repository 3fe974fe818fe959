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
import tempfile
import zlib
from pathlib import Path

import numpy as np

from hppnet_plugin.constants import SAMPLE_RATE
from hppnet_plugin.io import atomic_write

from .augment import augment, hum_clip, noise_clip
from .corpus_plan import Job, plan_jobs
from .music import midi_files_from_music21, read_score
from .performance import add_silences, make_piano_like, write_corpus_midi
from .render import DEFAULT_HOLDOUT_SOUNDFONT, DEFAULT_TRAIN_SOUNDFONTS, measure_latency_s, parse_soundfonts, render
from .speech import mix_announcement, place_announcement
from .textures import DOUBLED_KINDS, TEXTURE_KINDS, TREBLE_KINDS, generate_texture

log = logging.getLogger(__name__)

INDEX_NAME = "maestro-v3.0.0.csv"
INDEX_COLUMNS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                 "audio_filename", "duration", "soundfont", "program", "source"]


def _index_row(job: Job) -> dict:
    """The corpus index row of a job (its duration is added once rendered)."""
    composer = {"texture": "generated", "texture-doubled": "generated", "texture-treble": "generated",
                "speech-texture": "generated", "noise": "noise", "hum": "noise", "speech": "speech"}.get(
        job.source, job.source.split("/")[-1].split("__")[0])
    return {"canonical_composer": composer, "canonical_title": job.name, "split": job.split, "year": job.split,
            "midi_filename": f"{job.split}/{job.name}.midi",
            "audio_filename": f"{job.split}/{job.name}.flac", "soundfont": job.voice.name,
            "program": job.voice.program, "source": Path(job.source).name}


def _performance(job: Job, rng):
    """(notes, pedal, tuning in cents, outro seconds, announcement or None) of a music job, or
    None when the piece has no notes."""
    if job.source.startswith("texture") or job.source == "speech-texture":
        kinds = {"texture-doubled": DOUBLED_KINDS, "texture-treble": TREBLE_KINDS,
                 "speech-texture": TEXTURE_KINDS + TREBLE_KINDS}.get(job.source, TEXTURE_KINDS)
        raw = generate_texture(rng, job.max_duration_s + 5, kinds)
    else:
        raw = read_score(job.source)
    notes, pedal = make_piano_like(raw, rng, job.max_duration_s)
    if not notes:
        return None
    tuning_cents, outro_s = 0.0, 0.0
    if job.augment_strength > 0:  # training renders only: validation and test stay as they were
        recording_rng = np.random.default_rng([job.seed, 7])
        notes, pedal, outro_s = add_silences(notes, pedal, recording_rng)
        tuning_cents = float(recording_rng.uniform(-30, 30))  # real pianos are rarely at A440
    spoken = place_announcement(job.seed, notes, pedal) if job.source == "speech-texture" else None
    if spoken is not None:
        notes, pedal, outro_s = spoken[0], spoken[1], max(outro_s, spoken[3])
    return notes, pedal, tuning_cents, outro_s, spoken


def _rendered(job: Job, notes, pedal, tuning_cents: float, outro_s: float, spoken, latency_s: float,
              tmp: Path) -> tuple:
    """(audio, sample rate, MIDI bytes): the performance rendered with the job's voice, aligned to
    its MIDI, cut after the last note's tail, then through the job's recording or augmentation."""
    import soundfile as sf

    render_rng = np.random.default_rng([job.seed, zlib.crc32(job.split.encode()), job.voice.program])
    tmp_mid, tmp_wav = tmp / "p.mid", tmp / "p.wav"
    write_corpus_midi(notes, pedal, tmp_mid, job.voice.program, tuning_cents)
    reverb = job.augment_strength > 0 and render_rng.random() < 0.3
    render(tmp_mid, job.voice, tmp_wav, reverb=reverb and not job.recording)  # real rooms instead
    audio, sr = sf.read(tmp_wav, always_2d=True, dtype="float32")
    audio = audio.mean(axis=1)
    audio = audio[int(round(latency_s * sr)):]  # the voice's onset latency: audio lines up with the MIDI
    end_s = max(n.end for n in notes) + 1.0 + outro_s
    audio = audio[: int(end_s * sr)]
    if len(audio) < int(end_s * sr):  # an outro longer than the renderer's tail: silence
        audio = np.concatenate([audio, np.zeros(int(end_s * sr) - len(audio), dtype=audio.dtype)])
    if spoken is not None:
        audio = mix_announcement(audio, spoken[2], sr, np.random.default_rng([job.seed, 13]))
    if job.recording:
        from .recording import record

        audio = record(audio, np.random.default_rng([job.seed, 11]))
    else:
        audio = augment(audio, render_rng, job.augment_strength)
    return audio, sr, tmp_mid.read_bytes()


def run_job(job: Job, root: str, latencies: dict) -> dict:
    """Render one piece (skipped when its files exist). Returns its index row."""
    import soundfile as sf

    out_dir = Path(root) / job.split
    audio_path, midi_path = out_dir / f"{job.name}.flac", out_dir / f"{job.name}.midi"
    row = _index_row(job)
    if audio_path.exists() and midi_path.exists():
        row["duration"] = round(sf.info(str(audio_path)).duration, 3)
        return row
    rng = np.random.default_rng(job.seed)  # same piece -> same performance in every split
    out_dir.mkdir(parents=True, exist_ok=True)
    if job.source in ("noise", "hum", "speech"):
        return _write_noise_job(job, rng, out_dir, audio_path, midi_path, row)
    performance = _performance(job, rng)
    if performance is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        audio, sr, midi_bytes = _rendered(job, *performance, latencies[job.voice.name], Path(tmp))
    # The MIDI first: a piece counts as done when its audio exists too.
    atomic_write(midi_path, lambda f: f.write(midi_bytes), overwrite=True)
    atomic_write(audio_path, lambda f: sf.write(f, audio, sr, format="FLAC", subtype="PCM_16"), overwrite=True)
    row["duration"] = round(len(audio) / sr, 3)
    return row


def _write_noise_job(job: Job, rng, out_dir: Path, audio_path: Path, midi_path: Path, row: dict) -> dict:
    """A note-free clip: background audio (or speech) and a MIDI file without notes."""
    import soundfile as sf

    if job.source == "speech":
        from .speech import speech_clip as clip
    else:
        clip = hum_clip if job.source == "hum" else noise_clip
    audio = clip(rng, float(rng.uniform(8.0, min(30.0, max(8.0, job.max_duration_s)))))
    if job.recording and job.source == "speech":
        from .recording import record

        audio = record(audio, np.random.default_rng([job.seed, 11]))
    # The MIDI first: a piece counts as done when its audio exists. PCM_24 keeps -85 dBFS noise.
    write_corpus_midi([], [], midi_path, job.voice.program)
    atomic_write(audio_path, lambda f: sf.write(f, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_24"),
                 overwrite=True)
    row["duration"] = round(len(audio) / SAMPLE_RATE, 3)
    return row


def _run_job_star(args):
    try:
        return run_job(*args)
    except Exception as error:  # one bad source must not stop the corpus
        return {"error": f"{args[0].name}: {error}"}


def _midi_files(root: Path, midi_dir, use_music21: bool) -> list:
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
    return midi_files


def _latencies(root: Path, jobs) -> dict:
    """Each voice's onset latency, measured once per corpus (kept in soundfont_latency.json)."""
    latency_file = root / "soundfont_latency.json"
    latencies = json.loads(latency_file.read_text()) if latency_file.exists() else {}
    for voice in sorted({j.voice for j in jobs}, key=lambda v: v.name):
        if voice.name not in latencies:
            latencies[voice.name] = measure_latency_s(voice)
    latency_file.write_text(json.dumps(latencies, indent=1, sort_keys=True))
    return latencies


def _render_all(jobs, root: Path, latencies: dict, workers, progress: bool) -> tuple:
    """(index rows, errors) of rendering every job in ``workers`` processes."""
    from multiprocessing import get_context

    from tqdm import tqdm

    rows, errors = [], []
    args = [(job, str(root), latencies) for job in jobs]
    with get_context("spawn").Pool(workers or os.cpu_count() or 1) as pool:
        for row in tqdm(pool.imap(_run_job_star, args, chunksize=1), total=len(args),
                        desc="rendering", unit="piece", disable=not progress):
            if "error" in row:
                errors.append(row["error"])
            elif row:
                rows.append(row)
    for e in errors:
        log.warning("skipped %s", e)
    return rows, errors


def _write_index(root: Path, rows) -> Path:
    index = root / INDEX_NAME

    def write_index(f):
        writer = csv.DictWriter(f, INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(index, write_index, overwrite=True, mode="w")
    return index


def _manifest(options: dict, latencies: dict, rows, errors, index: Path) -> dict:
    """manifest.json: the options that built the corpus (the voice, recording and speech options
    only where one is used, so that the manifest of a corpus without them keeps its bytes and the
    hash runs record), the latencies, hours per split and the index's hash."""
    o = options
    optional = ("validation_soundfont", "test_soundfonts", "recording", "n_treble", "n_speech", "n_speech_textures")
    return {"seed": o["seed"], "n_textures": o["n_textures"], "max_duration_s": o["max_duration_s"],
            "train_soundfonts": list(o["train_soundfonts"]), "holdout_soundfont": o["holdout_soundfont"],
            "extra_train_soundfonts": list(o["extra_train_soundfonts"]), "n_doubled_textures": o["n_doubled"],
            "n_noise_clips": o["n_noise"], "n_hum_clips": o["n_hum"],
            **({"validation_soundfont": o["validation_soundfont"], "test_soundfonts": dict(o["test_soundfonts"] or {}),
                "recording": o["recording"],
                **({"recording_share": o["recording_share"]} if o["recording_share"] != 1.0 else {}),
                "n_treble_textures": o["n_treble"], "n_speech_clips": o["n_speech"],
                "n_speech_textures": o["n_speech_textures"]}
               if any(o[k] for k in optional) else {}),
            **({"modal_pianos": o["modal_pianos"], "modal_share": o["modal_share"]} if o["modal_pianos"] else {}),
            "latency_s": latencies, "n_pieces": len(rows), "skipped": errors,
            "hours": {s: round(sum(r["duration"] for r in rows if r["split"] == s) / 3600, 3)
                      for s in sorted({r["split"] for r in rows})},
            "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest()}


def build_corpus(root, midi_dir=None, use_music21=False, n_textures=60, max_pieces=0,
                 train_soundfonts=DEFAULT_TRAIN_SOUNDFONTS, holdout_soundfont=DEFAULT_HOLDOUT_SOUNDFONT,
                 seed=0, max_duration_s=40.0, n_validation=10, n_test=12, workers=None, progress=True,
                 n_doubled=0, n_noise=0, extra_train_soundfonts=(), n_hum=0, validation_soundfont=None,
                 test_soundfonts=None, recording=False, n_treble=0, n_speech=0, n_speech_textures=0,
                 recording_share=1.0, modal_pianos=0, modal_share=0.0):
    """Build (or finish building) the corpus under ``root``; returns the index path."""
    options = dict(locals())
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    midi_files = _midi_files(root, midi_dir, use_music21)
    train_voices = parse_soundfonts(train_soundfonts)
    extra_voices = parse_soundfonts(extra_train_soundfonts)
    holdout_voice = parse_soundfonts([holdout_soundfont])[0]
    validation_voice = parse_soundfonts([validation_soundfont])[0] if validation_soundfont else None
    test_voices = {split: parse_soundfonts([spec])[0] for split, spec in (test_soundfonts or {}).items()}
    if any(Path(v.path).stem.split("_")[0] == Path(holdout_voice.path).stem.split("_")[0]
           for v in train_voices + extra_voices):
        log.warning("held-out soundfont %s shares a family with a training soundfont", holdout_voice.path)
    jobs = plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
                     n_validation, n_test, n_doubled=n_doubled, n_noise=n_noise,
                     extra_train_voices=extra_voices, n_hum=n_hum, validation_voice=validation_voice,
                     test_voices=test_voices, recording=recording, n_treble=n_treble, n_speech=n_speech,
                     n_speech_textures=n_speech_textures, recording_share=recording_share,
                     modal_pianos=modal_pianos, modal_share=modal_share)
    if max_pieces:
        jobs = jobs[:max_pieces]
    latencies = _latencies(root, jobs)
    rows, errors = _render_all(jobs, root, latencies, workers, progress)
    index = _write_index(root, rows)
    manifest = _manifest(options, latencies, rows, errors, index)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return index
