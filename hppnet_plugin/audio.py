"""Audio input: files or arrays -> blocks of 16 kHz mono float32. The only codec user.

Files are read block by block and resampled with a streaming high-quality
resampler (soxr), so memory does not grow with file length. libsndfile (soundfile)
reads WAV, FLAC, OGG/Opus, MP3, AIFF; what it cannot read - AAC/M4A, and the
soundtracks of MP4, MOV, MKV and WebM video - is decoded with PyAV (the ``av``
extra) when it is installed.

Arrays: 1-D (mono) or 2-D **frames x channels** (soundfile's layout). A 2-D
array whose first axis is short (<= 16) and whose second axis is long looks like
channels x frames (librosa/torchaudio layout); it is rejected with a message to
pass ``array.T``, rather than guessed. Channels are averaged to mono. Integer
samples are scaled to [-1, 1) by their type's range (int16 / 32768, ...).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import constants as C

CONTAINER_SUFFIXES = (".m4a", ".aac", ".mp4", ".m4v", ".mov", ".mkv", ".webm")
"""Formats libsndfile cannot read: decoded with PyAV."""
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
BLOCK_SECONDS = 10.0


class AudioSource:
    """A validated audio input that yields 16 kHz mono float32 blocks.

    Attributes
    ----------
    duration_s : float
        Duration of the input, seconds.
    name : str
        File name or ``"<array>"``.
    """

    def __init__(self, source, sample_rate=None):
        self._path = None
        self._array = None
        self._container = False
        if isinstance(source, (str, os.PathLike)):
            if sample_rate is not None:
                raise TypeError("sample_rate is only for arrays; a file carries its own rate")
            self._open_file(Path(source))
        else:
            self._open_array(source, sample_rate)

    # -- construction ---------------------------------------------------------------
    def _open_file(self, path: Path):
        import soundfile as sf

        if not path.exists():
            raise FileNotFoundError(f"audio file not found: {path}")
        if path.is_dir():
            raise ValueError(f"{path} is a folder; pass an audio file (the CLI accepts folders)")
        if path.stat().st_size == 0:
            raise ValueError(f"audio file {path} is empty (0 bytes)")
        if path.suffix.lower() in CONTAINER_SUFFIXES:
            return self._open_container(path)
        try:
            with _quiet_stderr():  # libmpg123 prints resync notes for what is not MPEG audio
                info = sf.info(str(path))
        except Exception as error:
            raise ValueError(f"{path} is not a readable audio file ({_sniff(path)}); supported: WAV, FLAC, "
                             "OGG/Opus, MP3, AIFF, and with the av extra (pip install 'hppnet-plugin[av]') "
                             "M4A/AAC and video soundtracks") from error
        if info.frames < 0 or info.samplerate <= 0:
            raise ValueError(f"audio file {path} has no valid length or sample rate")
        self._check_rate(info.samplerate)
        self._path, self.name = path, path.name
        self.sample_rate, self.channels, self.n_input_samples = info.samplerate, info.channels, info.frames
        self.duration_s = info.frames / info.samplerate

    def _open_container(self, path: Path):
        try:
            import av
        except ImportError:
            raise ValueError(f"{path}: {path.suffix} files (AAC and video soundtracks) are decoded with PyAV; "
                             "install it with: pip install 'hppnet-plugin[av]'") from None
        try:
            with av.open(str(path)) as container:
                if not container.streams.audio:
                    raise ValueError(f"{path} has no audio stream")
                stream = container.streams.audio[0]
                rate = stream.codec_context.sample_rate
                seconds = (float(stream.duration * stream.time_base) if stream.duration
                           else (container.duration or 0) / 1e6)
        except av.FFmpegError as error:
            raise ValueError(f"{path} is not a readable audio file ({_sniff(path)}; PyAV: {error})") from error
        if not rate or rate <= 0:
            raise ValueError(f"audio file {path} has no valid sample rate")
        self._check_rate(rate)
        self._path, self._container, self.name = path, True, path.name
        self.sample_rate, self.channels = rate, 1
        self.n_input_samples = int(round(seconds * rate))
        self.duration_s = seconds

    def _open_array(self, samples, sample_rate):
        if sample_rate is None:
            raise TypeError("pass sample_rate=... with an array (e.g. transcribe(samples, sample_rate=44100))")
        try:
            sample_rate = float(sample_rate)
        except (TypeError, ValueError):
            raise TypeError(f"sample_rate must be a number; got {sample_rate!r}") from None
        self._check_rate(sample_rate)
        if hasattr(samples, "detach"):  # torch tensor
            samples = samples.detach().cpu().numpy()
        array = np.asarray(samples)
        if array.dtype == object or array.dtype.kind not in "iuf":
            raise TypeError(f"audio samples must be integers or floats; got dtype {array.dtype}")
        if array.ndim == 2:
            frames, channels = array.shape
            if frames <= 16 and channels > 16 * frames:
                raise ValueError(f"audio must be 1-D or frames x channels; got shape {array.shape}, "
                                 "which looks like channels x frames: pass array.T")
        elif array.ndim != 1:
            raise ValueError(f"audio must be 1-D or frames x channels; got shape {array.shape}. "
                             "Pass a mono array or a path.")
        self._array = to_float32(array)
        self.name = "<array>"
        self.sample_rate = sample_rate
        self.channels = 1 if array.ndim == 1 else array.shape[1]
        self.n_input_samples = len(array)
        self.duration_s = len(array) / sample_rate

    @staticmethod
    def _check_rate(rate):
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample rate must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz; got {rate}")

    # -- reading --------------------------------------------------------------------
    def _raw_blocks(self):
        block = max(1, int(BLOCK_SECONDS * self.sample_rate))
        if self._array is not None:
            for start in range(0, len(self._array), block):
                yield self._array[start:start + block]
            return
        if self._container:
            yield from self._container_blocks(block)
            return
        import soundfile as sf

        try:
            with sf.SoundFile(str(self._path)) as f:
                while True:
                    data = f.read(block, dtype="float32", always_2d=True)
                    if len(data) == 0:
                        break
                    yield data
        except RuntimeError as error:  # libsndfile reports truncated/corrupt data this way
            raise ValueError(f"audio file {self._path} is corrupt or truncated: {error}") from error

    def _container_blocks(self, block: int):
        import av

        try:
            with av.open(str(self._path)) as container:
                stream = container.streams.audio[0]
                mono = av.AudioResampler(format="flt", layout="mono", rate=self.sample_rate)
                pending, size = [], 0
                for frame in container.decode(stream):
                    for out in mono.resample(frame):
                        pending.append(out.to_ndarray().reshape(-1))
                        size += len(pending[-1])
                    if size >= block:
                        yield np.concatenate(pending)[:, None]
                        pending, size = [], 0
                for out in mono.resample(None):
                    pending.append(out.to_ndarray().reshape(-1))
                if pending:
                    yield np.concatenate(pending)[:, None]
        except av.FFmpegError as error:
            raise ValueError(f"audio file {self._path} is corrupt or truncated: {error}") from error

    def blocks(self):
        """Yield float32 mono blocks at 16 kHz, in order."""
        resampler = None
        if self.sample_rate != C.SAMPLE_RATE:
            import soxr

            resampler = soxr.ResampleStream(self.sample_rate, C.SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        position = 0
        for block in self._raw_blocks():
            mono = block if block.ndim == 1 else block.mean(axis=1, dtype=np.float32)
            if not np.isfinite(mono).all():
                bad = position + int(np.argmax(~np.isfinite(mono)))
                raise ValueError(f"{self.name} has NaN or infinite samples (first at sample {bad}); "
                                 "clean the signal (e.g. np.nan_to_num) before transcribing")
            position += len(mono)
            out = resampler.resample_chunk(mono) if resampler else mono
            if len(out):
                yield np.ascontiguousarray(out, dtype=np.float32)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if len(tail):
                yield tail.astype(np.float32)

    def read_all(self) -> np.ndarray:
        """The whole signal at 16 kHz mono (for training caches and short clips)."""
        parts = list(self.blocks())
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class _quiet_stderr:
    """Silence what C libraries write to file descriptor 2 while a file is opened."""

    def __enter__(self):
        import sys

        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
        except (OSError, ValueError):  # no real descriptor 2 (embedded interpreters)
            self._saved = None
            return self
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
        return False


def _sniff(path: Path) -> str:
    """What a file that libsndfile refused looks like, for the error message."""
    head = path.read_bytes()[:512] if path.is_file() else b""
    suffix = path.suffix.lower() or "no extension"
    if head.startswith((b"<!DOCTYPE", b"<html", b"<HTML", b"<?xml")):
        kind = "an HTML/XML document"
    elif head.startswith(b"%PDF"):
        kind = "a PDF document"
    elif head.startswith(b"PK"):
        kind = "a ZIP archive"
    elif head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        kind = "text"
    else:
        kind = "data in no audio format libsndfile knows"
    return f"extension {suffix}, content looks like {kind}"


def to_float32(array: np.ndarray) -> np.ndarray:
    """Scale integer PCM to [-1, 1); pass floats through as float32."""
    if array.dtype.kind == "f":
        return array.astype(np.float32, copy=False)
    if array.dtype.kind == "u":
        info = np.iinfo(array.dtype)
        mid = (info.max + 1) / 2
        return ((array.astype(np.float64) - mid) / mid).astype(np.float32)
    info = np.iinfo(array.dtype)
    return (array.astype(np.float64) / -float(info.min)).astype(np.float32)


def load_audio(source, sample_rate=None) -> np.ndarray:
    """Read a file or array into one 16 kHz mono float32 array."""
    return AudioSource(source, sample_rate).read_all()
