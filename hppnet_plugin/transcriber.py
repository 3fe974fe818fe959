"""The HPPNet transcriber behind the registry names hppnet-sp / hppnet-base / hppnet-tiny."""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Optional

from . import constants as C
from .transcription import Transcription

log = logging.getLogger(__name__)

THREADS_RECHECK_S = 10.0


class HPPNetTranscriber:
    """HPPNet weights + front end + chunked inference + decoding.

    Parameters
    ----------
    name : str
        Registry name (``"hppnet-sp"``, ...); selects the shipped weights. Default: the best
        variant whose weights are installed (with ``checkpoint``: the checkpoint's variant).
    checkpoint : path, optional
        Your own weight file or training checkpoint instead of the shipped one.
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    threads : int, optional
        CPU threads for torch while this transcriber runs (restored after). Default: the cores
        idle when a transcription starts (one other busy process on 2 cores: 1 thread, which
        is 4x faster there than 2).
    chunk_s, context_s : float
        Window core and context on each side, seconds (memory scales with these; the notes
        depend a little on them, README "Long files").
    crossfade_s : float
        Blend neighbouring windows' probabilities over this many seconds around each core
        boundary (0: switch at the boundary); at most 2 * context_s and chunk_s.
    batch_size : int, optional
        Windows per forward pass (default 1 on CPU, 4 on GPUs: on a CPU, batching
        does not speed up the already large GEMMs, it only multiplies peak memory).
    onset_threshold, frame_threshold : float, optional
        Decoding thresholds (default: those stored with the weights, chosen on
        validation data by ``export --calibrate``; 0.4 / 0.4 if never calibrated).
    partial_onset_threshold : float, optional
        Onset threshold of keys on a partial (octave, twelfth, ...) of a key being struck
        (default: the weights' own; the ``onset_threshold`` passed, when only that is passed).
    min_note_ms : float, optional
        Notes shorter than this many milliseconds are dropped (default: the value stored with
        the weights, chosen with the thresholds; 0 if never calibrated: keep every note).
    precision : {"auto", "fp32", "bf16", "fp16"}
        "auto" runs the model in bf16 on CPUs where bf16 is native (AVX512-BF16/AMX) and a bf16
        GEMM measures faster than fp32 (< 0.1 point of note F1; 1.6-2x faster on such CPUs), and in
        fp32 elsewhere, GPUs included. "fp32" for bit-for-bit reproducible probabilities.
    """

    def __init__(self, name: Optional[str] = None, checkpoint=None, device: str = "auto",
                 threads: Optional[int] = None, chunk_s: float = 20.0, context_s: float = 2.0,
                 batch_size: Optional[int] = None, onset_threshold: Optional[float] = None,
                 frame_threshold: Optional[float] = None, precision: str = "auto",
                 min_note_ms: Optional[float] = None, crossfade_s: float = 0.0,
                 partial_onset_threshold: Optional[float] = None):
        import torch

        from .frontend import LogCQT
        from .inference import autocast_dtype, choose_device, torch_threads
        from .weights import build_model, load_weights, shipped_weights_path

        if chunk_s <= 0 or context_s < 0 or (batch_size is not None and batch_size < 1):
            raise ValueError(f"need chunk_s > 0, context_s >= 0, batch_size >= 1; got {chunk_s}, {context_s}, {batch_size}")
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1; got {threads}")
        self.threads = None if threads is None else int(threads)
        self._auto_threads = None  # (threads, when chosen) when threads is None
        if name is None and checkpoint is None:  # the best variant whose weights are installed
            from .weights import best_shipped_name

            name = best_shipped_name()
        if checkpoint is None:
            path, shipped = shipped_weights_path(name), True
        else:
            path, shipped = Path(checkpoint), False
        config_dict, state_dict = load_weights(path, require_sidecar=shipped)
        self.model = build_model(config_dict, state_dict, source=str(path))
        self.config = self.model.config
        name = name or f"hppnet-{self.config.variant}"
        expected = name.removeprefix("hppnet-") if name.startswith("hppnet-") else None
        if checkpoint is not None and expected and expected != self.config.variant:
            log.warning("checkpoint %s holds an HPPNet-%s, loaded under the name %s", path,
                        self.config.variant, name)
        self.name = name
        self.checkpoint = str(path)
        self.device = choose_device(device)
        with torch_threads(self.threads):  # "auto" measures with the threads it will run with
            self.dtype = autocast_dtype(self.device, precision)
        self.precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")
        self.model.to(self.device)
        self.frontend = LogCQT(self.config).to(self.device)
        fps = self.config.frames_per_second
        self.chunk_frames = max(1, int(round(chunk_s * fps)))
        self.context_frames = int(round(context_s * fps))
        self.crossfade_frames = int(round(crossfade_s * fps))
        if not 0 <= self.crossfade_frames <= min(2 * self.context_frames, self.chunk_frames):
            raise ValueError(f"crossfade_s must be 0..min(2 * context_s, chunk_s); got {crossfade_s}")
        self.batch_size = batch_size or (1 if self.device.type == "cpu" else 4)
        self.onset_threshold = self.config.onset_threshold if onset_threshold is None else onset_threshold
        self.frame_threshold = self.config.frame_threshold if frame_threshold is None else frame_threshold
        if partial_onset_threshold is not None:
            self.partial_onset_threshold = partial_onset_threshold
        elif onset_threshold is not None:  # one threshold asked for: every key gets it
            self.partial_onset_threshold = None
        else:
            self.partial_onset_threshold = self.config.partial_onset_threshold
        for value, label in ((self.onset_threshold, "onset_threshold"), (self.frame_threshold, "frame_threshold"),
                             (self.partial_onset_threshold, "partial_onset_threshold")):
            if value is None:
                continue
            if not 0 < value < 1:
                raise ValueError(f"{label} must be between 0 and 1; got {value}")
        self.min_note_ms = self.config.min_note_ms if min_note_ms is None else float(min_note_ms)
        if self.min_note_ms < 0:
            raise ValueError(f"min_note_ms must be >= 0 (milliseconds; 0 keeps every note); got {min_note_ms}")

    def __repr__(self):
        return (f"HPPNetTranscriber({self.name!r}, variant={self.config.variant}, device={self.device}, "
                f"precision={self.precision})")

    def transcribe(self, audio, sample_rate: Optional[float] = None, return_rolls: bool = False,
                   progress: bool = False, timings: Optional[dict] = None) -> Transcription:
        """Transcribe a file path or an array (with ``threads`` CPU threads, when given: torch's
        thread count is this transcriber's only while it transcribes, then back to what it was).

        Parameters
        ----------
        audio : path or array
            A WAV/FLAC/OGG/MP3 path, or samples: 1-D or (frames, channels), any
            rate (pass ``sample_rate``), int or float.
        return_rolls : bool
            Also return the onset/frame/velocity probability rolls (frames, 88).
        progress : bool
            Show a tqdm bar over the audio duration.
        timings : dict, optional
            Filled with seconds spent per stage: "audio" (read + resample), "cqt",
            "model", "decode" (for profiling and benchmarks/).
        """
        from .inference import torch_threads

        with torch_threads(self._threads_now()):
            return self._transcribe(audio, sample_rate, return_rolls, progress, timings)

    def _threads_now(self):
        """``threads`` when given; on the CPU otherwise the cores idle now (cpu.default_threads),
        looked at again after THREADS_RECHECK_S so that a loop over short files pays once."""
        if self.threads is not None or self.device.type != "cpu":
            return self.threads
        import time

        from .cpu import default_threads

        now = time.monotonic()
        if self._auto_threads is None or now - self._auto_threads[1] > THREADS_RECHECK_S:
            self._auto_threads = (default_threads(), now)
        return self._auto_threads[0]

    def _transcribe(self, audio, sample_rate, return_rolls: bool, progress: bool, timings) -> Transcription:
        import numpy as np

        from .audio import AudioSource
        from .decoding import NoteDecoder
        from .inference import AudioFeatureSource, stream_rolls, timed

        source = AudioSource(audio, sample_rate)
        features = AudioFeatureSource(source.blocks(), self.frontend, self.device, timings)
        fps = self.config.frames_per_second
        decoder = NoteDecoder(self.onset_threshold, self.frame_threshold, fps, min_note_ms=self.min_note_ms,
                              partial_onset_threshold=self.partial_onset_threshold)
        rolls = {"onset": [], "frame": [], "velocity": []} if return_rolls else None
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=round(source.duration_s, 1), unit="s", desc=source.name, leave=False)

        def advance(end_frame):
            if bar is not None:
                bar.update(round(min(end_frame / fps, source.duration_s) - bar.n, 1))

        for _, probs in stream_rolls(self.model, features, self.chunk_frames, self.context_frames,
                                     self.batch_size, device=self.device, progress=advance, timings=timings,
                                     dtype=self.dtype, crossfade_frames=self.crossfade_frames):
            with timed(timings, "decode"):
                decoder.push(probs["onset"], probs["frame"], probs["velocity"])
            if rolls is not None:
                for k in rolls:
                    rolls[k].append(probs[k])
        if bar is not None:
            bar.close()
        with timed(timings, "decode"):
            notes = decoder.finish()
        if rolls is not None:
            rolls = {k: np.concatenate(v) if v else np.zeros((0, C.N_KEYS), np.float32) for k, v in rolls.items()}
        return Transcription(notes=notes, duration=source.duration_s, rolls=rolls,
                             config=self.config.to_dict(), transcriber=self.name,
                             frames_per_second=fps,
                             metadata={"input": source.name, "checkpoint": self.checkpoint,
                                       "precision": self.precision})


# Registry factories. partial (not **options wrappers) keeps HPPNetTranscriber's
# signature visible, so load_transcriber can reject a misspelt option by name.
hppnet_sp = partial(HPPNetTranscriber, "hppnet-sp")
hppnet_base = partial(HPPNetTranscriber, "hppnet-base")
hppnet_tiny = partial(HPPNetTranscriber, "hppnet-tiny")


def _weights_note(name: str):
    """The registry's ``status_note`` hook (``hppnet list``): say when no weights ship for ``name``."""
    def status_note():
        from .weights import SHIPPED, WEIGHTS_DIR

        if name in SHIPPED and not (WEIGHTS_DIR / SHIPPED[name]).exists():
            return "no shipped weights in this install: pass --checkpoint"
        return None
    return status_note


for _factory in (hppnet_sp, hppnet_base, hppnet_tiny):
    _factory.status_note = _weights_note(_factory.args[0])
