"""pretty_midi.PrettyMIDI <-> notes, sustain pedal included: the one place MIDI content is
read and built (files: adapters.midi; training labels and the corpus builder use both)."""
from __future__ import annotations

from hppnet_plugin import constants as C
from hppnet_plugin.notes import Note, sort_notes

PIANO_PROGRAM = 0  # General MIDI "Acoustic Grand Piano"
MIDI_RESOLUTION = 480  # ticks per quarter note: ~1 ms at 120 bpm


def notes_to_pretty_midi(notes, tempo_bpm: float = 120.0, pedal=(), program: int = PIANO_PROGRAM,
                         tuning_cents: float = 0.0, name: str = "Acoustic Grand Piano",
                         resolution: int = MIDI_RESOLUTION):
    """One piano track; velocities clamped to 1..127.

    ``pedal``: sustain-pedal events [(time_s, CC64 value)]. ``tuning_cents`` detunes the
    whole channel with one pitch bend at time 0 (General MIDI bend range: +-2 semitones).
    """
    import numpy as np
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=float(tempo_bpm))
    piano = pretty_midi.Instrument(program=program, name=name)
    piano.notes = [pretty_midi.Note(velocity=max(1, min(127, int(n.velocity))), pitch=int(n.pitch),
                                    start=float(n.start), end=float(n.end)) for n in sort_notes(notes)]
    piano.control_changes = [pretty_midi.ControlChange(C.SUSTAIN_CC, int(value), float(time_s))
                             for time_s, value in pedal]
    if tuning_cents:
        piano.pitch_bends = [pretty_midi.PitchBend(int(round(np.clip(tuning_cents / 200.0, -1, 1) * 8191)), 0.0)]
    midi.instruments.append(piano)
    return midi


def pretty_midi_to_notes(midi, sustain: bool = False, min_duration_s: float = 0.0) -> list:
    """Notes of all non-drum instruments longer than ``min_duration_s``; with ``sustain``,
    extended by the sustain pedal (CC64) the way a piano holds them (:func:`apply_sustain`)."""
    notes, pedal = [], []
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        notes += [Note(max(n.start, 0.0), n.end, n.pitch, max(1, n.velocity))
                  for n in instrument.notes if n.end - n.start > min_duration_s]
        pedal += [(cc.time, cc.value) for cc in instrument.control_changes if cc.number == C.SUSTAIN_CC]
    if sustain and pedal:
        notes = apply_sustain(notes, sustain_intervals(pedal, max((n.end for n in notes), default=0.0)))
    return sort_notes(notes)


def sustain_intervals(control_changes, end_time: float) -> list:
    """[(down_s, up_s)] from (time_s, value) CC64 events, sorted by time."""
    intervals, down_at = [], None
    for time_s, value in sorted(control_changes):
        if value >= C.SUSTAIN_DOWN_MIN_VALUE and down_at is None:
            down_at = time_s
        elif value < C.SUSTAIN_DOWN_MIN_VALUE and down_at is not None:
            intervals.append((down_at, time_s))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(end_time, down_at)))
    return intervals


def apply_sustain(notes, pedal_intervals) -> list:
    """Extend notes released while the pedal is down.

    A note whose release falls inside a pedal-down interval lasts until the pedal
    is released or until the next onset of the same key, whichever is first.
    """
    notes = sort_notes(notes)
    next_onset = {}
    result = [None] * len(notes)
    # Walk backwards so the next onset of each key is known.
    for i in range(len(notes) - 1, -1, -1):
        n = notes[i]
        end = n.end
        for down, up in pedal_intervals:
            if down <= n.end < up:
                end = max(end, up)
                break
        following = next_onset.get(n.pitch)
        if following is not None and end > following:
            end = max(following, n.end) if following > n.start else end
        result[i] = Note(n.start, end, n.pitch, n.velocity)
        next_onset[n.pitch] = n.start
    return sort_notes(result)
