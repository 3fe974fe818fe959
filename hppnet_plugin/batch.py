"""Transcribing collections: which inputs (folders, shards), where each output goes (beside
the input, a folder, or a filesystem URL), what to skip, and a JSON-lines manifest that a
killed run keeps. The single-process loop lives here; ``ray_batch`` runs the same jobs on a
Ray cluster. Nothing heavy is imported at module level (the CLI parses arguments first).
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Optional

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".m4a", ".aac")
"""What a folder scan picks up (.m4a/.aac need the av extra; video files only when named)."""
FORMATS = ("mid", "csv", "ns", "npz")
OUTPUT_NAMES = {"mid": "{stem}.mid", "csv": "{stem}.csv", "ns": "{stem}.ns.pb",
                "npz": "{stem}.rolls.npz", "png": "{stem}.png"}
MANIFEST_FIELDS = ("input", "outputs", "status", "error", "duration_s", "notes", "confidence_mean",
                   "low_confidence_fraction", "seconds", "transcriber", "weights_sha256", "finished")
LOW_CONFIDENCE = 0.5
"""Notes below this confidence count as doubtful in the manifest's ``low_confidence_fraction``."""


def is_url(location) -> bool:
    return "://" in str(location)


@dataclass
class Job:
    """One input and the outputs it should produce ({format: local path or URL})."""

    input: str
    outputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"input": self.input, "outputs": dict(self.outputs)}


# ---------------------------------------------------------------------------- inputs
def find_inputs(inputs) -> list:
    """[(file, folder it was found under or None)], folders searched recursively, sorted."""
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                print(f"warning: no audio files ({', '.join(AUDIO_SUFFIXES)}) in {path}", file=sys.stderr)
            files += [(p, path) for p in found]
        else:
            files.append((path, None))  # missing files become failed rows, not a stopped batch
    return files


def parse_shard(text: str) -> tuple:
    """"K/N" (1 <= K <= N, the notation of GNU split) -> (K, N)."""
    try:
        k, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N with whole numbers, e.g. 3/8; got {text!r}") from None
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N; got {text!r} (SLURM: --array=1-N and "
                         "--shard $SLURM_ARRAY_TASK_ID/N)")
    return k, n


def shard_of(files: list, k: int, n: int) -> list:
    """The K-th of N deterministic shards: every N-th input, counting from K, in the order
    of the inputs' paths. The N shards partition the inputs exactly (and differ in size by
    at most one), whatever order the inputs were listed in."""
    ordered = sorted(files, key=lambda item: str(item[0]))
    return ordered[k - 1::n]


# ---------------------------------------------------------------------------- outputs
def plan_jobs(files: list, output_dir, formats, plot: bool = False) -> list:
    """A Job per input. Outputs go beside the input, or into ``output_dir`` (a folder or a
    URL) where files found under a folder keep their path below it. Two inputs that would
    write the same output are refused here, before any work."""
    wanted = list(formats) + (["png"] if plot else [])
    jobs, owner = [], {}
    for path, root in files:
        relative = path.parent.relative_to(root) if root is not None else Path()
        if output_dir is None:
            folder = str(path.parent)
        elif is_url(output_dir):
            folder = "/".join(s for s in [str(output_dir).rstrip("/"), relative.as_posix()] if s not in ("", "."))
        else:
            folder = str(Path(output_dir) / relative)
        outputs = {}
        for fmt in wanted:
            name = OUTPUT_NAMES[fmt].format(stem=path.stem)
            target = f"{folder}/{name}" if is_url(folder) else str(Path(folder) / name)
            if target in owner:
                raise ValueError(f"{owner[target]} and {path} would both write {target}; transcribe them "
                                 "into different output folders (or rename one)")
            owner[target] = path
            outputs[fmt] = target
        jobs.append(Job(str(path), outputs))
    return jobs


class _UrlFolder:
    """Outputs on a filesystem that pyarrow (s3://, gs://, hdfs://, file://) or fsspec reaches."""

    def __init__(self, url: str):
        try:
            import pyarrow.fs as pafs
        except ImportError:
            raise ImportError(f"writing to {url} needs pyarrow: pip install 'hppnet-plugin[ray]' "
                              "(from a checkout: pip install '.[ray]')") from None
        try:
            self.fs, _ = pafs.FileSystem.from_uri(url)
        except Exception as arrow_error:
            try:
                import fsspec

                self.fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.core.url_to_fs(url)[0]))
            except Exception as error:
                raise ValueError(f"cannot open {url}: pyarrow says {arrow_error}; fsspec says {error}") from None
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    @staticmethod
    def _path(url: str) -> str:
        scheme, rest = url.split("://", 1)
        return "/" + rest.lstrip("/") if scheme == "file" else rest

    def exists(self, url: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self._path(url)).type != pafs.FileType.NotFound

    def write(self, url: str, data: bytes, overwrite: bool):
        if not overwrite and self.exists(url):
            raise FileExistsError(f"{url} exists; pass --overwrite to replace it")
        path = self._path(url)
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        if self.local:  # file://: the same atomic write as a plain path
            from .io import atomic_write

            atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
        else:  # object stores publish an object on close, whole or not at all
            with self.fs.open_output_stream(path) as f:
                f.write(data)


