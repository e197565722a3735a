"""``ghost-kws``: the command line of the whole chain.

    ghost-kws train [--arch ghost_gru --size S --data DIR ...]   train into a run folder
    ghost-kws evaluate RUN_DIR [--data DIR]                      accuracy: test split, or DIR
    ghost-kws qat RUN_DIR                                        quantization-aware fine-tuning
    ghost-kws stream-train RUN_DIR --out DIR                     per-frame training on long audio
    ghost-kws export RUN_DIR                                     int8 .tflite + TFLM report
    ghost-kws operating-point RUN_DIR [--target-fa-h 1]          recognizer settings for a FA/h
    ghost-kws firmware RUN_DIR --out DIR                         TFLM firmware folder
    ghost-kws demo [--arch ghost_gru --size S]                   all of the above, one command
    ghost-kws stream RUN_DIR --wav W                             detections on TFLM, with times
    ghost-kws stream-eval RUN_DIR --wav W --truth CSV            FRR, FA/h, DET on long audio
    ghost-kws profile [--arch ...]                               params, bytes, MACs

A command that takes a run has it as its first argument. ``--lr`` is always a piecewise-constant
schedule (one value: a constant rate); ``--verbose`` is 0 quiet, 1 interactive (the progress of
long steps only on a terminal), 2 for a log (one line per epoch and per step).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence


#: ``ghost_keras.models.ARCHITECTURES``' names, spelled out so that parsing the arguments needs
#: no TensorFlow (a test keeps the two equal).
ARCH_NAMES = ("ds_cnn", "ghost_gru", "ghost_lstm", "gru", "lstm")


#: What ``--lr`` means in every command that has it.
LR_HELP = "piecewise-constant learning rates, split evenly over the training steps"
PROBABILITY_HELP = ("detection threshold (default: the run's operating point from `ghost-kws "
                    "operating-point`, else 0.8)")


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", default="ghost_gru", choices=ARCH_NAMES, help="model family")
    parser.add_argument("--size", default="S", choices=["S", "M", "L"],
                        help="Hello Edge size")
    parser.add_argument("--ratio", type=int, default=2,
                        help="ghost ratio units / intrinsic units (ghost models)")
    parser.add_argument("--cheap-op", default="dense", choices=["dense", "depthwise"],
                        help="how ghost units are made (ghost models)")


#: TrainConfig fields that `train` takes as options of the same name (the recipe group).
RECIPE_OPTIONS = ("balance_classes", "time_masks", "time_mask_frames", "freq_masks",
                  "freq_mask_bins", "label_smoothing", "weight_decay", "lr_schedule",
                  "warmup_epochs", "teacher_run", "distill_alpha", "distill_temperature",
                  "synthetic_train_clips_per_word", "noise_snr_db")


def _cmd_train(args: argparse.Namespace) -> int:
    from ghost_keras.training import TrainConfig, train

    config = TrainConfig(
        arch=args.arch, size=args.size, ratio=args.ratio, cheap_op=args.cheap_op,
        frontend=args.frontend, data_dirs=args.data or [], epochs=args.epochs,
        batch_size=args.batch_size, learning_rates=args.lr, seed=args.seed, out_dir=args.out,
        synthetic_clips_per_word=args.synthetic_clips, strategy=args.strategy,
        split_dirs=args.split_data or [], speaker_split=args.speaker_split,
        **{name: getattr(args, name) for name in RECIPE_OPTIONS},
    )
    result = train(config, verbose=args.verbose)
    print(f"{args.arch}-{args.size}: test accuracy {result.test_accuracy:.2%}, "
          f"{result.params:,} params, {result.epoch_seconds:.1f} s/epoch -> {result.run_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    if args.data:
        if args.split is not None or args.snr_db is not None:
            raise ValueError("--split and --snr-db score the run's own data, --data scores "
                             "every clip of DIR: drop one of them.")
        from ghost_keras.evaluation import evaluate_folder

        print(evaluate_folder(args.run_dir, args.data, verbose=args.verbose).report())
        return 0
    from ghost_keras.training import evaluate

    print(json.dumps(evaluate(args.run_dir, args.split or "test", snr_db=args.snr_db), indent=2))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from firmware_export.pipeline import export_run

    report = export_run(args.run_dir, out=args.out, calibration_clips=args.calibration_clips,
                        verbose=args.verbose, int8_from=args.int8_from)
    print(report.summary())
    return 0


def _recognizer_settings(args: argparse.Namespace) -> dict[str, float] | None:
    """The recognizer overrides of ``--probability``; 0 is a threshold too, so no truth test."""
    return None if args.probability is None else {"detection_probability": args.probability}


def _folder_kernels(args: argparse.Namespace) -> tuple[str, ...]:
    """The ops that run on the folder's own kernels: all but those of ``--tflm-kernel``."""
    from firmware_export.firmware.op_resolver import FOLDER_KERNELS

    return tuple(op for op in FOLDER_KERNELS if op not in (args.tflm_kernel or ()))


