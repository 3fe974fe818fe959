"""The ``hppnet`` command line. Arguments are parsed before anything heavy is imported."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from . import constants as C
from .batch import transcribe_collection
from .outputs import FORMATS, check_request


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="hppnet", description="Piano transcription with HPPNet.")
    parser.add_argument("--version", action="version", version=f"hppnet-plugin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transcribe", help="transcribe audio files and folders",
                       description="Transcribe audio files (folders are searched recursively). "
                                   "Outputs are named <stem>.<format> (npz: <stem>.rolls.npz, "
                                   "plot: <stem>.png) next to the input, or in -o OUTDIR (a folder or a "
                                   "filesystem URL such as s3://bucket/prefix), where files found in a "
                                   "folder keep their subfolders.")
    t.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    t.add_argument("-o", "--output-dir", help="folder for outputs (default: beside each input)")
    t.add_argument("--model", default=None,
                   help="registered transcriber (see `hppnet list`); default: the best HPPNet variant whose "
                        "weights ship with this installation (sp, then base, then tiny)")
    t.add_argument("--checkpoint", help="your own weight file or training checkpoint")
    t.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps")
    t.add_argument("--precision", default="auto", choices=C.PRECISIONS,
                   help="model arithmetic: auto = bf16 on CPUs with native bf16 (AVX512-BF16/AMX), else fp32")
    t.add_argument("--threads", type=int,
                   help="CPU threads for the model (default: the cores idle when a file starts)")
    t.add_argument("--format", default="mid", help=f"comma-separated outputs from {','.join(FORMATS)} (default mid)")
    t.add_argument("--plot", action="store_true", help="also write a PNG piano roll (needs matplotlib)")
    t.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar and no line per file; errors and the closing summary still print")
    c = t.add_argument_group("collections", "resumable batches, shards for array jobs, and Ray")
    c.add_argument("--manifest", metavar="PATH.jsonl",
                   help="append one JSON row per input as it finishes (input, outputs, status ok/failed/skipped, "
                        "error, duration_s, notes, seconds, transcriber, weights_sha256)")
    c.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose requested outputs all exist (resumes a killed run)")
    c.add_argument("--shard", metavar="K/N", help="only the K-th of N deterministic shards of the inputs (1 <= K <= N)")
    c.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray (extra: hppnet-plugin[ray]): a local Ray when no ADDRESS is given, "
                        "'auto' or host:port / ray://host:port for a running cluster")
    c.add_argument("--actors", type=int, help="Ray actors (default: one per GPU, or CPUs / threads on CPU nodes)")
    sub.add_parser("list", help="show registered transcribers, whether each loads, and the default")
    return parser


OPTIONAL_OUTPUTS = (("--plot", "matplotlib", "plot"), ("--format ns", "note_seq", "note-seq"))
"""(option, module it needs, extra that installs it)."""


def cmd_transcribe(args) -> int:
    try:
        formats = check_request([f.strip() for f in args.format.split(",") if f.strip()], args.overwrite,
                                args.skip_existing)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Optional dependencies of the requested outputs, checked before any work is done.
    requested = {"--plot": args.plot, "--format ns": "ns" in formats}
    missing = [(what, extra) for what, module, extra in OPTIONAL_OUTPUTS
               if requested[what] and importlib.util.find_spec(module) is None]
    if missing:
        for what, extra in missing:
            print(f"error: {what} needs the {extra} extra: pip install 'hppnet-plugin[{extra}]' "
                  f"(from a checkout: pip install '.[{extra}]')", file=sys.stderr)
        return 2
    inputs, address = list(args.inputs), args.ray
    if address and not _looks_like_ray_address(address):  # `--ray INPUT ...`: the value was an input
        inputs, address = [address] + inputs, ""
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        from .ray_batch import RAY_MISSING

        print(f"error: {RAY_MISSING}", file=sys.stderr)
        return 2
    if args.output_dir and "://" not in args.output_dir and os.path.exists(args.output_dir) \
            and not os.path.isdir(args.output_dir):
        print(f"error: -o {args.output_dir} is an existing file; -o takes a folder (it is created if missing)",
              file=sys.stderr)
        return 2
    if args.actors is not None and args.actors < 1:
        print(f"error: --actors must be >= 1; got {args.actors}", file=sys.stderr)
        return 2
    options = {"device": args.device}
    if args.threads:
        options["threads"] = args.threads
    if args.checkpoint:
        options["checkpoint"] = args.checkpoint
    if args.precision != "auto":
        options["precision"] = args.precision
    try:
        rows = transcribe_collection(
            inputs, output_dir=args.output_dir, formats=formats, plot=args.plot, model=args.model,
            manifest=args.manifest, skip_existing=args.skip_existing, overwrite=args.overwrite,
            shard=args.shard, ray=args.ray is not None, ray_address=address or None, actors=args.actors,
            progress=not args.quiet, **options)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for entry in rows:
        if entry["status"] == "failed":
            print(f"error: {entry['input']}: {entry['error']}", file=sys.stderr)
    count = {status: sum(r["status"] == status for r in rows) for status in ("ok", "skipped", "failed")}
    print(f"{count['ok']} of {len(rows)} files transcribed"
          + (f", {count['skipped']} skipped (outputs exist)" if count["skipped"] else "")
          + (f", {count['failed']} failed" if count["failed"] else ""), file=sys.stderr)
    return 1 if count["failed"] else 0


def _looks_like_ray_address(value: str) -> bool:
    return value in ("auto", "local") or "://" in value or (":" in value and not os.path.exists(value))


def cmd_list(args) -> int:
    import warnings

    from .registry import check_transcribers, describe_transcribers
    from .weights import best_shipped_name

    targets = dict(describe_transcribers())
    default = best_shipped_name()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = check_transcribers()
    for name, ok, message in rows:
        status = (f"ok ({message})" if message else "ok") if ok else f"cannot load: {message}"
        print(f"{name:16s} {targets.get(name, ''):48s} {status}{'  [default]' if name == default else ''}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return cmd_list(args)
    return cmd_transcribe(args)


if __name__ == "__main__":
    sys.exit(main())
