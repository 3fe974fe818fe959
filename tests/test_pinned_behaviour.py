"""Pins written before training/ was reshaped (issue 15): labels, corpus planning, the MIDI a
corpus renderer is given, augmentation and noise, and decoding stay exactly what they were.
The renderers (fluidsynth, timidity) are pure functions of that MIDI, the voice and the seed;
the reshaped code was also checked end to end against the corpus on disk (see the issue).

Each pin is a sha256 of the values (floats rounded to 1e-6, so that a last-bit difference
in a library build cannot fail them, while any change of behaviour does)."""
import hashlib
import io

import numpy as np
import pytest

from hppnet_plugin.notes import Note

PINS = {}  # filled below; `python tests/test_pinned_behaviour.py` prints the current values


def digest(value) -> str:
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, np.ndarray):
            a = np.round(v.astype(np.float64) * 1e6).astype(np.int64) if v.dtype.kind == "f" else v
            h.update(str(a.shape).encode() + a.tobytes())
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                feed(x)
            h.update(b"]")
        elif isinstance(v, dict):
            for k in sorted(v):
                h.update(str(k).encode())
                feed(v[k])
        elif isinstance(v, float):
            h.update(str(round(v, 6)).encode())
        elif isinstance(v, Note):
            feed([v.start, v.end, v.pitch, v.velocity])
        elif isinstance(v, bytes):
            h.update(v)
        else:
            h.update(repr(v).encode())
    feed(value)
    return h.hexdigest()[:16]


def _score_midi(path, with_pedal=True):
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    for i, pitch in enumerate([21, 48, 52, 55, 60, 60, 64, 67, 72, 108, 110]):
        start = 0.25 * i
        piano.notes.append(pretty_midi.Note(90 - 5 * i, pitch, start, start + 0.4 + 0.1 * (i % 3)))
    piano.notes.append(pretty_midi.Note(0, 62, 0.3, 0.9))        # velocity 0
    piano.notes.append(pretty_midi.Note(70, 63, 1.0, 1.005))     # 5 ms
    if with_pedal:
        piano.control_changes += [pretty_midi.ControlChange(64, 100, 0.5), pretty_midi.ControlChange(64, 0, 1.6),
                                  pretty_midi.ControlChange(64, 127, 2.0)]
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0.0, 0.1))
    midi.instruments += [piano, drums]
    midi.write(str(path))
    return path


def compute(tmp_path) -> dict:
    from hppnet_plugin.decoding import NoteDecoder
    from hppnet_plugin.adapters.basic_pitch import note_events_to_notes
    from hppnet_plugin.adapters.midi import read_midi
    from hppnet_plugin.training import augment, labels, music, performance, synth, textures

    out = {}
    score = _score_midi(tmp_path / "score.mid")
    notes = read_midi(score, sustain=True)  # was training.labels.read_midi_notes(score)
    out["labels.read_midi_notes"] = digest(notes)
    out["labels.read_midi_notes(no pedal)"] = digest(read_midi(score))
    out["labels.notes_to_rolls"] = digest(labels.notes_to_rolls(notes, 200))
    out["synth.load_midi_piece"] = digest(music.read_score(score))  # was training.synth.load_midi_piece

    from hppnet_plugin.training.render import Voice

    voices = [Voice("/a.sf2", 0), Voice("/a.sf2", 1), Voice("/b.sf2", 0)]
    holdout, extra = Voice("/h.sf3", 0), [Voice("/x.cfg", 0)]
    midi_files = [f"/m/composer{i % 4}__piece{i}.mid" for i in range(30)] + ["/m/palestrina__p1.mid"]
    jobs = synth.plan_jobs(midi_files, 6, voices, holdout, 3, 40.0, 3, 4, n_doubled=3, n_noise=2,
                           extra_train_voices=extra)
    out["synth.plan_jobs"] = digest([(j.name, j.split, j.source, j.voice.name, j.voice.program, j.seed,
                                      j.max_duration_s, j.augment_strength) for j in jobs])

    for seed, kinds in ((0, textures.TEXTURE_KINDS), (1, textures.DOUBLED_KINDS), (2, textures.TEXTURE_KINDS)):
        rng = np.random.default_rng(seed)
        raw = textures.generate_texture(rng, 20.0, kinds)
        performed, pedal = performance.make_piano_like(raw, rng, 15.0)
        recording = np.random.default_rng([seed, 7])
        performed, pedal, outro = performance.add_silences(performed, pedal, recording)
        buffer = io.BytesIO()  # the MIDI a corpus renderer is given (was synth.write_performance_midi)
        performance.corpus_midi(performed, pedal, program=1, tuning_cents=-17.5).write(buffer)
        out[f"synth.performance[{seed}]"] = digest([raw, performed, pedal, outro, buffer.getvalue()])
    rng = np.random.default_rng(5)
    piece, pedal = performance.make_piano_like(music.read_score(score), rng, 10.0)
    out["synth.make_piano_like(score)"] = digest([piece, pedal])

    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    out["synth.augment"] = digest([augment.augment(audio, np.random.default_rng(s), strength) for s, strength
                                   in ((0, 1.0), (1, 1.0), (2, 0.0))])
    out["synth.background_noise"] = digest([augment.background_noise(np.random.default_rng(3), 8000, k)
                                            for k in augment.NOISE_KINDS])
    out["synth.noise_clip"] = digest([augment.noise_clip(np.random.default_rng(s), 3.0) for s in range(4)])

    rolls = np.random.default_rng(1).random((300, 88, 3)).astype(np.float32) ** 4
    decoder = NoteDecoder(0.4, 0.4)
    for block in np.array_split(rolls, 7):
        decoder.push(block[..., 0], block[..., 1], block[..., 2])
    out["decoding.NoteDecoder"] = digest(decoder.finish())
    out["adapters.note_events_to_notes"] = digest(note_events_to_notes(
        [(0.1, 0.5, 60, 0.5, None), (0.2, 0.3, 61, 0.001, None), (0.0, 1.0, 62, 1.2, None)]))
    return out


PINS.update({
    'labels.read_midi_notes': '7559d868c2ef9d61',
    'labels.read_midi_notes(no pedal)': 'c9e988b6ca0e0cbe',
    'labels.notes_to_rolls': 'b217a1138ebbd5dd',
    'synth.load_midi_piece': 'df963a0cbaddb91b',
    'synth.plan_jobs': 'e9e827ca1a966e2c',
    'synth.performance[0]': 'c149ce08d9effb24',
    'synth.performance[1]': 'dc0cdb50963791e7',
    'synth.performance[2]': '3f0f557d67ef37ea',
    'synth.make_piano_like(score)': '0d7de064c4fbcacb',
    'synth.augment': 'c1c1e45b67b65b6c',
    'synth.background_noise': '6c7ed62b3d59d134',
    'synth.noise_clip': '7c1a3c584bd7ed6d',
    'decoding.NoteDecoder': 'e165ca94eea5ed1e',
    'adapters.note_events_to_notes': 'e2702b1e1123dd7f',
})


def test_behaviour_is_pinned(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("pretty_midi")
    assert compute(tmp_path) == PINS


if __name__ == "__main__":
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for key, value in compute(pathlib.Path(tmp)).items():
            print(f"    {key!r}: {value!r},")
