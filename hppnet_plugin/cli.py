"""The ``hppnet`` command line. Arguments are parsed before anything heavy is imported."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from . import constants as C

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".m4a")
FORMATS = ("mid", "csv", "ns", "npz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hppnet", description="Piano transcription with HPPNet.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transcribe", help="transcribe audio files and folders",
                       description="Transcribe audio files (folders are searched recursively). "
                                   "Outputs are named <stem>.<format> (npz: <stem>.rolls.npz, "
                                   "plot: <stem>.png) next to the input, or in -o OUTDIR.")
    t.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    t.add_argument("-o", "--output-dir", help="folder for outputs (default: beside each input)")
    t.add_argument("--model", default=None,
                   help="registered transcriber (see `hppnet list`); default: the best HPPNet variant whose "
                        "weights ship with this installation (sp, then base, then tiny)")
    t.add_argument("--checkpoint", help="your own weight file or training checkpoint")
    t.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps")
    t.add_argument("--precision", default="auto", choices=C.PRECISIONS,
                   help="model arithmetic: auto = bf16 where the hardware has it natively, else fp32")
    t.add_argument("--threads", type=int, help="CPU threads")
    t.add_argument("--format", default="mid", help=f"comma-separated outputs from {','.join(FORMATS)} (default mid)")
    t.add_argument("--plot", action="store_true", help="also write a PNG piano roll (needs matplotlib)")
    t.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("list", help="show registered transcribers and whether each loads")
    return parser


def find_inputs(inputs) -> list:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                print(f"warning: no audio files ({', '.join(AUDIO_SUFFIXES)}) in {path}", file=sys.stderr)
            files += found
        else:
            files.append(path)  # missing files are reported per file
    return files


def output_paths(audio: Path, out_dir, formats, plot: bool) -> dict:
    folder = Path(out_dir) if out_dir else audio.parent
    names = {"mid": f"{audio.stem}.mid", "csv": f"{audio.stem}.csv", "ns": f"{audio.stem}.ns.pb",
             "npz": f"{audio.stem}.rolls.npz", "png": f"{audio.stem}.png"}
    wanted = list(formats) + (["png"] if plot else [])
    return {f: folder / names[f] for f in wanted}


def write_outputs(result, paths: dict, overwrite: bool):
    import io

    import numpy as np

    from .io import atomic_write

    for fmt, path in paths.items():
        if fmt == "mid":
            result.write_midi(path, overwrite=overwrite)
        elif fmt == "csv":
            result.write_csv(path, overwrite=overwrite)
        elif fmt == "ns":
            data = result.to_note_sequence().SerializeToString()
            atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
        elif fmt == "npz":
            buffer = io.BytesIO()
            np.savez_compressed(buffer, frames_per_second=result.frames_per_second,
                                **{k: v for k, v in (result.rolls or {}).items() if v is not None})
            atomic_write(path, lambda f: f.write(buffer.getvalue()), overwrite=overwrite)
        elif fmt == "png":
            from .plot import plot_transcription

            atomic_write(path, lambda f: plot_transcription(result, f), overwrite=overwrite)


OPTIONAL_OUTPUTS = (("--plot", "matplotlib", "plot"), ("--format ns", "note_seq", "note-seq"))
"""(option, module it needs, extra that installs it)."""


def cmd_transcribe(args) -> int:
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(f"error: unknown format(s) {bad}; choose from {','.join(FORMATS)}", file=sys.stderr)
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
    if args.output_dir:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    files = find_inputs(args.inputs)
    if not files:
        print("error: no input files", file=sys.stderr)
        return 2
    # Refuse before any work if an output exists (no silent overwrite, no wasted compute).
    plans, failures = [], []
    for audio in files:
        paths = output_paths(audio, args.output_dir, formats, args.plot)
        existing = [str(p) for p in paths.values() if p.exists()]
        if existing and not args.overwrite:
            failures.append((audio, f"output exists: {existing[0]} (use --overwrite)"))
        else:
            plans.append((audio, paths))
    from tqdm import tqdm

    from .registry import load_transcriber

    options = {"device": args.device}
    if args.threads:
        options["threads"] = args.threads
    if args.checkpoint:
        options["checkpoint"] = args.checkpoint
    if args.precision != "auto":
        options["precision"] = args.precision
    if args.model is None:
        from .weights import best_shipped_name

        args.model = best_shipped_name()
    try:
        transcriber = load_transcriber(args.model, **options) if plans else None
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    need_rolls = "npz" in formats or args.plot
    # A second bar inside each file answers "is it stuck?" on long recordings (HPPNet backends).
    import inspect

    progress_option = ({"progress": True} if not args.quiet and transcriber is not None
                       and "progress" in inspect.signature(transcriber.transcribe).parameters else {})
    bar = tqdm(plans, unit="file", desc="transcribing", disable=args.quiet or len(plans) < 1)
    for audio, paths in bar:
        bar.set_postfix_str(audio.name)
        try:
            result = transcriber.transcribe(audio, return_rolls=need_rolls, **progress_option)
            write_outputs(result, paths, args.overwrite)
            bar.write(f"{audio}: {len(result.notes)} notes -> {', '.join(str(p) for p in paths.values())}") \
                if not args.quiet else None
        except Exception as error:  # one bad file must not stop the batch
            failures.append((audio, f"{type(error).__name__}: {error}"))
    for audio, message in failures:
        print(f"error: {audio}: {message}", file=sys.stderr)
    done = len(plans) - sum(1 for a, _ in failures if any(a == p[0] for p in plans))
    print(f"{done} of {len(files)} files transcribed" + (f", {len(failures)} failed" if failures else ""),
          file=sys.stderr)
    return 1 if failures else 0


def cmd_list(args) -> int:
    import warnings

    from .registry import check_transcribers, describe_transcribers

    targets = dict(describe_transcribers())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = check_transcribers()
    for name, ok, message in rows:
        status = "ok" if ok else f"cannot load: {message}"
        if ok and name.startswith("hppnet-"):
            from .weights import SHIPPED, WEIGHTS_DIR

            if name in SHIPPED and not (WEIGHTS_DIR / SHIPPED[name]).exists():
                status = "ok (no shipped weights in this install: pass --checkpoint)"
        print(f"{name:16s} {targets.get(name, ''):48s} {status}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return cmd_list(args)
    return cmd_transcribe(args)


if __name__ == "__main__":
    sys.exit(main())