def _cmd_firmware(args: argparse.Namespace) -> int:
    from firmware_export.pipeline import write_run_firmware

    folder = write_run_firmware(args.run_dir, args.out, array_name=args.array_name,
                                recognizer=_recognizer_settings(args), tflm_tree=args.tflm_tree,
                                folder_kernels=_folder_kernels(args), verbose=args.verbose)
    arena = folder.settings.arena
    tables = f" + {arena.table_bytes:,} B of tables" if arena.table_bytes else ""
    print(f"firmware folder {folder.path} (tensor arena {arena.arena_bytes:,} B, from the "
          f"{'Cortex-M4' if arena.measured_on == 'cortex-m4' else '64-bit host'} minimum "
          f"{arena.measured_bytes:,} B{tables} + {arena.margin:.0%}):")
    for f in folder.files:
        print(f"  {f.name:28s} {f.size_bytes:>9,} B")
    return 0


def _cmd_qat(args: argparse.Namespace) -> int:
    from ghost_keras.quantization import qat_model_path, qat_run

    given = {name: getattr(args, name) for name in ("epochs", "learning_rate")
             if getattr(args, name) is not None}
    accuracy = qat_run(args.run_dir, verbose=args.verbose, **given)
    print(f"QAT model: test accuracy {accuracy:.2%} -> {qat_model_path(args.run_dir)}")
    return 0


