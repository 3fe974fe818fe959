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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hppnet_plugin.io import atomic_write
from hppnet_plugin.notes import Note

from .augment import augment, hum_clip, noise_clip
from .music import DOUBLED_KINDS, TEXTURE_KINDS, TREBLE_KINDS, generate_texture, midi_files_from_music21, read_score
from .performance import add_silences, make_piano_like, write_corpus_midi
from .render import (DEFAULT_HOLDOUT_SOUNDFONT, DEFAULT_TRAIN_SOUNDFONTS, RENDER_RATE, Voice, measure_latency_s,
                     parse_soundfonts, render)

log = logging.getLogger(__name__)

INDEX_NAME = "maestro-v3.0.0.csv"
INDEX_COLUMNS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                 "audio_filename", "duration", "soundfont", "program", "source"]


@dataclass(frozen=True)
class Job:
    name: str
    split: str
    source: str  # a MIDI path, "texture", "texture-doubled", "noise" or "hum"
    voice: Voice
    seed: int
    max_duration_s: float
    augment_strength: float
    recording: bool = False  # training audio through training.recording (room, device, codec)


def plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
              n_validation, n_test, max_palestrina_fraction=0.15, n_doubled=0, n_noise=0,
              extra_train_voices=(), n_hum=0, validation_voice=None, test_voices=None, recording=False,
              n_treble=0, n_speech=0, n_speech_textures=0, recording_share=1.0) -> list:
    """Deterministic list of render jobs. Splits by piece; test pieces get two renders.

    The doubled-chord textures (``n_doubled``), note-free noise clips (``n_noise``) and the
    training-only voices are planned after, and apart from, the original pieces, so the
    validation and test splits do not change when they are added; the hum clips (``n_hum``)
    after those, from their own random stream, so adding them changes no other job; then the
    treble textures, speech clips and textures with a spoken announcement, from a third stream.

    ``validation_voice`` renders the validation pieces with a voice that is in neither training
    nor test, so that validation measures a piano the model never heard; ``test_voices``
    ({split: voice}) renders the test pieces once more for each; ``recording`` sends the
    training renderings (a drawn ``recording_share`` of them; the others keep the synthetic EQ and
    reverb of :func:`training.augment.augment`) through :func:`training.recording.record`."""
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
    if n_doubled or n_noise or extra_train_voices:
        jobs = _plan_extras(jobs, len(pieces), seed, max_duration_s, train_voices, extra_train_voices, n_doubled, n_noise)
    hum_rng = np.random.default_rng([seed, 2])
    first = len(pieces) + n_doubled + n_noise
    jobs += [Job(f"{first + i:05d}-hum", "train", "hum", train_voices[0], int(hum_rng.integers(2 ** 31)),
                 max_duration_s, 1.0) for i in range(n_hum)]
    jobs = _plan_voice_splits_and_extras(jobs, first + n_hum, seed, max_duration_s,
                                         list(train_voices) + list(extra_train_voices), validation_voice,
                                         test_voices or {}, n_treble, n_speech, n_speech_textures)
    if recording:
        share_rng = np.random.default_rng([seed, 4])
        draws = share_rng.random(len(jobs))  # one per job, so the share does not move other draws
        jobs = [replace(job, recording=True) if job.split == "train" and draw < recording_share else job
                for job, draw in zip(jobs, draws)]
    return jobs


def _plan_voice_splits_and_extras(jobs, first, seed, max_duration_s, voices, validation_voice, test_voices,
                                  n_treble, n_speech, n_speech_textures) -> list:
    """The validation split's own voice, the extra test renders, and the treble, speech and
    announcement training pieces."""
    if validation_voice is not None:
        jobs = [replace(job, voice=validation_voice) if job.split == "validation" else job for job in jobs]
    for split, voice in test_voices.items():
        jobs += [replace(job, split=split, voice=voice) for job in jobs if job.split == "test"]
    rng = np.random.default_rng([seed, 3])
    extras = ["texture-treble"] * n_treble + ["speech"] * n_speech + ["speech-texture"] * n_speech_textures
    for offset, j in enumerate(rng.permutation(len(extras)) if extras else []):
        voice = voices[int(rng.integers(len(voices)))]
        jobs.append(Job(f"{first + offset:05d}-{extras[j]}", "train", extras[j], voice, int(rng.integers(2 ** 31)),
                        max_duration_s, 1.0))
    return jobs


