"""hppnet-plugin: HPPNet piano transcription behind a plugin registry of transcribers.

>>> from hppnet_plugin import load_transcriber
>>> result = load_transcriber("hppnet-sp").transcribe("piece.flac")   # doctest: +SKIP
>>> result.write_midi("piece.mid")                                     # doctest: +SKIP

Importing this package is cheap: torch, nnAudio and optional backends are
imported only when a transcriber is loaded.
"""
from .notes import Note, Transcription
from .registry import available_transcribers, load_transcriber, register_transcriber

__version__ = "0.1.0"
__all__ = ["Note", "Transcription", "available_transcribers", "load_transcriber",
           "register_transcriber", "__version__"]
