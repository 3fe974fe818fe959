"""basic-pitch, both ways: Spotify's basic-pitch model as the ``basic-pitch`` transcriber, and
HPPNet behind basic-pitch's own ``predict`` call. Code written against
``basic_pitch.inference.predict`` switches to HPPNet by changing one import::

    # from basic_pitch.inference import predict
    from hppnet_plugin.basic_pitch import predict
    model_output, midi_data, note_events = predict("piece.wav")

``predict`` does not need basic-pitch; the ``basic-pitch`` transcriber needs the extra
``pip install 'hppnet-plugin[basic-pitch]'`` (TensorFlow), imported only when it is loaded.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

from . import constants as C
from .adapters.basic_pitch import note_events_to_notes, notes_to_note_events
from .adapters.pretty_midi import notes_to_pretty_midi
from .transcription import Transcription


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
        from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP
        from basic_pitch.inference import predict

        from .audio import AudioSource

        source = AudioSource(audio, sample_rate)  # same validation as HPPNet
        path, tmp = str(audio), None
        if sample_rate is not None:  # basic-pitch reads files only (its issue #55)
            fd, tmp = tempfile.mkstemp(suffix=".wav")
            os.close(fd)
            sf.write(tmp, source.read_all(), C.SAMPLE_RATE)
            path = tmp
        try:
            output, _, events = predict(path, self._model, onset_threshold=self.onset_threshold,
                                        frame_threshold=self.frame_threshold,
                                        minimum_note_length=self.minimum_note_length_ms)
        finally:
            if tmp:
                os.unlink(tmp)
        notes = note_events_to_notes(e for e in events if e[1] > e[0] and (
            not self.piano_range_only or C.MIN_PITCH <= e[2] <= C.MAX_PITCH))
        rolls = {"frame": output.get("note"), "onset": output.get("onset")} if return_rolls else None
        return Transcription(notes=notes, duration=source.duration_s, rolls=rolls, transcriber=self.name,
                             frames_per_second=AUDIO_SAMPLE_RATE / FFT_HOP)


class ModelOutput(dict):
    """basic-pitch's ``model_output`` dict, HPPNet's heads inside: ``"note"`` (frame) and
    ``"onset"`` probabilities as basic-pitch has them, plus ``"velocity"``. A key basic-pitch
    has and HPPNet does not (``"contour"``) fails with the reason, not a bare KeyError."""

    def __missing__(self, key):
        if key == "contour":
            raise KeyError("'contour': HPPNet has no pitch-contour head (basic-pitch's 264-bin, "
                           "1/3-semitone contour); it transcribes piano keys only. Use 'note' and 'onset'.")
        raise KeyError(f"{key!r}: HPPNet's model output has {sorted(self)}")


_NOT_GIVEN = object()


_TRANSCRIBERS: dict = {}
"""Transcribers built by :func:`predict`, by (name, options): basic-pitch's users call predict
in loops, and loading the weights costs more than transcribing a short file."""
_TRANSCRIBER_CACHE_SIZE = 2


def _cached_transcriber(model, options: dict, minimum_note_length):
    """The transcriber ``predict`` uses for a registry name, checkpoint path or basic-pitch model
    argument, loaded once per (model, options, minimum note length)."""
    from .registry import load_transcriber

    checkpoint = isinstance(model, (str, Path)) and Path(model).suffix in (".pt", ".pth")
    name = None if model is None or _is_basic_pitch_model(model) else str(model)
    stamp = Path(model).stat().st_mtime_ns if checkpoint and Path(model).exists() else None
    key = (name, stamp, minimum_note_length, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _TRANSCRIBERS:
        if checkpoint:
            from .transcriber import HPPNetTranscriber

            transcriber = HPPNetTranscriber(checkpoint=model, **options)
        else:
            transcriber = load_transcriber(name, **options)
        if minimum_note_length is not None and hasattr(transcriber, "min_note_ms"):
            transcriber.min_note_ms = float(minimum_note_length)  # replaces the weights' value
        while len(_TRANSCRIBERS) >= _TRANSCRIBER_CACHE_SIZE:
            _TRANSCRIBERS.pop(next(iter(_TRANSCRIBERS)))
        _TRANSCRIBERS[key] = transcriber
    return _TRANSCRIBERS[key]


def _is_basic_pitch_model(model) -> bool:
    """basic-pitch's model argument: ICASSP_2022_MODEL_PATH (a TF SavedModel folder), one of its
    ONNX / TFLite / CoreML files, or a loaded basic_pitch.inference.Model."""
    if type(model).__module__.startswith("basic_pitch"):
        return True
    if not isinstance(model, (str, Path)):
        return False
    path = Path(model)
    return (path.suffix in (".onnx", ".tflite", ".mlpackage") or "icassp_2022" in path.parts
            or (path.is_dir() and (path / "saved_model.pb").exists()))


def _refuse_unsupported(multiple_pitch_bends, melodia_trick, debug_file):
    refused = [name for name, given in (("multiple_pitch_bends=True", multiple_pitch_bends),
                                        ("melodia_trick", melodia_trick is not _NOT_GIVEN),
                                        ("debug_file", debug_file is not None)) if given]
    if refused:
        raise ValueError(f"predict() cannot honour {', '.join(refused)}: HPPNet transcribes piano keys "
                         "(no pitch bends, no melodia post-processing, no basic-pitch debug output); "
                         "leave them out")


def _transcriber_for(model, onset_threshold, frame_threshold, minimum_note_length, options: dict):
    """A loaded transcriber as given, or the cached one ``model`` names, with the thresholds."""
    thresholds = {k: v for k, v in (("onset_threshold", onset_threshold), ("frame_threshold", frame_threshold))
                  if v is not None}
    if minimum_note_length is not None and not minimum_note_length >= 0:
        raise ValueError(f"minimum_note_length must be >= 0 milliseconds; got {minimum_note_length}")
    if hasattr(model, "transcribe"):
        if thresholds:
            raise ValueError("pass thresholds when loading the transcriber, not with a loaded one")
        return model
    return _cached_transcriber(model, {**thresholds, **options}, minimum_note_length)


def _notes_kept(notes, minimum_note_length, minimum_frequency, maximum_frequency) -> list:
    """The notes at least ``minimum_note_length`` ms long, within the frequency limits (Hz)."""
    notes = [n for n in notes if n.duration * 1000.0 >= (minimum_note_length or 0.0) - 1e-6]
    if minimum_frequency is not None or maximum_frequency is not None:
        hz = lambda p: 440.0 * 2 ** ((p - 69) / 12)  # noqa: E731
        notes = [n for n in notes if (minimum_frequency is None or hz(n.pitch) >= minimum_frequency)
                 and (maximum_frequency is None or hz(n.pitch) <= maximum_frequency)]
    return notes


def predict(audio_path, model_or_model_path=None, onset_threshold=None, frame_threshold=None,
            minimum_note_length=None, minimum_frequency=None, maximum_frequency=None,
            multiple_pitch_bends: bool = False, melodia_trick=_NOT_GIVEN, debug_file=None,
            midi_tempo: float = 120.0, **transcriber_options):
    """HPPNet with basic-pitch's ``predict`` signature.

    Same as basic-pitch: the call, the ``(model_output, midi_data, note_events)`` return,
    ``midi_data`` a ``pretty_midi.PrettyMIDI`` (one piano), note events as
    ``(start_s, end_s, pitch, amplitude, pitch_bends)``, ``minimum_note_length`` in ms,
    ``minimum_frequency`` / ``maximum_frequency`` in Hz, ``midi_tempo``.
    Different: ``model_output`` holds (frames, 88) arrays at 50 frames/s (basic-pitch: 86.13
    frames/s, 88 notes + 264 contour bins), with ``"velocity"`` and no ``"contour"``;
    ``pitch_bends`` is always ``None`` (a piano key has no bend); amplitude is velocity / 127;
    thresholds mean HPPNet's (default: calibrated with the weights, not 0.5 / 0.3).
    Refused (ValueError), because they cannot be honoured: ``multiple_pitch_bends=True``,
    any explicit ``melodia_trick`` (HPPNet has no melodia post-processing) and ``debug_file``.

    Parameters
    ----------
    audio_path : path or array
        An audio file (arrays work too, with ``sample_rate=`` in transcriber_options).
    model_or_model_path : str, path or transcriber
        A registry name (default: the best HPPNet variant whose weights are installed), a
        checkpoint path, or a loaded transcriber. basic-pitch's own model argument
        (``ICASSP_2022_MODEL_PATH``, any basic-pitch model file or folder, or a loaded
        ``basic_pitch.inference.Model``) means the default HPPNet variant, so code written for
        basic-pitch runs unchanged; pass ``"basic-pitch"`` for basic-pitch itself.
    onset_threshold, frame_threshold : float, optional
        HPPNet's decoding thresholds (default 0.4 each, not basic-pitch's 0.5/0.3).
    minimum_note_length : float, optional
        Milliseconds; shorter notes are dropped (default: the weights' own ``min_note_ms``,
        calibrated with the thresholds; basic-pitch's default is 127.7). With a loaded
        transcriber it can only drop more notes than the transcriber's ``min_note_ms``.
    minimum_frequency, maximum_frequency : float, optional
        Hz; notes outside are dropped.
    multiple_pitch_bends, melodia_trick, debug_file
        basic-pitch options HPPNet cannot honour: refused when set (see above).
    midi_tempo : float
        Tempo written into the MIDI file, bpm.

    Returns
    -------
    (model_output, midi_data, note_events)
        ``model_output``: {"note": frame probabilities, "onset": onset
        probabilities, "velocity": velocity head} as (frames, 88) arrays at
        50 frames/s; ``midi_data``: pretty_midi.PrettyMIDI; ``note_events``:
        basic-pitch-style tuples.
    """
    _refuse_unsupported(multiple_pitch_bends, melodia_trick, debug_file)
    sample_rate = transcriber_options.pop("sample_rate", None)
    transcriber = _transcriber_for(model_or_model_path, onset_threshold, frame_threshold, minimum_note_length,
                                   transcriber_options)
    result = transcriber.transcribe(audio_path, sample_rate=sample_rate, return_rolls=True)
    notes = _notes_kept(result.notes, minimum_note_length, minimum_frequency, maximum_frequency)
    rolls = result.rolls or {}
    model_output = ModelOutput(note=rolls.get("frame"), onset=rolls.get("onset"), velocity=rolls.get("velocity"))
    return model_output, notes_to_pretty_midi(notes, midi_tempo), notes_to_note_events(notes)
