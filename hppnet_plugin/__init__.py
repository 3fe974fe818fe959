"""hppnet-plugin: HPPNet piano transcription behind a plugin registry of transcribers.

>>> from hppnet_plugin import load_transcriber
>>> result = load_transcriber().transcribe("piece.flac")   # the best shipped HPPNet  # doctest: +SKIP
>>> result.write_midi("piece.mid")                                     # doctest: +SKIP

Importing this package is cheap: torch, nnAudio and optional backends are
imported only when a transcriber is loaded.
"""
from pathlib import Path as _Path

# Installed, adapters/ and training/ live inside this package (setuptools package_dir). In a
# checkout they sit beside it; a Python started in the repository root imports this source
# folder, so let the subpackages be found there too (the layout the installed package has).
_checkout = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "training").is_dir() and (_checkout / "training" / "__init__.py").is_file() \
        and (_checkout / "adapters" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 (the package's own search path)

from .batch import transcribe_collection  # noqa: E402
from .notes import Note  # noqa: E402
from .transcription import Transcription  # noqa: E402
from .registry import available_transcribers, load_transcriber, register_transcriber  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Note", "Transcription", "available_transcribers", "load_transcriber",
           "register_transcriber", "transcribe_collection", "__version__"]
