"""The synthetic corpus's recording conditions: note-free clips, silences, tuning, doubled
chords and the timidity voice (issue 11), and that adding them leaves validation/test alone."""
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from hppnet_plugin import constants as C
from hppnet_plugin.notes import Note
from hppnet_plugin.training import augment as A
from hppnet_plugin.training import textures as M
from hppnet_plugin.training import performance as P
from hppnet_plugin.training import render as R
from hppnet_plugin.training import corpus_plan as S

FREEPATS = "/etc/timidity/freepats.cfg"
FLUID = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def voices(n=3):
    return [R.Voice(f"/sf/v{i}.sf2", 0) for i in range(n)]


def test_extra_pieces_and_voices_leave_validation_and_test_unchanged():
    midi = [f"/m/composer__piece{i}.mid" for i in range(40)]
    holdout = R.Voice("/sf/holdout.sf2", 0)
    plain = S.plan_jobs(midi, 10, voices(), holdout, 0, 30, 4, 5)
    more = S.plan_jobs(midi, 10, voices(), holdout, 0, 30, 4, 5, n_doubled=7, n_noise=6,
                       extra_train_voices=[R.Voice(FREEPATS, 0)])
    assert [j for j in plain if j.split != "train"] == [j for j in more if j.split != "train"]
    train = [j for j in more if j.split == "train"]
    assert sum(j.source == "noise" for j in train) == 6 and sum(j.source == "texture-doubled" for j in train) == 7
    assert any(j.voice.renderer == "timidity" for j in train)
    assert all(j.voice.renderer == "fluidsynth" for j in more if j.split != "train")
    assert len({j.name for j in more if j.split == "train"}) == len(train)  # unique names


def test_hum_clips_are_added_without_changing_any_other_job():
    midi = [f"/m/composer__piece{i}.mid" for i in range(40)]
    holdout = R.Voice("/sf/holdout.sf2", 0)
    args = (midi, 10, voices(), holdout, 0, 30, 4, 5)
    before = S.plan_jobs(*args, n_doubled=7, n_noise=6, extra_train_voices=[R.Voice(FREEPATS, 0)])
    after = S.plan_jobs(*args, n_doubled=7, n_noise=6, extra_train_voices=[R.Voice(FREEPATS, 0)], n_hum=5)
    assert after[:len(before)] == before
    hum = after[len(before):]
    assert [j.source for j in hum] == ["hum"] * 5 and all(j.split == "train" for j in hum)
    assert len({(j.split, j.name) for j in after}) == len(after)