def _cmd_stream_train(args: argparse.Namespace) -> int:
    from ghost_keras.stream_training import StreamTrainConfig, stream_train

    given = {name: getattr(args, name) for name in (
        "epochs", "minutes_per_epoch", "chunk_frames", "batch_size", "learning_rates", "snr_db",
        "gap_s", "gain_db", "hold_ms", "lead_ms", "clip_share", "keyword_fraction",
        "unknown_fraction", "whole_unknown", "seed") if getattr(args, name) is not None}
    metrics = stream_train(args.run_dir, args.out, StreamTrainConfig(**given),
                           verbose=args.verbose)
    print(f"stream-trained (epoch {metrics['kept_epoch']} kept): clip test accuracy "
          f"{metrics['test_accuracy']:.2%} (was {metrics['source_test_accuracy'] or 0:.2%}) "
          f"-> {args.out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ghost_keras.demo import run_demo

    given = {name: getattr(args, name) for name in ("epochs", "qat_epochs")
             if getattr(args, name) is not None}
    result = run_demo(args.out, data_dirs=args.data, split_dirs=args.split_data,
                      arch=args.arch, size=args.size, ratio=args.ratio, cheap_op=args.cheap_op,
                      seed=args.seed, verbose=args.verbose, **given)
    print(result.summary)
    print(f"wall time {result.seconds / 60:.1f} min")
    return 0


def _cmd_stream(args: argparse.Namespace) -> int:
    from firmware_export.evaluate import detect_in_wav

    detect_in_wav(args.run_dir, args.wav, settings=_recognizer_settings(args), every=args.every,
                  progress=args.verbose)
    return 0


def _cmd_stream_eval(args: argparse.Namespace) -> int:
    from firmware_export.evaluate import print_table, stream_eval

    settings = _recognizer_settings(args)
    result = stream_eval(
        args.run_dir, args.wav, args.truth, tolerance_ms=args.tolerance_ms, every=args.every,
        float_step=not args.no_float_step,
        float_window_every=None if args.no_float_window else args.float_window_every,
        settings=settings, parts=args.parts,
        out_dir=args.out or str(Path(args.run_dir) / "stream_eval"), verbose=args.verbose)
    print_table(result)
    print(f"wrote {', '.join(result[key] for key in ('json', 'det_png') if key in result)}")
    return 0


def _cmd_operating_point(args: argparse.Namespace) -> int:
    from firmware_export.evaluate import describe_operating_point, tune_operating_point

    point = tune_operating_point(args.run_dir, args.target_fa_h, minutes=args.minutes,
                                 seed=args.seed, verbose=args.verbose)
    print(describe_operating_point(point))
    print(f"wrote it into {Path(args.run_dir) / 'export' / 'export.json'}: `ghost-kws firmware`, "
          "`stream` and `stream-eval` now use it")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from ghost_keras.models import build_model
    from ghost_keras.profile import profile_model

    model = build_model(args.arch, args.size, tuple(args.input_shape), args.labels,
                        ratio=args.ratio, cheap_op=args.cheap_op)
    print(profile_model(model).table())
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every default in ``--help`` as "(default: X)". An option whose default belongs to the
    function it feeds is None here, so that parsing needs no TensorFlow, and its help states
    that default itself (a test keeps the two equal)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


#: What the levels of ``--verbose`` do, per kind of command.
STEPS_VERBOSE = ("0 quiet; progress lines of the long steps (synthesis, TFLM, stream runs): 1 "
                 "on a terminal, 2 always")
KERAS_VERBOSE = f"{STEPS_VERBOSE}; Keras: 1 a progress bar, 2 one line per epoch"


def _add_verbose(parser: argparse.ArgumentParser, default: int,
                 levels: str = STEPS_VERBOSE) -> None:
    """``--verbose`` of every command, on one scale: 0 quiet, 1 interactive, 2 for a log."""
    parser.add_argument("--verbose", type=int, default=default, choices=[0, 1, 2], help=levels)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ghost-kws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)

    p = command("train", "train a KWS model into a run folder")
    _add_model_args(p)
    p.add_argument("--data", nargs="*", help="Speech Commands folder(s); default: synthetic set")
    p.add_argument("--frontend", default="microfrontend", choices=["microfrontend", "cmsis_mfcc"],
                   help="feature front end")
    p.add_argument("--epochs", type=int, default=20, help="training epochs")
    p.add_argument("--batch-size", type=int, default=100, help="clips per batch")
    p.add_argument("--lr", type=float, nargs="+", default=[5e-4, 1e-4, 2e-5],
                   help=LR_HELP)
    p.add_argument("--seed", type=int, default=0, help="seed of data, augmentation and weights")
    p.add_argument("--out", default="runs/latest", help="run folder")
    p.add_argument("--synthetic-clips", type=int, default=100,
                   help="clips per word of the synthetic set (no --data)")
    p.add_argument("--split-data", nargs="*",
                   help="folder(s) to split by speaker into train/validation/test")
    p.add_argument("--speaker-split", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                   default=[0.8, 0.1, 0.1], help="fractions for --split-data")
    p.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored"],
                   help="tf.distribute strategy")
    recipe = p.add_argument_group("recipe (each off by default: the original Hello Edge recipe)")
    recipe.add_argument("--balance-classes", action="store_true",
                        help="class-balanced epochs: every label an equal share")
    recipe.add_argument("--time-masks", type=int, default=0, metavar="N",
                        help="SpecAugment time masks per training clip")
    recipe.add_argument("--time-mask-frames", type=int, default=0, metavar="F",
                        help="widest time mask, in frames")
    recipe.add_argument("--freq-masks", type=int, default=0, metavar="N",
                        help="SpecAugment frequency masks per training clip")
    recipe.add_argument("--freq-mask-bins", type=int, default=0, metavar="B",
                        help="widest frequency mask, in feature channels")
    recipe.add_argument("--label-smoothing", type=float, default=0.0,
                        help="label smoothing of the cross-entropy")
    recipe.add_argument("--weight-decay", type=float, default=0.0,
                        help="AdamW decoupled weight decay (0: Adam)")
    recipe.add_argument("--lr-schedule", default="piecewise", choices=["piecewise", "cosine"],
                        help="piecewise: the --lr values in equal shares; cosine: warmup to the "
                             "first, cosine decay to the last")
    recipe.add_argument("--warmup-epochs", type=float, default=0.0,
                        help="linear warmup of the cosine schedule, in epochs")
    recipe.add_argument("--teacher-run", metavar="RUN",
                        help="knowledge distillation from this trained run (same labels and "
                             "front end; e.g. a GRU-L) (default: none)")
    recipe.add_argument("--distill-alpha", type=float, default=0.5,
                        help="weight of the teacher's soft targets in the loss")
    recipe.add_argument("--distill-temperature", type=float, default=4.0,
                        help="softmax temperature of the soft targets")
    recipe.add_argument("--synthetic-train-clips-per-word", type=int, default=0, metavar="N",
                        help="eSpeak NG clips per word added to the training split of --data "
                             "(validation and test stay real speech)")
    recipe.add_argument("--noise-snr-db", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="mix noise into training clips at an SNR drawn from LOW..HIGH dB "
                             "(e.g. 0 20: words in noise, as an always-listening device hears "
                             "them) (default: none, Hello Edge's noise volume 0-0.1)")
    _add_verbose(p, 1, KERAS_VERBOSE)
    p.set_defaults(func=_cmd_train)

    p = command("evaluate", "accuracy of a run on a split of its data, or on every clip of "
                "other folders (float, QAT and int8 TFLM models)")
    p.add_argument("run_dir")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="score every clip of these folders (full or prepared layout) instead")
    p.add_argument("--split", choices=["train", "validation", "test"],
                   help="split of the run's own data (default: test)")
    p.add_argument("--snr-db", type=float, metavar="DB",
                   help="mix the split's noise into every word at this SNR (default: none, "
                        "the clips as recorded)")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_evaluate)

    p = command("export", "int8 TFLite Micro model of a run, verified on TFLM")
    p.add_argument("run_dir")
    p.add_argument("--out", help="output folder (default: RUN_DIR/export)")
    p.add_argument("--calibration-clips", type=int, default=200,
                   help="training clips that calibrate post-training quantization (no QAT)")
    # firmware_export.pipeline.INT8_FROM, spelled out: importing it would load TensorFlow.
    p.add_argument("--int8-from", choices=["qat", "float", "best"], default="qat",
                   help="qat: the run's QAT model when it has one (default); float: "
                        "post-training quantization of the float model; best: whichever of "
                        "the two is more accurate on the validation split on TFLM")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_export)

    p = command("qat", "quantization-aware fine-tuning of a run (-> RUN_DIR/qat); a "
                "stream-trained run is fine-tuned per frame on new training streams")
    p.add_argument("run_dir")
    p.add_argument("--epochs", type=int, help="fine-tuning epochs (default: 2)")
    p.add_argument("--learning-rate", type=float,
                   help="one constant Adam rate, not a schedule as train's --lr (default: 1e-05)")
    _add_verbose(p, 2, KERAS_VERBOSE)
    p.set_defaults(func=_cmd_qat)

    p = command("stream-train", "fine-tune a recurrent run per frame on long training audio, "
                "to be read at every frame (-> a new run folder)")
    p.add_argument("run_dir", help="a clip-trained recurrent run (kept unchanged)")
    p.add_argument("--out", required=True, help="the new run folder")
    p.add_argument("--epochs", type=int,
                   help="fine-tuning epochs, each on newly generated audio (default: 12)")
    p.add_argument("--minutes-per-epoch", type=float,
                   help="new training audio per epoch (default: 120)")
    p.add_argument("--chunk-frames", type=int,
                   help="frames per training sequence (default: 750)")
    p.add_argument("--batch-size", type=int, help="sequences per batch (default: 8)")
    p.add_argument("--lr", dest="learning_rates", type=float, nargs="+", metavar="LR",
                   help=f"{LR_HELP} (default: 1e-3 3e-4 1e-4)")
    p.add_argument("--snr-db", type=float, nargs=2,
                   help="SNR range per segment (default: 5 25)")
    p.add_argument("--gap-s", type=float, nargs=2,
                   help="seconds between items (default: 0.3 2)")
    p.add_argument("--gain-db", type=float, nargs=2, help="gain range per word (default: -6 6)")
    p.add_argument("--clip-share", type=float,
                   help="share of the run's training clips mixed into each epoch, answered at "
                        "their last frame (default: 0)")
    p.add_argument("--hold-ms", type=int,
                   help="frames up to this long after a word's end get its label (default: 1000)")
    p.add_argument("--lead-ms", type=int, help="... and from this long before it (default: 100)")
    p.add_argument("--keyword-fraction", type=float,
                   help="share of the streams' items that are keywords (default: 0.6)")
    p.add_argument("--unknown-fraction", type=float,
                   help="... that are unknown words; the rest is silence (default: 0.25)")
    p.add_argument("--whole-unknown", action="store_true", default=None,
                   help="label an unknown word's frames _unknown_ while it is spoken too "
                        "(default: no loss there)")
    p.add_argument("--seed", type=int, help="seed of the audio, chunks and order (default: 0)")
    _add_verbose(p, 1, "0 quiet; 1 and 2 one line per epoch")
    p.set_defaults(func=_cmd_stream_train)

    p = command("firmware", "TFLM firmware folder of a run (exports it if needed)")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="firmware folder to write")
    p.add_argument("--array-name", default="g_kws_model", help="C name of the model array")
    p.add_argument("--probability", type=float,
                   help="the recognizer's detection threshold (default: the run's operating "
                        "point from `ghost-kws operating-point`, else 0.8)")
    p.add_argument("--tflm-tree", help="a Cortex-M4 TFLM tree (create_tflm_tree.py output): "
                   "size the arena by running the model on a Cortex-M4 under QEMU (needs "
                   "arm-none-eabi-g++ and qemu-system-arm); default: measured on the host")
    p.add_argument("--tflm-kernel", action="append", metavar="OP",
                   choices=("LOGISTIC", "TANH", "SOFTMAX", "FULLY_CONNECTED", "ADD", "SUB",
                            "MUL"),
                   help="register TFLM's own kernel for this op instead of the folder's (same "
                        "bytes, more Cortex-M4 instructions): LOGISTIC, TANH and SOFTMAX (the "
                        "folder's are 256-entry tables: 256 B of arena per op, SOFTMAX 1 KiB), "
                        "FULLY_CONNECTED, ADD, SUB, MUL; repeatable (default: the folder's "
                        "kernels for all of them)")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_firmware)

    p = command("demo", "the whole chain: data, train, QAT, int8 export on TFLM, firmware "
                "folder")
    _add_model_args(p)
    p.add_argument("--data", nargs="*", help="Speech Commands folder(s); default: synthetic set")
    p.add_argument("--split-data", nargs="*", help="folder(s) to split by speaker")
    p.add_argument("--epochs", type=int, help="training epochs (default: 40)")
    p.add_argument("--qat-epochs", type=int,
                   help="QAT epochs, 0 for post-training quantization (default: 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything")
    p.add_argument("--out", default="runs/demo", help="run folder (firmware in OUT/firmware)")
    _add_verbose(p, 2, KERAS_VERBOSE)
    p.set_defaults(func=_cmd_demo)

    p = command("stream", "detections of a run's int8 model (TFLM) in a WAV, with times")
    p.add_argument("run_dir", help="an exported run folder")
    p.add_argument("--wav", required=True, help="mono 16-bit WAV at the front end's sample rate")
    p.add_argument("--probability", type=float, help=PROBABILITY_HELP)
    p.add_argument("--every", type=int, default=1, help="window models: frames between runs")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_stream)

    p = command("stream-eval", "FRR, FA/h and DET curve of a run on a long WAV")
    p.add_argument("run_dir", help="an exported run folder")
    p.add_argument("--wav", required=True, help="the long WAV")
    p.add_argument("--truth", required=True, help="CSV with header label,start,end (seconds)")
    p.add_argument("--tolerance-ms", type=int, default=1000,
                   help="a detection may come this long after a keyword's end")
    p.add_argument("--every", type=int, default=1, help="window models: frames between runs")
    p.add_argument("--float-window-every", type=int, default=5,
                   help="strides between runs of the float windowed baseline")
    p.add_argument("--no-float-window", action="store_true",
                   help="skip the float windowed baseline")
    p.add_argument("--no-float-step", action="store_true", help="skip the float step model")
    p.add_argument("--probability", type=float, help=PROBABILITY_HELP)
    p.add_argument("--parts", type=int, default=2, help="parts of the stream compared (drift)")
    p.add_argument("--out", help="folder for stream_eval.json and det.png "
                   "(default: RUN_DIR/stream_eval)")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_stream_eval)

    p = command("operating-point", "choose the recognizer settings of an exported run for a "
                "target false-accept rate, on a stream of its validation speakers")
    p.add_argument("run_dir", help="an exported run folder")
    p.add_argument("--target-fa-h", type=float, default=1.0,
                   help="false accepts per hour the point may have at most")
    p.add_argument("--minutes", type=float, default=120.0,
                   help="length of the validation stream (a rate of ~1/h needs hours)")
    p.add_argument("--seed", type=int, default=1, help="seed of the validation stream")
    _add_verbose(p, 1)
    p.set_defaults(func=_cmd_operating_point)

    p = command("profile", "params, int8 bytes, MACs and state of a model")
    _add_model_args(p)
    p.add_argument("--input-shape", type=int, nargs=2, default=(49, 40),
                   metavar=("FRAMES", "FEATURES"),
                   help="features per decision window (49 x 40: the microfrontend)")
    p.add_argument("--labels", type=int, default=12, help="output classes")
    _add_verbose(p, 1, "the same table at every level (no long step to report; the option is "
                 "there as on every command)")
    p.set_defaults(func=_cmd_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Parsed before TensorFlow loads (6-7 s of CPU), so --help and usage errors answer at once.
    args = build_parser().parse_args(argv)
    from ghost_keras.quiet import import_tensorflow_quietly

    try:
        import_tensorflow_quietly()
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"ghost-kws {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Outputs are written atomically and unfinished runs removed, so no file is half-written.
        print(f"ghost-kws {args.command}: interrupted, no partial file written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
