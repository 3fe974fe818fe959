"""Transcribing collections: which inputs (folders, shards), where each output goes (beside
the input, a folder, or a filesystem URL), what to skip, and the single-process run; ``ray_batch``
runs the same jobs on a Ray cluster. Nothing heavy is imported at module level (the CLI parses
arguments first).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Optional

from .jobs import Job, Manifest, report_finished, row, run_job, weights_sha256
from .outputs import OUTPUT_NAMES, check_request, is_url, output_exists

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".m4a", ".aac")
"""What a folder scan picks up (.m4a/.aac need the av extra; video files only when named)."""


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
    formats = check_request(formats, overwrite, skip_existing)
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
        if progress:
            report_finished(bar, entry)
        on_row(entry)