_url_folders: dict = {}


def _url_folder(url: str) -> _UrlFolder:
    key = url.split("://", 1)[0] + "://" + url.split("://", 1)[1].split("/", 1)[0]
    if key not in _url_folders:
        _url_folders[key] = _UrlFolder(url)
    return _url_folders[key]


def output_exists(target: str) -> bool:
    return _url_folder(target).exists(target) if is_url(target) else Path(target).exists()


def render_output(result, fmt: str) -> bytes:
    """The bytes of one output format of a Transcription."""
    import io

    if fmt == "mid":
        from .adapters.pretty_midi import notes_to_pretty_midi

        buffer = io.BytesIO()
        notes_to_pretty_midi(result.notes).write(buffer)
        return buffer.getvalue()
    if fmt == "csv":
        from .adapters.csv import notes_to_csv_text

        return notes_to_csv_text(result.notes).encode()
    if fmt == "ns":
        return result.to_note_sequence().SerializeToString()
    if fmt == "npz":
        import numpy as np

        buffer = io.BytesIO()
        np.savez_compressed(buffer, frames_per_second=result.frames_per_second,
                            **{k: v for k, v in (result.rolls or {}).items() if v is not None})
        return buffer.getvalue()
    if fmt == "png":
        from .plot import plot_transcription

        buffer = io.BytesIO()
        plot_transcription(result, buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)} (or png)")


def write_outputs(result, outputs: dict, overwrite: bool = False, keep_existing: bool = False) -> list:
    """Write every output (atomically where the filesystem allows); with ``keep_existing``,
    outputs already there (whole: they were written atomically) are kept. Returns the
    targets written."""
    from .io import atomic_write

    written = []
    for fmt, target in outputs.items():
        if keep_existing and output_exists(target):
            continue
        data = render_output(result, fmt)
        if is_url(target):
            _url_folder(target).write(target, data, overwrite)
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda f: f.write(data), overwrite=overwrite)
        written.append(target)
    return written


# ---------------------------------------------------------------------------- running
def weights_sha256(transcriber) -> Optional[str]:
    """The sha256 of the weights a transcriber runs, where it says which file they are."""
    known = getattr(transcriber, "weights_sha256", None)
    if known:
        return known
    path = getattr(transcriber, "checkpoint", None)
    if path and Path(path).is_file():
        from .weights import sha256_of

        return sha256_of(path)
    return None


def row(job: Job, status: str, error: str = "", **values) -> dict:
    """A manifest row (every field present, in MANIFEST_FIELDS order)."""
    out = {"input": job.input, "outputs": list(job.outputs.values()), "status": status, "error": error,
           "duration_s": None, "notes": None, "confidence_mean": None, "low_confidence_fraction": None,
           "seconds": None, "transcriber": None, "weights_sha256": None,
           "finished": datetime.now().astimezone().isoformat(timespec="milliseconds")}
    out.update(values)
    return {k: out[k] for k in MANIFEST_FIELDS}


def run_job(transcriber, job: Job, transcriber_name: str, sha: Optional[str], need_rolls: bool,
            overwrite: bool, keep_existing: bool, options: Optional[dict] = None) -> dict:
    """Transcribe one input and write its outputs; any failure becomes a ``failed`` row."""
    started = time.perf_counter()
    identity = {"transcriber": transcriber_name, "weights_sha256": sha}
    try:
        result = transcriber.transcribe(job.input, return_rolls=need_rolls, **(options or {}))
        write_outputs(result, job.outputs, overwrite=overwrite, keep_existing=keep_existing)
    except Exception as error:  # one bad file must not stop the batch
        return row(job, "failed", f"{type(error).__name__}: {error}",
                   seconds=round(time.perf_counter() - started, 3), **identity)
    return row(job, "ok", duration_s=round(result.duration, 3), notes=len(result.notes),
               seconds=round(time.perf_counter() - started, 3), **confidence_summary(result.notes), **identity)


