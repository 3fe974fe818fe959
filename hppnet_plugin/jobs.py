"""One input of a collection, transcribed: the job (input and outputs), running it into a manifest
row, the JSON-lines manifest a killed run keeps, and the per-file report line. Both ways of running
a collection (``batch`` in this process, ``ray_batch`` on Ray actors) share these."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from .outputs import write_outputs

MANIFEST_FIELDS = ("input", "outputs", "status", "error", "duration_s", "notes", "confidence_mean",
                   "low_confidence_fraction", "seconds", "transcriber", "weights_sha256", "finished")
LOW_CONFIDENCE = 0.5
"""Notes below this confidence count as doubtful in the manifest's ``low_confidence_fraction``."""


@dataclass
class Job:
    """One input and the outputs it should produce ({format: local path or URL})."""

    input: str
    outputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"input": self.input, "outputs": dict(self.outputs)}


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


def report_finished(bar, entry: dict):
    """The line a progress bar prints for a file transcribed: its notes and where they went."""
    if entry["status"] == "ok":
        bar.write(f"{entry['input']}: {entry['notes']} notes -> {', '.join(entry['outputs'])}")
