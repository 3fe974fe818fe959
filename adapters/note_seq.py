"""note_seq NoteSequence protos <-> notes.

Built directly from the notes (not via note_seq's pianoroll decoder, which in
note-seq 0.0.5 writes velocity 0 for every note unless onset predictions are given).
"""
from __future__ import annotations

from hppnet_plugin.notes import Note, sort_notes


def _music_pb2():
    import warnings

    try:
        with warnings.catch_warnings():
            # note_seq imports pydub, which warns that ffmpeg is missing: it is not used here,
            # and the warning says nothing about the user's input.
            warnings.filterwarnings("ignore", message=".*ffmpeg.*", category=RuntimeWarning)
            from note_seq.protobuf import music_pb2
    except ImportError as error:
        raise ImportError("NoteSequence output needs note-seq: pip install 'hppnet-plugin[note-seq]' "
                          "(from a checkout: pip install '.[note-seq]')") from error
    return music_pb2


def notes_to_note_sequence(notes, tempo_bpm: float = 120.0):
    """A NoteSequence with one piano instrument (program 0), 220 ticks/quarter."""
    music_pb2 = _music_pb2()
    ns = music_pb2.NoteSequence()
    ns.ticks_per_quarter = 220
    ns.tempos.add(time=0.0, qpm=float(tempo_bpm))
    for n in sort_notes(notes):
        ns.notes.add(start_time=n.start, end_time=n.end, pitch=n.pitch, velocity=n.velocity,
                     instrument=0, program=0, is_drum=False)
    ns.total_time = max((n.end for n in notes), default=0.0)
    return ns


def note_sequence_to_notes(ns) -> list:
    return sort_notes(Note(n.start_time, n.end_time, n.pitch, max(1, n.velocity))
                      for n in ns.notes if not n.is_drum and n.end_time > n.start_time)
