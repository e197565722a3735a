"""``ghost-kws``: the command line of the whole chain.

    ghost-kws train [--arch ghost_gru --size S --data DIR ...]   train into a run folder
    ghost-kws evaluate RUN_DIR [--data DIR]                      accuracy: test split, or DIR
    ghost-kws qat RUN_DIR                                        quantization-aware fine-tuning
    ghost-kws stream-train RUN_DIR --out DIR                     per-frame training on long audio
    ghost-kws export RUN_DIR                                     int8 .tflite + TFLM report
    ghost-kws firmware RUN_DIR --out DIR                         TFLM firmware folder
    ghost-kws demo                                               all of the above, one command
    ghost-kws stream AUDIO.wav --run RUN_DIR                     detections on TFLM, with times
    ghost-kws stream-eval RUN_DIR --wav W --truth CSV            FRR, FA/h, DET on long audio
    ghost-kws profile [--arch ...]                               params, bytes, MACs
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


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", default="ghost_gru", choices=ARCH_NAMES)
    parser.add_argument("--size", default="S", choices=["S", "M", "L"])
    parser.add_argument("--ratio", type=int, default=2, help="ghost ratio (ghost models)")
    parser.add_argument("--cheap-op", default="dense", choices=["dense", "depthwise"])


def _cmd_train(args: argparse.Namespace) -> int:
    from ghost_keras.training import TrainConfig, train

    config = TrainConfig(
        arch=args.arch, size=args.size, ratio=args.ratio, cheap_op=args.cheap_op,
        frontend=args.frontend, data_dirs=args.data or [], epochs=args.epochs,
        batch_size=args.batch_size, learning_rates=args.lr, seed=args.seed, out_dir=args.out,
        synthetic_clips_per_word=args.synthetic_clips, strategy=args.strategy,
        split_dirs=args.split_data or [], speaker_split=args.speaker_split,
    )
    result = train(config, verbose=args.verbose)
    print(f"{args.arch}-{args.size}: test accuracy {result.test_accuracy:.2%}, "
          f"{result.params:,} params, {result.epoch_seconds:.1f} s/epoch -> {result.run_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    if args.data:
        if args.split is not None:
            raise ValueError("--split picks a split of the run's own data, --data scores every "
                             "clip of DIR: drop one of them.")
        from ghost_keras.evaluation import evaluate_folder

        print(evaluate_folder(args.run_dir, args.data).report())
        return 0
    from ghost_keras.training import evaluate

    print(json.dumps(evaluate(args.run_dir, args.split or "test"), indent=2))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from firmware_export.pipeline import export_run

    report = export_run(args.run_dir, out=args.out, calibration_clips=args.calibration_clips)
    print(report.summary())
    return 0


def _recognizer_settings(args: argparse.Namespace) -> dict[str, float] | None:
    """The recognizer overrides of ``--probability``; 0 is a threshold too, so no truth test."""
    return None if args.probability is None else {"detection_probability": args.probability}


def _cmd_firmware(args: argparse.Namespace) -> int:
    from firmware_export.pipeline import write_run_firmware

    folder = write_run_firmware(args.run_dir, args.out, array_name=args.array_name,
                                recognizer=_recognizer_settings(args), tflm_tree=args.tflm_tree,
                                table_kernels=not args.tflm_activations)
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

    given = {name: value for name, value in (("epochs", args.epochs), ("learning_rate", args.lr))
             if value is not None}
    accuracy = qat_run(args.run_dir, verbose=args.verbose, **given)
    print(f"QAT model: test accuracy {accuracy:.2%} -> {qat_model_path(args.run_dir)}")
    return 0


def _cmd_stream_train(args: argparse.Namespace) -> int:
    from ghost_keras.stream_training import StreamTrainConfig, stream_train

    given = {name: getattr(args, name) for name in (
        "epochs", "minutes_per_epoch", "chunk_frames", "batch_size", "learning_rates", "snr_db",
        "gap_s", "hold_ms", "lead_ms", "seed") if getattr(args, name) is not None}
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
                      arch=args.arch, seed=args.seed, verbose=args.verbose, **given)
    print(result.summary)
    print(f"wall time {result.seconds / 60:.1f} min")
    return 0


def _cmd_stream(args: argparse.Namespace) -> int:
    from firmware_export.stream import detect_in_wav

    detect_in_wav(args.run, args.audio, settings=_recognizer_settings(args), every=args.every)
    return 0


def _cmd_stream_eval(args: argparse.Namespace) -> int:
    from firmware_export.stream import print_table, stream_eval

    settings = _recognizer_settings(args)
    result = stream_eval(
        args.run_dir, args.wav, args.truth, tolerance_ms=args.tolerance_ms, every=args.every,
        float_step=not args.no_float_step,
        float_window_every=None if args.no_float_window else args.float_window_every,
        settings=settings, parts=args.parts,
        out_dir=args.out or str(Path(args.run_dir) / "stream_eval"))
    print_table(result)
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from ghost_keras.models import build_model
    from ghost_keras.profile import profile_model

    model = build_model(args.arch, args.size, tuple(args.input_shape), args.labels,
                        ratio=args.ratio, cheap_op=args.cheap_op)
    print(profile_model(model).table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ghost-kws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a KWS model into a run folder")
    _add_model_args(p)
    p.add_argument("--data", nargs="*", help="Speech Commands folder(s); default: synthetic set")
    p.add_argument("--frontend", default="microfrontend", choices=["microfrontend", "cmsis_mfcc"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, nargs="+", default=[5e-4, 1e-4, 2e-5],
                   help="piecewise-constant learning rates, split evenly over the epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/latest", help="run folder")
    p.add_argument("--synthetic-clips", type=int, default=100,
                   help="clips per word of the synthetic set (no --data)")
    p.add_argument("--split-data", nargs="*",
                   help="folder(s) to split by speaker into train/validation/test")
    p.add_argument("--speaker-split", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                   default=[0.8, 0.1, 0.1], help="fractions for --split-data (default 0.8 0.1 0.1)")
    p.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored"])
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="accuracy of a run on a split of its data, or on every "
                       "clip of other folders (float, QAT and int8 TFLM models)")
    p.add_argument("run_dir")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="score every clip of these folders (full or prepared layout) instead")
    p.add_argument("--split", choices=["train", "validation", "test"],
                   help="split of the run's own data (default test)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("export", help="int8 TFLite Micro model of a run, verified on TFLM")
    p.add_argument("run_dir")
    p.add_argument("--out", help="output folder (default: RUN_DIR/export)")
    p.add_argument("--calibration-clips", type=int, default=200)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("qat", help="quantization-aware fine-tuning of a run (-> RUN_DIR/qat)")
    p.add_argument("run_dir")
    # Defaults (None here) are qat_run's: importing them would import TensorFlow.
    p.add_argument("--epochs", type=int, help="default 2")
    p.add_argument("--lr", type=float, help="default 1e-05")
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    p.set_defaults(func=_cmd_qat)

    p = sub.add_parser("stream-train", help="fine-tune a recurrent run per frame on long "
                       "training audio, to be read at every frame (-> a new run folder)")
    p.add_argument("run_dir", help="a clip-trained recurrent run (kept unchanged)")
    p.add_argument("--out", required=True, help="the new run folder")
    # Defaults (None here) are StreamTrainConfig's.
    p.add_argument("--epochs", type=int, help="default 12")
    p.add_argument("--minutes-per-epoch", type=float, help="new training audio per epoch "
                   "(default 120)")
    p.add_argument("--chunk-frames", type=int, help="frames per training sequence (750)")
    p.add_argument("--batch-size", type=int, help="sequences per batch (8)")
    p.add_argument("--lr", dest="learning_rates", type=float, nargs="+",
                   help="piecewise-constant Adam rates (1e-3 3e-4 1e-4)")
    p.add_argument("--snr-db", type=float, nargs=2, help="SNR range per segment (5 25)")
    p.add_argument("--gap-s", type=float, nargs=2, help="seconds between items (0.3 2)")
    p.add_argument("--hold-ms", type=int,
                   help="frames up to this long after a word's end get its label (1000)")
    p.add_argument("--lead-ms", type=int, help="... and from this long before it (100)")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1])
    p.set_defaults(func=_cmd_stream_train)

    p = sub.add_parser("firmware", help="TFLM firmware folder of a run (exports it if needed)")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="firmware folder to write")
    p.add_argument("--array-name", default="g_kws_model", help="C name of the model array")
    p.add_argument("--probability", type=float,
                   help="the recognizer's detection threshold (default 0.8); pick the operating "
                        "point from `ghost-kws stream-eval`'s DET curve")
    p.add_argument("--tflm-tree", help="a Cortex-M4 TFLM tree (create_tflm_tree.py output): "
                   "size the arena by running the model on a Cortex-M4 under QEMU (needs "
                   "arm-none-eabi-g++ and qemu-system-arm); default: measured on the host")
    p.add_argument("--tflm-activations", action="store_true",
                   help="register TFLM's own int8 LOGISTIC/TANH kernels instead of the folder's "
                        "256-entry tables (same bytes; 256 B less arena per op, 170-380 more "
                        "Cortex-M4 instructions per element)")
    p.set_defaults(func=_cmd_firmware)

    p = sub.add_parser("demo", help="the whole chain: data, train, QAT, int8 export on TFLM, "
                                    "firmware folder")
    p.add_argument("--data", nargs="*", help="Speech Commands folder(s); default: synthetic set")
    p.add_argument("--split-data", nargs="*", help="folder(s) to split by speaker")
    p.add_argument("--arch", default="ghost_gru", choices=ARCH_NAMES)
    # Defaults (None here) are run_demo's.
    p.add_argument("--epochs", type=int, help="default 40")
    p.add_argument("--qat-epochs", type=int, help="default 4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("stream", help="detections of a run's int8 model (TFLM) in a WAV")
    p.add_argument("audio", help="mono 16-bit WAV at the front end's sample rate")
    p.add_argument("--run", required=True, help="an exported run folder")
    p.add_argument("--probability", type=float, help="detection threshold (default 0.8)")
    p.add_argument("--every", type=int, default=1, help="window models: frames between runs")
    p.set_defaults(func=_cmd_stream)

    p = sub.add_parser("stream-eval", help="FRR, FA/h and DET curve of a run on a long WAV")
    p.add_argument("run_dir")
    p.add_argument("--wav", required=True)
    p.add_argument("--truth", required=True, help="CSV with header label,start,end (seconds)")
    p.add_argument("--tolerance-ms", type=int, default=1000)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--float-window-every", type=int, default=5)
    p.add_argument("--no-float-window", action="store_true")
    p.add_argument("--no-float-step", action="store_true")
    p.add_argument("--probability", type=float)
    p.add_argument("--parts", type=int, default=2, help="parts of the stream compared (drift)")
    p.add_argument("--out", help="folder for stream_eval.json and det.png")
    p.set_defaults(func=_cmd_stream_eval)

    p = sub.add_parser("profile", help="params, int8 bytes, MACs and state of a model")
    _add_model_args(p)
    p.add_argument("--input-shape", type=int, nargs=2, default=(49, 40))
    p.add_argument("--labels", type=int, default=12)
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
