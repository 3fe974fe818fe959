"""The ``basic-pitch`` transcriber: Spotify's basic-pitch model behind the Transcriber interface.

Needs the extra: ``pip install 'hppnet-plugin[basic-pitch]'`` (TensorFlow). Imported
only when asked for.
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional

from . import constants as C
from .notes import Transcription


class BasicPitchTranscriber:
    """basic-pitch's shipped ICASSP 2022 model; notes restricted to the piano range by default."""

    name = "basic-pitch"

    @staticmethod
    def missing_dependency():
        """None when basic-pitch is installed, else what to install (checked without importing it)."""
        import importlib.util

        if importlib.util.find_spec("basic_pitch") is None:
            return "basic-pitch is not installed: pip install 'hppnet-plugin[basic-pitch]'"
        return None

    def __init__(self, onset_threshold: float = 0.5, frame_threshold: float = 0.3,
                 minimum_note_length_ms: float = 127.70, piano_range_only: bool = True, device=None):
        # TensorFlow places basic-pitch's model itself: device "auto" (or None) lets it, "cpu" is
        # honoured only where TensorFlow sees no GPU anyway; anything else is refused, as is any
        # other option (load_transcriber names it), rather than silently ignored.
        if device not in (None, "auto", "cpu"):
            raise ValueError(f"the basic-pitch backend cannot run on device={device!r}: TensorFlow places its "
                             "model itself; pass device='auto'")
        try:
            from basic_pitch import ICASSP_2022_MODEL_PATH
            from basic_pitch.inference import Model
        except ImportError as error:
            raise ImportError("the basic-pitch backend needs basic-pitch: pip install 'hppnet-plugin[basic-pitch]'"
                              f" ({error})") from error
        if device == "cpu":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                raise ValueError("the basic-pitch backend cannot be kept on the CPU: TensorFlow sees a GPU and "
                                 "places the model itself; pass device='auto' (or hide the GPU: CUDA_VISIBLE_DEVICES=)")
        self._model = Model(ICASSP_2022_MODEL_PATH)
        self.onset_threshold = onset_threshold
        self.frame_threshold = frame_threshold
        self.minimum_note_length_ms = minimum_note_length_ms
        self.piano_range_only = piano_range_only

    def transcribe(self, audio, sample_rate: Optional[float] = None, return_rolls: bool = False) -> Transcription:
        """basic-pitch's own ``predict`` on the file (it reports no progress, so there is no
        ``progress`` option)."""
        import soundfile as sf
        from basic_pitch.inference import predict

        from .audio import AudioSource

        source = AudioSource(audio, sample_rate)  # same validation as HPPNet
        path, tmp = str(audio), None
        if sample_rate is not None:  # basic-pitch reads files only (its issue #55)
            fd, tmp = tempfile.mkstemp(suffix=".wav")
            os.close(fd)
            sf.write(tmp, source.read_all(), 16000)
            path = tmp
        try:
            output, _, events = predict(path, self._model, onset_threshold=self.onset_threshold,
                                        frame_threshold=self.frame_threshold,
                                        minimum_note_length=self.minimum_note_length_ms)
        finally:
            if tmp:
                os.unlink(tmp)
        from .adapters.basic_pitch import note_events_to_notes

        notes = note_events_to_notes(e for e in events if e[1] > e[0] and (
            not self.piano_range_only or C.MIN_PITCH <= e[2] <= C.MAX_PITCH))
        rolls = {"frame": output.get("note"), "onset": output.get("onset")} if return_rolls else None
        return Transcription(notes=notes, duration=source.duration_s, rolls=rolls, transcriber=self.name,
                             frames_per_second=22050 / 256)
