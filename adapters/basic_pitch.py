"""basic-pitch-shaped outputs: note events and a drop-in ``predict``.

Code written against ``basic_pitch.inference.predict`` switches to HPPNet by
changing one import::

    # from basic_pitch.inference import predict
    from hppnet_plugin.adapters.basic_pitch import predict
    model_output, midi_data, note_events = predict("piece.wav")

basic-pitch itself is not needed for this module.
"""
from __future__ import annotations

from hppnet_plugin.notes import Note, sort_notes


def notes_to_note_events(notes) -> list:
    """[(start_s, end_s, pitch_midi, amplitude 0..1, pitch_bends=None)] like basic-pitch's."""
    return [(n.start, n.end, n.pitch, n.velocity / 127.0, None) for n in sort_notes(notes)]


def note_events_to_notes(events) -> list:
    """basic-pitch note events -> notes (velocity = round(127 * amplitude), as basic-pitch writes MIDI)."""
    return sort_notes(Note(float(e[0]), float(e[1]), int(e[2]), max(1, min(127, int(round(127 * float(e[3]))))))
                      for e in events)


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


def predict(audio_path, model_or_model_path=None, onset_threshold=None, frame_threshold=None,
            minimum_note_length: float = 0.0, minimum_frequency=None, maximum_frequency=None,
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
        checkpoint path, or a loaded transcriber.
    onset_threshold, frame_threshold : float, optional
        HPPNet's decoding thresholds (default 0.4 each, not basic-pitch's 0.5/0.3).
    minimum_note_length : float
        Milliseconds; shorter notes are dropped.
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
    from pathlib import Path

    from hppnet_plugin.registry import load_transcriber

    from .pretty_midi import notes_to_pretty_midi

    refused = [name for name, given in (("multiple_pitch_bends=True", multiple_pitch_bends),
                                        ("melodia_trick", melodia_trick is not _NOT_GIVEN),
                                        ("debug_file", debug_file is not None)) if given]
    if refused:
        raise ValueError(f"predict() cannot honour {', '.join(refused)}: HPPNet transcribes piano keys "
                         "(no pitch bends, no melodia post-processing, no basic-pitch debug output); "
                         "leave them out")
    sample_rate = transcriber_options.pop("sample_rate", None)
    thresholds = {k: v for k, v in (("onset_threshold", onset_threshold), ("frame_threshold", frame_threshold))
                  if v is not None}
    if hasattr(model_or_model_path, "transcribe"):
        if thresholds:
            raise ValueError("pass thresholds when loading the transcriber, not with a loaded one")
        transcriber = model_or_model_path
    elif isinstance(model_or_model_path, (str, Path)) and Path(model_or_model_path).suffix in (".pt", ".pth"):
        from hppnet_plugin.transcriber import HPPNetTranscriber

        transcriber = HPPNetTranscriber(checkpoint=model_or_model_path, **thresholds, **transcriber_options)
    else:
        name = None if model_or_model_path is None else str(model_or_model_path)
        transcriber = load_transcriber(name, **thresholds, **transcriber_options)
    result = transcriber.transcribe(audio_path, sample_rate=sample_rate, return_rolls=True)
    notes = [n for n in result.notes if n.duration * 1000.0 >= minimum_note_length]
    if minimum_frequency is not None or maximum_frequency is not None:
        hz = lambda p: 440.0 * 2 ** ((p - 69) / 12)  # noqa: E731
        notes = [n for n in notes if (minimum_frequency is None or hz(n.pitch) >= minimum_frequency)
                 and (maximum_frequency is None or hz(n.pitch) <= maximum_frequency)]
    rolls = result.rolls or {}
    model_output = ModelOutput(note=rolls.get("frame"), onset=rolls.get("onset"), velocity=rolls.get("velocity"))
    return model_output, notes_to_pretty_midi(notes, midi_tempo), notes_to_note_events(notes)
