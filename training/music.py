"""The scores of the corpus: MIDI files (music21's corpus converted, or any folder). The generated
textures are :mod:`training.textures`."""
from __future__ import annotations

from pathlib import Path

from hppnet_plugin.adapters.midi import read_midi

MIN_SCORE_NOTE_S = 0.01
"""Score notes this short or shorter are dropped (grace-note artefacts of MIDI conversions)."""


def read_score(path) -> list:
    """All non-drum notes of a MIDI file, as Notes (score timing, no pedal)."""
    return read_midi(path, min_duration_s=MIN_SCORE_NOTE_S)


def midi_files_from_music21(out_dir: Path, limit: int = 0) -> list:
    """Convert music21's bundled corpus to MIDI files in ``out_dir`` (slow: ~30 min for all)."""
    try:
        from music21 import corpus
    except ImportError as error:
        raise RuntimeError("--music21 needs the music21 package: pip install music21") from error
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = corpus.getPaths()
    if limit:
        paths = paths[:limit]
    files = []
    for p in paths:
        target = out_dir / (str(Path(p).relative_to(Path(p).parents[1])).replace("/", "__") + ".mid")
        if not target.exists():
            try:
                corpus.parse(p).write("midi", fp=str(target))
            except Exception:
                continue
        files.append(target)
    return files