def test_hum_clips_switch_hum_on_and_off_at_audible_levels():
    clips = [A.hum_clip(np.random.default_rng(i), 6.0) for i in range(30)]
    peaks = [float(np.max(np.abs(c))) for c in clips]
    assert min(peaks) > 10 ** (-51 / 20) and max(peaks) <= 10 ** (-6 / 20) + 1e-6
    assert min(peaks) < 10 ** (-35 / 20) and max(peaks) > 10 ** (-15 / 20)
    # Some clips have a stretch (50 ms windows) where the hum drops out and comes back.
    gated = 0
    for c in clips:
        rms = np.sqrt(np.mean(c[: len(c) // 800 * 800].reshape(-1, 800) ** 2, axis=1))
        gated += bool((rms < 0.05 * np.median(rms)).any())
    assert 5 <= gated < len(clips)
    spectrum = np.abs(np.fft.rfft(clips[0]))
    peak = np.fft.rfftfreq(len(clips[0]), 1 / 16_000)[np.argmax(spectrum)]
    assert min(abs(peak / 50 - round(peak / 50)), abs(peak / 60 - round(peak / 60))) < 0.02


@pytest.mark.parametrize("kind", A.NOISE_KINDS)
def test_background_noise_has_the_asked_level_and_no_nan(kind):
    x = A.background_noise(np.random.default_rng(1), 16_000 * 3, kind)
    assert np.isfinite(x).all()
    rms = np.sqrt(np.mean(x ** 2))
    assert rms == 0 if kind == "silence" else abs(rms - 1) < 1e-6


def test_hum_has_its_energy_at_mains_harmonics():
    x = A.background_noise(np.random.default_rng(3), 16_000 * 4, "hum")
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / 16_000)
    peak = freqs[np.argmax(spectrum)]
    assert min(abs(peak / 50 - round(peak / 50)), abs(peak / 60 - round(peak / 60))) < 0.02


def test_noise_clip_levels_range_from_barely_audible_to_loud():
    peaks = [np.max(np.abs(A.noise_clip(np.random.default_rng(i), 2.0))) for i in range(60)]
    audible = [p for p in peaks if p > 0]
    assert len(audible) < len(peaks)  # some digital silence
    assert min(audible) < 10 ** (-60 / 20) and max(audible) > 10 ** (-20 / 20)
    assert max(peaks) <= 10 ** (-6 / 20) + 1e-6


def test_silences_make_note_free_stretches_and_keep_every_note():
    notes = [Note(0.5 + 0.25 * i, 0.5 + 0.25 * i + 0.6, 60 + i % 12, 80) for i in range(60)]
    found_gap = found_intro = False
    for seed in range(40):
        out, pedal, outro = P.add_silences(notes, [(0.2, 127), (20.0, 0)], np.random.default_rng(seed))
        assert len(out) >= len(notes) - 3 and outro >= 0
        assert all(n.end > n.start for n in out)
        found_intro |= out[0].start > 2.0
        # A pause: a stretch of >= 1.5 s in which no note sounds.
        events = sorted((n.start, n.end) for n in out)
        covered_until = events[0][1]
        for start, end in events[1:]:
            if start - covered_until >= 1.49:
                found_gap = True
                assert any(t <= covered_until + 1e-9 and v == 0 for t, v in pedal)  # pedal lifted
            covered_until = max(covered_until, end)
    assert found_gap and found_intro


def test_doubled_textures_put_chord_notes_on_partials_across_the_keyboard():
    notes = M.generate_texture(np.random.default_rng(0), 120, M.DOUBLED_KINDS)
    assert all(C.MIN_PITCH <= n.pitch <= C.MAX_PITCH for n in notes)
    onsets = {}
    for n in notes:
        onsets.setdefault(round(n.start, 2), []).append(n.pitch)
    on_partial = sum(1 for chord in onsets.values() for p in chord
                     if any(p - q in (12, 19, 24) for q in chord))
    assert on_partial > 0.3 * len(notes)
    pitches = [n.pitch for n in notes]
    assert min(pitches) < 36 and max(pitches) > 90


def test_tuning_offset_is_one_channel_pitch_bend(tmp_path):
    path = tmp_path / "t.mid"
    P.write_corpus_midi([Note(0.5, 1.0, 60, 80)], [], path, tuning_cents=-30)
    inst = pretty_midi.PrettyMIDI(str(path)).instruments[0]
    assert len(inst.pitch_bends) == 1 and inst.pitch_bends[0].time == 0
    assert abs(inst.pitch_bends[0].pitch / 8191 * 200 + 30) < 0.1
    assert [n.pitch for n in inst.notes] == [60]  # labels keep the key, not the detuned pitch


def _peak_hz(path, start_s, end_s):
    import soundfile as sf

    x, sr = sf.read(path, always_2d=True)
    seg = x.mean(axis=1)[int(start_s * sr):int(end_s * sr)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 8 * len(seg)))
    return np.fft.rfftfreq(8 * len(seg), 1 / sr)[np.argmax(spectrum)]


@pytest.mark.parametrize("voice_path", [FLUID, FREEPATS])
def test_renderers_honour_the_tuning_and_start_on_time(tmp_path, voice_path):
    if not Path(voice_path).exists() or shutil.which("timidity" if voice_path.endswith(".cfg") else "fluidsynth") is None:
        pytest.skip(f"{voice_path} and its renderer are needed (apt-get install fluidsynth fluid-soundfont-gm "
                    "timidity freepats; .ci/run installs them)")
    voice = R.Voice(voice_path, 0)
    mid, wav = tmp_path / "a.mid", tmp_path / "a.wav"
    P.write_corpus_midi([Note(1.0, 2.0, 69, 100)], [], mid, tuning_cents=25)
    R.render(mid, voice, wav)
    assert abs(_peak_hz(wav, 1.1, 1.6) - 440 * 2 ** (25 / 1200)) < 2.0
    assert R.measure_latency_s(voice) < 0.02  # timidity keeps the leading silence (--preserve-silence)