def confidence_summary(notes) -> dict:
    """Mean confidence and the share of notes under LOW_CONFIDENCE (None without confidences)."""
    values = [n.confidence for n in notes if n.confidence is not None]
    if not values:
        return {"confidence_mean": None, "low_confidence_fraction": None}
    return {"confidence_mean": round(sum(values) / len(values), 4),
            "low_confidence_fraction": round(sum(v < LOW_CONFIDENCE for v in values) / len(values), 4)}


class Manifest:
    """Append-only JSON lines, one per input as it finishes, flushed to disk at once, so that
    a killed run keeps every row it wrote. ``None`` writes nothing."""

    def __init__(self, path):
        self.path = Path(path) if path else None
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")

    def write(self, entry: dict):
        if self._file:
            self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self):
        if self._file:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_manifest(path) -> list:
    """The rows of a manifest (a line cut short by a kill is skipped)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def split_existing(jobs: list, overwrite: bool, skip_existing: bool) -> tuple:
    """(jobs to run, rows settled now): all outputs present + skip_existing -> ``skipped``;
    some present, neither overwrite nor skip_existing -> ``failed`` (nothing is overwritten
    silently); with skip_existing the missing outputs of a partly done input are written."""
    todo, settled = [], []
    for job in jobs:
        existing = [t for t in job.outputs.values() if output_exists(t)]
        if skip_existing and existing and len(existing) == len(job.outputs):
            settled.append(row(job, "skipped"))
        elif existing and not overwrite and not skip_existing:
            settled.append(row(job, "failed", f"output exists: {existing[0]} (use --overwrite or --skip-existing)"))
        else:
            todo.append(job)
    return todo, settled


def transcribe_collection(inputs: Iterable, output_dir=None, formats=("mid",), plot: bool = False,
                          model: Optional[str] = None, manifest=None, skip_existing: bool = False,
                          overwrite: bool = False, shard: Optional[str] = None, ray: bool = False,
                          ray_address: Optional[str] = None, actors: Optional[int] = None,
                          progress: bool = True, on_row: Optional[Callable] = None,
                          **transcriber_options) -> list:
    """Transcribe files and folders, in this process or (``ray=True``) on a Ray cluster.

    Returns the manifest rows (also appended to ``manifest``, a .jsonl path, as each input
    finishes). ``shard="K/N"`` takes the K-th of N deterministic shards of the inputs;
    ``skip_existing`` skips inputs whose outputs all exist. ``ray_address``: ``"auto"``, a
    cluster address, or None for a local Ray started in this process. ``transcriber_options``
    go to :func:`load_transcriber` (``device``, ``threads``, ``checkpoint``, ...).
    """
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format(s) {bad}; choose from {', '.join(FORMATS)}")
    if overwrite and skip_existing:
        raise ValueError("choose one of overwrite and skip_existing")
    files = find_inputs(inputs)
    if not files:
        raise ValueError("no input files")
    if shard:
        files = shard_of(files, *parse_shard(shard))
    jobs = plan_jobs(files, output_dir, formats, plot)
    if model is None:
        from .weights import best_shipped_name

        model = best_shipped_name()
    todo, settled = split_existing(jobs, overwrite, skip_existing)
    rows = []
    with Manifest(manifest) as log:
        def record(entry):
            rows.append(entry)
            log.write(entry)
            if on_row:
                on_row(entry)

        for entry in settled:
            record(entry)
        if todo:
            need_rolls = "npz" in formats or plot
            if ray:
                from .ray_batch import run_on_ray

                run_on_ray(todo, model, transcriber_options, need_rolls, overwrite, skip_existing,
                           address=ray_address, actors=actors, progress=progress, on_row=record)
            else:
                run_here(todo, model, transcriber_options, need_rolls, overwrite, skip_existing,
                         progress=progress, on_row=record)
    return rows


def run_here(jobs: list, model: str, options: dict, need_rolls: bool, overwrite: bool,
             skip_existing: bool, progress: bool = True, on_row: Optional[Callable] = None):
    """The jobs one after another in this process, one model load."""
    import inspect

    from tqdm import tqdm

    from .registry import load_transcriber

    transcriber = load_transcriber(model, **options)
    sha = weights_sha256(transcriber)
    # A second bar inside each file answers "is it stuck?" on long recordings (HPPNet backends).
    per_file = ({"progress": True} if progress and "progress" in inspect.signature(transcriber.transcribe).parameters
                else {})
    bar = tqdm(jobs, unit="file", desc="transcribing", disable=not progress)
    for job in bar:
        bar.set_postfix_str(Path(job.input).name)
        entry = run_job(transcriber, job, model, sha, need_rolls, overwrite, skip_existing, per_file)
        if progress and entry["status"] == "ok":
            bar.write(f"{job.input}: {entry['notes']} notes -> {', '.join(entry['outputs'])}")
        on_row(entry)
