import numpy as np
import pytest
import soundfile as sf

from hppnet_plugin.audio import AudioSource, load_audio, to_float32

from .conftest import SR, piano_like_tone


def dominant_hz(x, sr=SR):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * sr / len(x)


def test_integer_scaling():
    assert to_float32(np.array([-32768, 16384], np.int16)).tolist() == [-1.0, 0.5]
    assert to_float32(np.array([-2 ** 31], np.int32)).tolist() == [-1.0]
    assert to_float32(np.array([0, 128], np.uint8)).tolist() == [-1.0, 0.0]


def test_resampling_keeps_pitch_and_length():
    sr = 44100
    t = np.arange(sr * 2) / sr
    audio = load_audio(np.sin(2 * np.pi * 440 * t).astype(np.float32), sample_rate=sr)
    assert abs(len(audio) - 2 * SR) <= 2
    assert abs(dominant_hz(audio[1000:-1000]) - 440) < 2


def test_stereo_frames_by_channels_is_mixed_to_mono():
    left = piano_like_tone(60, 1.0)
    stereo = np.stack([left, -left * 0], axis=1)
    np.testing.assert_allclose(load_audio(stereo, sample_rate=SR), left / 2, atol=1e-6)


def test_eight_channel_file_is_mixed(tmp_path):
    data = np.tile(piano_like_tone(60, 0.5)[:, None], (1, 8))
    sf.write(tmp_path / "eight.wav", data, SR)
    np.testing.assert_allclose(load_audio(tmp_path / "eight.wav"), data[:, 0], atol=1e-4)


def test_channels_by_frames_is_rejected_with_hint():
    with pytest.raises(ValueError, match="pass array.T"):
        AudioSource(np.zeros((2, 44100), np.float32), sample_rate=44100)


def test_bad_arrays():
    with pytest.raises(ValueError, match="1-D or frames x channels"):
        AudioSource(np.zeros((2, 3, 4)), sample_rate=SR)
    with pytest.raises(TypeError, match="sample_rate"):
        AudioSource(np.zeros(10))
    with pytest.raises(ValueError, match="sample rate must be"):
        AudioSource(np.zeros(10), sample_rate=10)
    with pytest.raises(ValueError, match="sample rate must be"):
        AudioSource(np.zeros(10), sample_rate=5e6)
    with pytest.raises(TypeError, match="integers or floats"):
        AudioSource(np.array(["a"]), sample_rate=SR)
    bad = np.zeros(100, np.float32)
    bad[50] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*sample 50"):
        load_audio(bad, sample_rate=SR)
    bad[50] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_audio(bad, sample_rate=SR)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        AudioSource(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        AudioSource(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("this is not audio at all " * 20)
    with pytest.raises(ValueError, match=r"not a readable audio file \(extension \.wav, content looks like text\)"):
        AudioSource(tmp_path / "text.wav")
    with pytest.raises(ValueError, match="is a folder"):
        AudioSource(tmp_path)


def test_truncated_flac_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, piano_like_tone(60, 3.0), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        load_audio(path)


@pytest.mark.parametrize("suffix,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3")])
def test_formats(tmp_path, suffix, fmt):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    tone = piano_like_tone(69, 1.0)
    sf.write(tmp_path / f"a{suffix}", tone, 22050, format=fmt)
    audio = load_audio(tmp_path / f"a{suffix}")
    assert abs(len(audio) - len(tone) * SR / 22050) < (2000 if fmt == "MP3" else 5)  # MP3 adds codec padding


def test_a_text_file_named_mp3_says_so_and_keeps_the_decoder_quiet(tmp_path, capfd):
    fake = tmp_path / "song.mp3"
    fake.write_text("not an mp3 but a shopping list\n" * 400)
    with pytest.raises(ValueError) as error:
        AudioSource(fake)
    message = str(error.value)
    assert "not a readable audio file" in message and "extension .mp3, content looks like text" in message
    assert "does not exist" not in message
    assert "MPEG" not in capfd.readouterr().err  # libmpg123's resync notes stay off the terminal


def _write_m4a(path, seconds=2.0, rate=44100, freq=440.0):
    av = pytest.importorskip("av", reason="PyAV is the av extra (pip install 'hppnet-plugin[av]')")
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        for start in range(0, len(samples), 1024):
            chunk = samples[start:start + 1024]
            frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_m4a_phone_recordings_are_decoded_with_pyav(tmp_path):
    path = tmp_path / "phone.m4a"
    _write_m4a(path)
    source = AudioSource(path)
    assert source.sample_rate == 44100 and abs(source.duration_s - 2.0) < 0.1
    audio = source.read_all()
    assert abs(len(audio) / SR - 2.0) < 0.1
    spectrum = np.abs(np.fft.rfft(audio[SR // 4: SR // 4 + SR]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # 1 Hz bins: the tone survives, at its pitch


def test_m4a_without_pyav_names_the_extra(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "phone.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ValueError, match=r"pip install 'hppnet-plugin\[av\]'"):
        AudioSource(path)
