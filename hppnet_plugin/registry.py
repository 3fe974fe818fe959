"""The transcriber registry: one entry-point group, listed without importing.

A distribution adds a backend with, in its own ``pyproject.toml``::

    [project.entry-points."hppnet_plugin.transcribers"]
    my-model = "my_package.module:make_transcriber"

where ``make_transcriber(**options)`` returns a :class:`Transcriber`: an object with a ``name``
and a ``transcribe(audio, sample_rate=None) -> Transcription`` method. A factory may also offer
``missing_dependency() -> str | None`` so that listing can tell that an optional
dependency is absent without importing it. Code that is not installed as a
distribution uses :func:`register_transcriber`.
"""
from __future__ import annotations

import inspect
import logging
import warnings
from importlib import metadata
from typing import TYPE_CHECKING, Callable, Optional, Protocol, runtime_checkable

from .constants import ENTRY_POINT_GROUP

if TYPE_CHECKING:
    from .transcription import Transcription

log = logging.getLogger(__name__)

_runtime_factories: dict = {}


@runtime_checkable
class Transcriber(Protocol):
    """The backend contract. ``transcribe`` takes a path, or an array with ``sample_rate``."""

    name: str

    def transcribe(self, audio, sample_rate: Optional[float] = None, **options) -> "Transcription":
        ...


def _entry_points() -> dict:
    """name -> EntryPoint for the group; duplicates are reported, first one kept."""
    found = {}
    eps = metadata.entry_points()
    group = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") else eps.get(ENTRY_POINT_GROUP, [])
    for ep in group:
        if ep.name in found:
            if found[ep.name].value != ep.value:
                warnings.warn(f"transcriber {ep.name!r} is registered twice ({found[ep.name].value} and "
                              f"{ep.value}); using the first", RuntimeWarning, stacklevel=3)
            continue
        found[ep.name] = ep
    return found


def register_transcriber(name: str, factory: Callable, overwrite: bool = False) -> None:
    """Register an in-process backend: ``factory(**options)`` returns a transcriber."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"transcriber name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable; got {type(factory).__name__}")
    if name in _runtime_factories and not overwrite:
        raise ValueError(f"transcriber {name!r} is already registered; pass overwrite=True to replace it")
    _runtime_factories[name] = factory


def available_transcribers() -> list:
    """Sorted names of all registered transcribers. Imports none of them."""
    return sorted(set(_entry_points()) | set(_runtime_factories))


def describe_transcribers() -> list:
    """[(name, target)] for display: the entry point's ``module:attr`` or the factory."""
    rows = [(name, ep.value) for name, ep in _entry_points().items()]
    rows += [(name, getattr(f, "__qualname__", repr(f))) for name, f in _runtime_factories.items()]
    return sorted(rows)


def get_factory(name: str) -> Callable:
    """Import and return the factory for ``name`` (only that one)."""
    if name in _runtime_factories:
        return _runtime_factories[name]
    eps = _entry_points()
    if name not in eps:
        available = ", ".join(available_transcribers()) or "(none)"
        raise ValueError(f"unknown transcriber {name!r}; installed: {available}")
    try:
        return eps[name].load()
    except Exception as error:
        raise ImportError(f"transcriber {name!r} ({eps[name].value}) failed to import: "
                          f"{type(error).__name__}: {error}") from error


def load_transcriber(name: Optional[str] = None, **options):
    """Build the transcriber registered as ``name``.

    Parameters
    ----------
    name : str, optional
        A name from :func:`available_transcribers`, e.g. ``"hppnet-sp"``. Default: the best
        HPPNet variant whose weights are installed (sp, then base, then tiny), as the CLI.
    **options
        Passed to the backend's factory (HPPNet: ``device``, ``checkpoint``,
        ``threads``, ``chunk_s``, ``batch_size``, thresholds, ``precision``).
    """
    if name is None:
        from .weights import best_shipped_name

        name = best_shipped_name()
    factory = get_factory(name)
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some callables have no signature
        parameters = None
    if parameters is not None and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            raise ValueError(f"transcriber {name!r} does not take option(s) {unknown}; "
                             f"it takes: {sorted(parameters) or 'no options'}")
    transcriber = factory(**options)
    if not isinstance(transcriber, Transcriber):
        lacks = [m for m in ("name", "transcribe") if not hasattr(transcriber, m)]
        raise TypeError(f"transcriber {name!r}: its factory returned a {type(transcriber).__name__} without "
                        f"{' and '.join(lacks)}; a backend must return an object with a name and a "
                        "transcribe(audio, sample_rate=None) method (hppnet_plugin.registry.Transcriber)")
    return transcriber


def check_transcribers() -> list:
    """[(name, ok, message)]: import each backend's factory; failures become warnings.

    Two optional hooks of a factory: ``missing_dependency()`` (a backend whose heavy dependency
    is an extra says whether it is there: not ok) and ``status_note()`` (something a user should
    know about a backend that loads, e.g. that no weights are installed: ok, with the note).
    """
    rows = []
    for name in available_transcribers():
        try:
            factory = get_factory(name)
            missing = factory.missing_dependency() if hasattr(factory, "missing_dependency") else None
            if missing:
                raise ImportError(missing)
            rows.append((name, True, (factory.status_note() if hasattr(factory, "status_note") else None) or ""))
        except Exception as error:  # a broken plugin must not hide the others
            warnings.warn(f"transcriber {name!r} cannot load: {error}", RuntimeWarning, stacklevel=2)
            rows.append((name, False, str(error)))
    return rows
