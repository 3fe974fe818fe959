"""The batch of ``hppnet transcribe --ray``: the same jobs as the single-process loop, as a Ray
Data pipeline. The driver lists the inputs and keeps the manifest and the progress bar; a
pool of actors, each loading its model once, reads, transcribes and writes the outputs (a
shared or local folder, or a filesystem URL). Needs the extra ``hppnet-plugin[ray]``;
imported only when asked for.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Callable, Optional

from .jobs import Job, report_finished, run_job, weights_sha256

RAY_MISSING = ("--ray needs Ray: pip install 'hppnet-plugin[ray]' (from a checkout: pip install '.[ray]')")
CPU_THREADS_PER_ACTOR = 2
"""Default threads of a CPU actor: HPPNet's CPU inference gains little beyond 2-4 threads, so
more actors with few threads each use a node's cores better than one wide actor."""


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 (Ray Data is the part the batch needs)
    except ImportError as error:
        raise ImportError(f"{RAY_MISSING} ({error})") from None
    return ray


class TranscribeActor:
    """One Ray actor: loads the transcriber once, then transcribes the inputs it is given."""

    def __init__(self, model: str, options: dict, need_rolls: bool, overwrite: bool, keep_existing: bool):
        from .registry import load_transcriber

        self.model, self.need_rolls = model, need_rolls
        self.overwrite, self.keep_existing = overwrite, keep_existing
        self.transcriber = load_transcriber(model, **options)
        self.sha = weights_sha256(self.transcriber)

    def __call__(self, batch: dict) -> dict:
        rows = []
        for job_json in batch["job"]:
            job = Job(**json.loads(job_json))
            rows.append(run_job(self.transcriber, job, self.model, self.sha, self.need_rolls,
                                self.overwrite, self.keep_existing))
        # One column of JSON rows: the manifest's fields (lists, None) travel unchanged.
        return {"row": [json.dumps(r) for r in rows]}


def _start(ray, address: Optional[str]):
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-dataset INFO lines; errors still show
    # The "progress bars disabled" warning answers our own choice (one bar, the driver's).
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    if ray.is_initialized():
        return
    init = {"address": address} if address else {"num_cpus": os.cpu_count()}
    # A local Ray of ours turns token authentication on and says so; that is the safe default,
    # not news for every run.
    logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
    try:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **init)
    except Exception as error:  # no cluster at the address, a version mismatch, ...
        raise RuntimeError(f"cannot start Ray ({'address ' + address if address else 'local'}): "
                           f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
                           + ("; start a cluster (`ray start --head`) or leave out the address for a "
                              "local Ray" if address else "")) from None


def _actor_plan(resources: dict, options: dict, actors: Optional[int], n_jobs: int) -> tuple:
    """(transcriber options, resources per actor, number of actors) on a cluster with ``resources``."""
    gpus = int(resources.get("GPU", 0))
    options = dict(options)
    if gpus:
        options.setdefault("device", "cuda")
        per_actor = {"num_gpus": 1}
        actors = actors or gpus
    else:
        threads = int(options.get("threads") or CPU_THREADS_PER_ACTOR)
        if options.get("device", "auto") == "auto":
            options["device"] = "cpu"
        options["threads"] = threads
        per_actor = {"num_cpus": threads}
        actors = actors or max(1, int(resources.get("CPU", 1)) // threads)
    # A failed actor is a failed row, not a restart: no restart also means no "constructor
    # arguments in the object store and max_restarts > 0" error line on every run.
    per_actor["max_restarts"] = 0
    if actors < 1:
        raise ValueError(f"actors must be >= 1; got {actors}")
    return options, per_actor, min(actors, max(1, n_jobs))  # an actor without a file would only load a model


def run_on_ray(jobs: list, model: str, options: dict, need_rolls: bool, overwrite: bool,
               skip_existing: bool, address: Optional[str] = None, actors: Optional[int] = None,
               progress: bool = True, on_row: Optional[Callable] = None):
    """Run ``jobs`` on Ray; ``on_row`` gets each manifest row on the driver as it finishes.

    ``address``: None starts a local Ray in this process; ``"auto"`` or ``"ray://host:port"``
    joins a running cluster. Actors take one GPU each where the cluster has GPUs; elsewhere
    ``options["threads"]`` CPU threads each (default 2). ``actors`` defaults to the number of
    GPUs, or the CPUs divided by the threads per actor.
    """
    ray = import_ray()
    from tqdm import tqdm

    _start(ray, address)
    options, per_actor, actors = _actor_plan(ray.cluster_resources(), options, actors, len(jobs))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # one bar, the driver's
    context.execution_options.preserve_order = False  # rows as they finish
    dataset = ray.data.from_items([{"job": json.dumps(job.to_dict())} for job in jobs],
                                  override_num_blocks=len(jobs))
    with warnings.catch_warnings():
        # max_restarts has no named parameter yet; the generic remote arguments carry it
        # (ray is pinned below the release that removes them).
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        results = dataset.map_batches(
            TranscribeActor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors), **per_actor,
            fn_constructor_kwargs={"model": model, "options": options, "need_rolls": need_rolls,
                                   "overwrite": overwrite, "keep_existing": skip_existing})
    bar = tqdm(total=len(jobs), unit="file", desc=f"transcribing ({actors} Ray actors)", disable=not progress)
    try:
        for item in results.iter_rows():
            entry = json.loads(item["row"])
            bar.update(1)
            if progress:
                report_finished(bar, entry)
            if on_row:
                on_row(entry)
    except Exception as error:
        # A job's own failure is a row; what arrives here is the pipeline failing (an actor that
        # cannot load its model, a lost node). Say so without Ray's nested tracebacks.
        message = str(error).strip().splitlines()
        raise RuntimeError("the Ray batch stopped: " + (message[-1] if message else type(error).__name__)) from None
    finally:
        bar.close()
