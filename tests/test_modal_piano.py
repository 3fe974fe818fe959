"""Pianos synthesised from string modes: each seed its own instrument, tuned and inharmonic like a
piano, played from corpus MIDI on time, and drawn into the training split alone."""
import numpy as np
import soundfile as sf

from hppnet_plugin.notes import Note
from hppnet_plugin.training import corpus_plan as S
from hppnet_plugin.training import modal_piano as MP
from hppnet_plugin.training import render as R
from hppnet_plugin.training.performance import write_corpus_midi

SR = 16_000


def _spectrum(x):
    padded = 8 * len(x)  # fine frequency grid for peak positions
    return np.fft.rfftfreq(padded, 1 / SR), np.abs(np.fft.rfft(x * np.hanning(len(x)), padded))


def _peak_near(freqs, spectrum, hz, width=0.03):
    band = np.abs(freqs - hz) < width * hz
    return freqs[band][np.argmax(spectrum[band])]


def test_same_seed_same_piano_other_seed_other_piano():
    assert MP.draw_piano(4) == MP.draw_piano(4)
    a, b = MP.draw_piano(4), MP.draw_piano(5)
    assert a.b_middle_c != b.b_middle_c and a.body != b.body
    key_a, key_b = MP.key_sample(a, 60, SR), MP.key_sample(b, 60, SR)
    assert np.array_equal(key_a, MP.key_sample(MP.draw_piano(4), 60, SR))
    n = int(0.5 * SR)
    la, lb = (np.log(_spectrum(k[:n])[1] + 1e-6) for k in (key_a, key_b))
    assert np.corrcoef(la, lb)[0, 1] < 0.95  # a different timbre, not a gain change


def test_keys_sound_at_their_pitch_with_stretched_inharmonic_partials():
    piano = MP.draw_piano(2)
    for pitch in (36, 60, 84):
        f0 = MP.fundamental_hz(piano, pitch)
        assert abs(1200 * np.log2(f0 / (440 * 2 ** ((pitch - 69) / 12)))) < piano.stretch_cents + 1e-9
        freqs, spectrum = _spectrum(MP.key_sample(piano, pitch, SR)[int(0.02 * SR):int(0.52 * SR)])
        b = MP.inharmonicity(piano, pitch)
        for n in (1, 2, 4):
            expected = n * f0 * np.sqrt(1 + b * n ** 2)
            if expected < 0.4 * SR:
                assert abs(_peak_near(freqs, spectrum, expected) - expected) < 0.004 * expected + 2
    assert MP.inharmonicity(piano, 96) > 4 * MP.inharmonicity(piano, 60)  # treble strings are stiffer


def test_bass_rings_longer_than_treble_and_high_partials_die_first():
    piano = MP.draw_piano(3)
    level = lambda x, a, b: 10 * np.log10(np.mean(x[int(a * SR):int(b * SR)] ** 2))  # noqa: E731
    drop = {p: level(MP.key_sample(piano, p, SR), 0, 0.1) - level(MP.key_sample(piano, p, SR), 0.9, 1.1)
            for p in (36, 96)}
    assert drop[36] < drop[96]
    key = MP.key_sample(piano, 48, SR)
    early, late = (_spectrum(key[int(a * SR):int((a + 0.25) * SR)]) for a in (0.02, 1.5))
    centroid = lambda fs: (fs[0] * fs[1] ** 2).sum() / (fs[1] ** 2).sum()  # noqa: E731
    assert centroid(late) < centroid(early)


def test_modal_voice_parses_and_renders_corpus_midi_on_time(tmp_path):
    voices = R.parse_soundfonts(["modal-piano:3,7"])
    assert [v.name for v in voices] == ["modal-piano-p3", "modal-piano-p7"] and voices[0].renderer == "modal"
    write_corpus_midi([Note(0.5, 1.0, 67, 100), Note(1.2, 1.6, 67, 40)], [], tmp_path / "a.mid", 3)
    R.render(tmp_path / "a.mid", voices[0], tmp_path / "a.wav")
    audio, sr = sf.read(tmp_path / "a.wav")
    assert sr == SR
    assert np.max(np.abs(audio[: int(0.49 * SR)])) < 1e-4  # nothing before the note
    onset = np.argmax(np.abs(audio) > 0.05 * np.abs(audio).max()) / SR
    assert 0.5 <= onset < 0.505
    loud = np.abs(audio[int(0.5 * SR):int(0.6 * SR)]).max()
    soft = np.abs(audio[int(1.2 * SR):int(1.3 * SR)]).max()
    assert soft < 0.3 * loud  # velocity 40 against 100
    assert R.measure_latency_s(voices[0]) < 0.002


def test_modal_pianos_play_a_share_of_training_music_and_nothing_else():
    midi = [f"/m/composer__piece{i}.mid" for i in range(120)]
    args = (midi, 30, [R.Voice(f"/sf/v{i}.sf2", 0) for i in range(3)], R.Voice("/sf/holdout.sf2", 0), 0, 30, 4, 5)
    kw = dict(n_noise=10, n_speech=10, recording=True, recording_share=0.5)
    plain, modal = S.plan_jobs(*args, **kw), S.plan_jobs(*args, **kw, modal_pianos=6, modal_share=0.3)
    assert len(plain) == len(modal)
    changed = [(a, b) for a, b in zip(plain, modal) if a != b]
    assert all(a.split == "train" and a.source not in ("noise", "speech") for a, _ in changed)
    assert all(b.voice.path == MP.MODAL_PIANO and 1 <= b.voice.program <= 6 for _, b in changed)
    assert all((a.name, a.seed, a.recording) == (b.name, b.seed, b.recording) for a, b in changed)
    music = [j for j in plain if j.split == "train" and j.source not in ("noise", "speech")]
    assert 0.2 < len(changed) / len(music) < 0.4
    assert len({b.voice for _, b in changed}) == 6
