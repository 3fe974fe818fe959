"""Which pieces a synthetic corpus holds: the plan of render jobs (piece, split, voice, seed,
augmentation), deterministic given the seed, so that a corpus is reproducible and an unfinished
one can be continued."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .modal_piano import MODAL_PIANO
from .render import Voice


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
              n_treble=0, n_speech=0, n_speech_textures=0, recording_share=1.0, modal_pianos=0,
              modal_share=0.0) -> list:
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
    if modal_pianos and modal_share > 0:
        jobs = _revoice_with_modal_pianos(jobs, seed, modal_pianos, modal_share)
    return jobs


def _revoice_with_modal_pianos(jobs, seed, n_pianos, share) -> list:
    """A drawn ``share`` of the training music played by one of ``n_pianos`` modal pianos (two
    draws per job, so the share and the count move no other job's voice)."""
    rng = np.random.default_rng([seed, 5])
    draws, pianos = rng.random(len(jobs)), rng.integers(n_pianos, size=len(jobs))
    music = {"noise", "hum", "speech"}
    return [replace(job, voice=Voice(MODAL_PIANO, 1 + int(piano)))
            if job.split == "train" and job.source not in music and draw < share else job
            for job, draw, piano in zip(jobs, draws, pianos)]


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