def _plan_extras(jobs, n_pieces, seed, max_duration_s, train_voices, extra_train_voices, n_doubled, n_noise) -> list:
    """Training voices drawn again over all voices, then the doubled textures and noise clips."""
    extra_rng = np.random.default_rng([seed, 1])
    all_voices = list(train_voices) + list(extra_train_voices)
    jobs = [job if job.split != "train" else
            Job(job.name, job.split, job.source, all_voices[int(extra_rng.integers(len(all_voices)))],
                job.seed, job.max_duration_s, job.augment_strength) for job in jobs]
    extras = ["texture-doubled"] * n_doubled + ["noise"] * n_noise
    for offset, j in enumerate(extra_rng.permutation(len(extras))):
        source = extras[j]
        voice = all_voices[int(extra_rng.integers(len(all_voices)))]
        jobs.append(Job(f"{n_pieces + offset:05d}-{source}", "train", source, voice,
                        int(extra_rng.integers(2 ** 31)), max_duration_s, 1.0))
    return jobs


def run_job(job: Job, root: str, latencies: dict) -> dict:
    """Render one piece (skipped when its files exist). Returns its index row."""
    import soundfile as sf

    out_dir = Path(root) / job.split
    audio_path, midi_path = out_dir / f"{job.name}.flac", out_dir / f"{job.name}.midi"
    composer = {"texture": "generated", "texture-doubled": "generated", "texture-treble": "generated",
                "speech-texture": "generated", "noise": "noise", "hum": "noise", "speech": "speech"}.get(
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
    if job.source in ("noise", "hum", "speech"):
        return _write_noise_job(job, rng, out_dir, audio_path, midi_path, row)
    if job.source.startswith("texture") or job.source == "speech-texture":
        kinds = {"texture-doubled": DOUBLED_KINDS, "texture-treble": TREBLE_KINDS,
                 "speech-texture": TEXTURE_KINDS + TREBLE_KINDS}.get(job.source, TEXTURE_KINDS)
        raw = generate_texture(rng, job.max_duration_s + 5, kinds)
    else:
        raw = read_score(job.source)
    notes, pedal = make_piano_like(raw, rng, job.max_duration_s)
    if not notes:
        return {}
    tuning_cents, outro_s = 0.0, 0.0
    if job.augment_strength > 0:  # training renders only: validation and test stay as they were
        recording_rng = np.random.default_rng([job.seed, 7])
        notes, pedal, outro_s = add_silences(notes, pedal, recording_rng)
        tuning_cents = float(recording_rng.uniform(-30, 30))  # real pianos are rarely at A440
    spoken = _announcement(job, notes, pedal) if job.source == "speech-texture" else None
    if spoken is not None:
        notes, pedal, outro_s = spoken[0], spoken[1], max(outro_s, spoken[3])
    render_rng = np.random.default_rng([job.seed, zlib.crc32(job.split.encode()), job.voice.program])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_mid, tmp_wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
        write_corpus_midi(notes, pedal, tmp_mid, job.voice.program, tuning_cents)
        reverb = job.augment_strength > 0 and render_rng.random() < 0.3
        render(tmp_mid, job.voice, tmp_wav, reverb=reverb and not job.recording)  # real rooms instead
        audio, sr = sf.read(tmp_wav, always_2d=True, dtype="float32")
        audio = audio.mean(axis=1)
        # Remove the soundfont's onset latency so audio lines up with the MIDI.
        audio = audio[int(round(latencies[job.voice.name] * sr)):]
        end_s = max(n.end for n in notes) + 1.0 + outro_s
        audio = audio[: int(end_s * sr)]
        if len(audio) < int(end_s * sr):  # an outro longer than the renderer's tail: silence
            audio = np.concatenate([audio, np.zeros(int(end_s * sr) - len(audio), dtype=audio.dtype)])
        if spoken is not None:
            audio = _mix_announcement(audio, spoken[2], sr, np.random.default_rng([job.seed, 13]))
        if job.recording:
            from .recording import record

            audio = record(audio, np.random.default_rng([job.seed, 11]))
        else:
            audio = augment(audio, render_rng, job.augment_strength)
        # The MIDI first: a piece counts as done when its audio exists too.
        midi_bytes = tmp_mid.read_bytes()
        atomic_write(midi_path, lambda f: f.write(midi_bytes), overwrite=True)
        atomic_write(audio_path, lambda f: sf.write(f, audio, sr, format="FLAC", subtype="PCM_16"), overwrite=True)
    row["duration"] = round(len(audio) / sr, 3)
    return row


def _announcement(job: Job, notes, pedal):
    """(notes, pedal, announcement audio placed at its start in seconds, outro seconds): a
    speaker before the piece (the notes move later) or after it."""
    from .speech import announcement

    rng = np.random.default_rng([job.seed, 12])
    voice = announcement(rng)
    length_s = len(voice) / RENDER_RATE
    if rng.random() < 0.6:  # before: the music starts after the speaker and a pause
        shift = length_s + float(rng.uniform(0.5, 3.0))
        notes = [Note(n.start + shift, n.end + shift, n.pitch, n.velocity) for n in notes]
        pedal = [(t + shift, v) for t, v in pedal]
        return notes, pedal, (voice, 0.0), 0.0
    start_s = max(n.end for n in notes) + 1.0 + float(rng.uniform(0.5, 2.0))  # after the last note's tail
    return notes, pedal, (voice, start_s), start_s - max(n.end for n in notes) - 1.0 + length_s


def _mix_announcement(audio, spoken, sr, rng):
    """The announcement mixed in at -20 to +3 dB of the piano's peak."""
    voice, start_s = spoken
    first = int(start_s * sr)
    if first + len(voice) > len(audio):
        audio = np.concatenate([audio, np.zeros(first + len(voice) - len(audio), dtype=audio.dtype)])
    level = (np.max(np.abs(audio)) + 1e-6) * 10 ** (float(rng.uniform(-20, 3)) / 20)
    audio = audio.copy()
    audio[first:first + len(voice)] += voice * level
    return audio


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
    atomic_write(audio_path, lambda f: sf.write(f, audio, RENDER_RATE, format="FLAC", subtype="PCM_24"),
                 overwrite=True)
    row["duration"] = round(len(audio) / RENDER_RATE, 3)
    return row


def _run_job_star(args):
    try:
        return run_job(*args)
    except Exception as error:  # one bad source must not stop the corpus
        return {"error": f"{args[0].name}: {error}"}


def build_corpus(root, midi_dir=None, use_music21=False, n_textures=60, max_pieces=0,
                 train_soundfonts=DEFAULT_TRAIN_SOUNDFONTS, holdout_soundfont=DEFAULT_HOLDOUT_SOUNDFONT,
                 seed=0, max_duration_s=40.0, n_validation=10, n_test=12, workers=None, progress=True,
                 n_doubled=0, n_noise=0, extra_train_soundfonts=(), n_hum=0, validation_soundfont=None,
                 test_soundfonts=None, recording=False, n_treble=0, n_speech=0, n_speech_textures=0,
                 recording_share=1.0):
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
    validation_voice = parse_soundfonts([validation_soundfont])[0] if validation_soundfont else None
    test_voices = {split: parse_soundfonts([spec])[0] for split, spec in (test_soundfonts or {}).items()}
    if any(Path(v.path).stem.split("_")[0] == Path(holdout_voice.path).stem.split("_")[0]
           for v in train_voices + extra_voices):
        log.warning("held-out soundfont %s shares a family with a training soundfont", holdout_voice.path)
    jobs = plan_jobs(midi_files, n_textures, train_voices, holdout_voice, seed, max_duration_s,
                     n_validation, n_test, n_doubled=n_doubled, n_noise=n_noise,
                     extra_train_voices=extra_voices, n_hum=n_hum, validation_voice=validation_voice,
                     test_voices=test_voices, recording=recording, n_treble=n_treble, n_speech=n_speech,
                     n_speech_textures=n_speech_textures, recording_share=recording_share)
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
    def write_index(f):
        writer = csv.DictWriter(f, INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(index, write_index, overwrite=True, mode="w")
    manifest = {"seed": seed, "n_textures": n_textures, "max_duration_s": max_duration_s,
                "train_soundfonts": list(train_soundfonts), "holdout_soundfont": holdout_soundfont,
                "extra_train_soundfonts": list(extra_train_soundfonts), "n_doubled_textures": n_doubled,
                "n_noise_clips": n_noise, "n_hum_clips": n_hum,
                **({"validation_soundfont": validation_soundfont, "test_soundfonts": dict(test_soundfonts or {}),
                    "recording": recording, **({"recording_share": recording_share} if recording_share != 1.0 else {}),
                    "n_treble_textures": n_treble, "n_speech_clips": n_speech,
                    "n_speech_textures": n_speech_textures}
                   if validation_soundfont or test_soundfonts or recording or n_treble or n_speech
                   or n_speech_textures else {}),
                "latency_s": latencies, "n_pieces": len(rows), "skipped": errors,
                "hours": {s: round(sum(r["duration"] for r in rows if r["split"] == s) / 3600, 3)
                          for s in sorted({r["split"] for r in rows})},
                "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest()}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return index
