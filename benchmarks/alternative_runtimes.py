"""The model on other runtimes than eager PyTorch: int8, torch.compile, ONNX Runtime.

    python benchmarks/alternative_runtimes.py --variant tiny --features-from CORPUS/test-iowa
    python benchmarks/alternative_runtimes.py --variant sp --max-isa avx2 --no-compile

Times one inference window (chunk + 2 x context, 24 s) of real log-CQT features, median of
--runs after a warm-up, for: eager fp32 (the reference), eager bf16 (where native), PyTorch
dynamic int8 (LSTMs and Linears), ``torch.compile`` (inductor; minutes to compile), and ONNX
Runtime fp32, static int8 (QDQ, per-channel convolutions and matrix products, calibrated on
the features of other pieces) and dynamic int8 (LSTMs and matrix products). Beside each time:
how many onset frames cross the 0.5 threshold differently from the reference, of those the
reference has (a fast runtime that moves onsets changes notes).

ONNX Runtime needs ``pip install onnx onnxruntime``, in an environment without the
basic-pitch extra (onnx needs protobuf >= 6 and numpy 2, TensorFlow 2.15 protobuf < 5 and
numpy < 2). ``--max-isa avx2`` caps torch's kernels (oneDNN, MKL, ATen) at AVX2; ONNX Runtime's
own kernels have no such cap, so its rows then still use every instruction the CPU has.
Writes a JSON (default benchmarks/results-runtimes-<variant>.json).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from inference_speed import ISA_ENVIRONMENT, cap_instruction_set, synthetic_piano  # noqa: E402


def feature_windows(transcriber, folder, frames: int, count: int, skip: int = 0) -> list:
    """Log-CQT windows (1, 1, frames, bins) of the first ``frames`` of pieces in ``folder``
    (after ``skip`` pieces), or of synthetic piano audio when no folder is given."""
    import torch

    from hppnet_plugin.audio import load_audio

    if folder is None:
        import soxr

        sources = [soxr.resample(synthetic_piano(frames / 50 + 1, seed=i)[:, 0], 44100, 16000)
                   for i in range(skip, skip + count)]
    else:
        paths = sorted(p for p in Path(folder).iterdir() if p.suffix in (".flac", ".wav"))[skip:]
        sources = (load_audio(p) for p in paths)
    windows = []
    for audio in sources:
        with torch.no_grad():
            features = transcriber.frontend(torch.from_numpy(np.asarray(audio, np.float32)))
        if features.shape[2] >= frames:
            windows.append(features[:, :, :frames].numpy())
        if len(windows) == count:
            break
    if not windows:
        raise SystemExit(f"no piece in {folder} is {frames / 50:.0f} s long")
    return windows


def fp32_model_window(variant: str, threads: int):
    """(transcriber, frames per inference window): the shipped weights in eager fp32 on ``threads``."""
    import torch

    import hppnet_plugin

    torch.set_num_threads(threads)
    transcriber = hppnet_plugin.load_transcriber(f"hppnet-{variant}", precision="fp32", threads=threads)
    return transcriber, transcriber.chunk_frames + 2 * transcriber.context_frames


def median_time(run, x, runs: int) -> float:
    run(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_runners(model, heads, compile_model: bool) -> dict:
    """name -> function(features array) -> onset probabilities, for the PyTorch variants."""
    import torch

    from hppnet_plugin.cpu import cpu_has_native_bf16

    def runner(module, dtype=None):
        def run(x):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                return torch.sigmoid(module(torch.from_numpy(x), heads=heads)["onset"].float()).numpy()
        return run

    runners = {"torch fp32": runner(model)}
    if cpu_has_native_bf16():
        runners["torch bf16"] = runner(model, torch.bfloat16)
    dynamic = torch.ao.quantization.quantize_dynamic(model, {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8)
    runners["torch dynamic int8 (LSTM, Linear)"] = runner(dynamic)
    if compile_model:
        runners["torch.compile fp32"] = runner(torch.compile(model, dynamic=False))
    return runners


def onnx_runners(model, heads, windows, calibration, folder: Path, threads: int) -> dict:
    """name -> function for ONNX Runtime fp32, static int8 and dynamic int8 (empty without onnxruntime)."""
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                              quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as error:
        print(f"ONNX Runtime not measured: {error} (pip install onnx onnxruntime)", file=sys.stderr)
        return {}
    import torch

    class Onsets(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return tuple(torch.sigmoid(v) for v in self.model(x, heads=heads).values())

    fp32 = folder / "model.onnx"
    torch.onnx.export(Onsets().eval(), (torch.from_numpy(windows[0]),), str(fp32), input_names=["features"],
                      output_names=list(heads), dynamo=False, opset_version=17)
    prepared = folder / "model-prepared.onnx"
    quant_pre_process(str(fp32), str(prepared))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(calibration)

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {"features": x}

    static, dynamic = folder / "model-int8-static.onnx", folder / "model-int8-dynamic.onnx"
    quantize_static(str(prepared), str(static), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    quantize_dynamic(str(prepared), str(dynamic), weight_type=QuantType.QInt8,
                     op_types_to_quantize=["LSTM", "MatMul", "Gemm"])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    runners = {}
    for name, path in (("onnxruntime fp32", fp32), ("onnxruntime static int8 (Conv, MatMul)", static),
                       ("onnxruntime dynamic int8 (LSTM, MatMul)", dynamic)):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        runners[name] = lambda x, s=session: s.run(None, {"features": x})[0]
    return runners


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", choices=["sp", "base", "tiny"])
    parser.add_argument("--features-from", default=None, metavar="FOLDER",
                        help="audio files whose features are timed and compared (default: synthetic piano)")
    parser.add_argument("--calibrate-from", default=None, metavar="FOLDER",
                        help="audio files the static int8 model is calibrated on (default: other files of "
                             "--features-from)")
    parser.add_argument("--windows", type=int, default=4, help="windows compared (the first one is timed)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile")
    parser.add_argument("--max-isa", choices=sorted(ISA_ENVIRONMENT), default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cap_instruction_set(args.max_isa, __file__, argv)
    import torch

    from hppnet_plugin.cpu import cpu_features, cpu_model
    from hppnet_plugin.inference import INFERENCE_HEADS

    transcriber, frames = fp32_model_window(args.variant, args.threads)
    windows = feature_windows(transcriber, args.features_from, frames, args.windows)
    calibration = feature_windows(transcriber, args.calibrate_from or args.features_from, frames, 8,
                                  skip=0 if args.calibrate_from else args.windows)
    model = transcriber.model.eval()
    runners = torch_runners(model, INFERENCE_HEADS, args.compile)
    with tempfile.TemporaryDirectory() as folder:
        runners.update(onnx_runners(model, INFERENCE_HEADS, windows, calibration, Path(folder), args.threads))
        reference = [runners["torch fp32"](x) for x in windows]
        positive = int(sum((r > 0.5).sum() for r in reference))
        seconds = frames / transcriber.config.frames_per_second
        rows = []
        for name, run in runners.items():
            start = time.perf_counter()
            wall = median_time(run, windows[0], args.runs)
            flipped = int(sum(((run(x) > 0.5) != (r > 0.5)).sum() for x, r in zip(windows, reference)))
            rows.append({"runtime": name, "window_s": round(wall, 4), "model_rtf": round(wall / seconds, 4),
                         "onset_frames_flipped": flipped, "reference_onset_frames": positive,
                         "measured_in_s": round(time.perf_counter() - start, 1)})
            print(f"{name:42s} {wall:.3f} s per {seconds:.0f} s window (model RTF {wall / seconds:.4f}), "
                  f"{flipped} of {positive} onset frames flipped", flush=True)
    result = {"machine": {"processor": cpu_model(), "cpu_features": cpu_features(), "max_isa": args.max_isa,
                          "threads": args.threads, "torch": torch.__version__},
              "variant": args.variant, "features_from": args.features_from, "rows": rows}
    out = Path(args.json or Path(__file__).with_name(f"results-runtimes-{args.variant}.json"))
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
