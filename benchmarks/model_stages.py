"""Where the model's time goes: each stage of one inference window, against its FLOPs.

    python benchmarks/model_stages.py --variant tiny --max-isa avx2
    python benchmarks/model_stages.py --variant sp --features-from CORPUS/test-iowa

Times every stage of the shipped weights on one inference window (chunk + 2 x context,
24 s) in eager fp32, median of --runs after a warm-up: each trunk's 7x7 stem, HD-Conv with the
pooling to keys and the four context convolutions, then each inference head (its
bidirectional FG-LSTM and output layer). Beside each: the stage's analytic FLOPs per audio
second, the rate it reaches and that rate as a share of this machine's dense fp32 GEMM. A
stage near the GEMM rate only gets faster with less arithmetic; one far below it is bound by
something else (the LSTMs' 1,200 small sequential steps).

One what-if row: the heads that read the same features (tiny and base: all three; sp: frame
and velocity) run as one LSTM with their hidden units side by side (``--fused-heads``), the
fusion of the heads' input projections. With the recurrent weights block-diagonal it computes
the same outputs; the row times that shape with random weights.
Writes a JSON (default benchmarks/results-stages-<variant>[-<isa>].json).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from alternative_runtimes import feature_windows, fp32_model_window, median_time  # noqa: E402
from inference_speed import ISA_ENVIRONMENT, cap_instruction_set, model_flops_by_stage  # noqa: E402


def stage_runners(model, features) -> dict:
    """stage name -> (function, its input), in the order inference runs them."""
    import torch

    from hppnet_plugin.inference import INFERENCE_HEADS

    runners = {}
    trunks = [("onset trunk", model.onset_trunk), ("trunk", model.trunk)] if model.config.variant == "sp" \
        else [("trunk", model.trunk)]
    outputs = {}
    for label, trunk in trunks:
        stem = trunk.stem(features)
        keys = trunk.harmonic_keys(stem)
        runners[f"{label} stem"] = (trunk.stem, features)
        runners[f"{label} hdconv+pool"] = (trunk.harmonic_keys, stem)
        runners[f"{label} context"] = (trunk.context, keys)
        outputs[label] = trunk.context(keys)
    if model.config.variant == "sp":
        onset_logits = model.heads["onset"](outputs["onset trunk"])
        runners["onset head"] = (model.heads["onset"], outputs["onset trunk"])
        shared = torch.cat([outputs["trunk"], torch.sigmoid(onset_logits).unsqueeze(1)], dim=1)
        for i, name in enumerate(h for h in INFERENCE_HEADS if h != "onset"):
            runners[f"head {i + 2} ({name})"] = (model.heads[name], shared)
    else:
        for i, name in enumerate(INFERENCE_HEADS):
            runners[f"head {i + 1} ({name})"] = (model.heads[name], outputs["trunk"])
    return runners


def fused_heads_runner(model, features_by_stage: dict):
    """(label, function, input, heads replaced): the heads sharing one input as one wider LSTM."""
    import torch

    from hppnet_plugin.inference import INFERENCE_HEADS

    shared = [name for name in INFERENCE_HEADS if model.config.variant != "sp" or name != "onset"]
    head = model.heads[shared[0]]
    lstm = torch.nn.LSTM(head.lstm.input_size, head.lstm.hidden_size * len(shared), batch_first=True,
                         bidirectional=True)
    b, e, t, k = features_by_stage.shape
    sequences = features_by_stage.permute(0, 3, 2, 1).reshape(b * k, t, e)
    return f"{' + '.join(shared)} heads as one LSTM", lambda x: lstm(x), sequences, len(shared)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", choices=["sp", "base", "tiny"])
    parser.add_argument("--features-from", default=None, metavar="FOLDER",
                        help="audio files whose features are timed (default: synthetic piano)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-fused-heads", dest="fused_heads", action="store_false",
                        help="skip the what-if row of the shared-input heads as one LSTM")
    parser.add_argument("--max-isa", choices=sorted(ISA_ENVIRONMENT), default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cap_instruction_set(args.max_isa, __file__, argv)
    import torch

    from hppnet_plugin.cpu import cpu_features, cpu_model, gemm_gflops
    from hppnet_plugin.inference import INFERENCE_HEADS

    transcriber, frames = fp32_model_window(args.variant, args.threads)
    model = transcriber.model.eval()
    seconds = frames / transcriber.config.frames_per_second
    features = torch.from_numpy(feature_windows(transcriber, args.features_from, frames, 1)[0])
    gemm = gemm_gflops()
    flops = model_flops_by_stage(transcriber.config, heads=len(INFERENCE_HEADS))
    rows = []

    def measure(label, run, x, stage_flops):
        wall = median_time(run, x, args.runs)
        row = {"stage": label, "window_s": round(wall, 4), "model_rtf": round(wall / seconds, 5),
               "gflop_per_audio_s": round(stage_flops / 1e9, 3),
               "gflops_achieved": round(stage_flops / 1e9 * seconds / wall, 1)}
        row["fraction_of_gemm"] = round(row["gflops_achieved"] / gemm, 3)
        rows.append(row)
        print(f"{label:36s} {1000 * wall:8.1f} ms  RTF {wall / seconds:.4f}  {row['gflop_per_audio_s']:6.2f} "
              f"GFLOP/audio s  {row['gflops_achieved']:6.1f} GFLOP/s ({100 * row['fraction_of_gemm']:.0f}% of GEMM)",
              flush=True)
        return wall

    with torch.no_grad():
        runners = stage_runners(model, features)
        for label, (run, x) in runners.items():
            measure(label, run, x, flops[label.split(" (")[0]])
        total = measure("whole model", lambda x: model(x, heads=INFERENCE_HEADS), features, sum(flops.values()))
        stage_sum = sum(r["window_s"] for r in rows[:-1])
        fused = None
        if args.fused_heads:
            label, run, x, replaced = fused_heads_runner(
                model, runners["head 2 (frame)" if args.variant == "sp" else "head 1 (onset)"][1])
            heads_s = sum(r["window_s"] for r in rows if r["stage"].startswith("head"))
            per_head = model_flops_by_stage(transcriber.config)["head 2" if args.variant == "sp" else "head 1"]
            wall = median_time(run, x, args.runs)
            fused = {"stage": label, "window_s": round(wall, 4), "replaces_s": round(heads_s, 4),
                     "speedup": round(heads_s / wall, 2), "heads_replaced": replaced,
                     "gflop_per_audio_s_useful": round(replaced * per_head / 1e9, 3)}
            print(f"{label:36s} {1000 * wall:8.1f} ms  instead of {1000 * heads_s:.1f} ms "
                  f"({fused['speedup']:.2f}x)", flush=True)
    print(f"stages sum to {1000 * stage_sum:.0f} ms of the whole model's {1000 * total:.0f} ms; "
          f"dense fp32 GEMM {gemm:.0f} GFLOP/s")
    result = {"machine": {"processor": cpu_model(), "cpu_features": cpu_features(), "max_isa": args.max_isa,
                          "threads": args.threads, "torch": torch.__version__, "gemm_fp32_gflops": round(gemm, 1)},
              "variant": args.variant, "window_s": seconds, "features_from": args.features_from,
              "rows": rows, "fused_heads": fused}
    suffix = f"-{args.max_isa}" if args.max_isa else ""
    out = Path(args.json or Path(__file__).with_name(f"results-stages-{args.variant}{suffix}.json"))
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
