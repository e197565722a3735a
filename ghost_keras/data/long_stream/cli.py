"""``python -m ghost_keras.data.long_stream DATA_DIR --minutes M --out WAV --truth CSV``: build a
long test stream from a data folder's test split and write it with its ground truth."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ghost_keras.data.long_stream.build import make_long_stream
from ghost_keras.data.long_stream.source import stream_index
from ghost_keras.data.long_stream.truth import write_stream
from ghost_keras.data.speech_commands import KEYWORDS_12, SILENCE, SPLITS, UNKNOWN

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ghost_keras.data.long_stream",
        description="Build a long test WAV of keywords, unknown words and silence in background "
                    "noise, and its ground-truth CSV (label,start,end in seconds).")
    p.add_argument("data_dir", help="Speech Commands folder (full or prepared 12-label layout)")
    p.add_argument("--minutes", type=float, required=True, help="stream length in minutes")
    p.add_argument("--out", required=True, help="output WAV")
    p.add_argument("--truth", required=True, help="output ground-truth CSV")
    p.add_argument("--seed", type=int, default=0, help="generation seed")
    p.add_argument("--split", default="test", choices=[*SPLITS, "none"],
                   help="take clips of this split (default test; none: every clip, only for "
                        "data no model was trained on)")
    p.add_argument("--speaker-split", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                   help="split by speaker as `ghost-kws train --split-data` did")
    p.add_argument("--split-seed", type=int, default=0,
                   help="the training seed, for --speaker-split (default 0)")
    p.add_argument("--run", help="training run folder: take keywords and split from its config")
    p.add_argument("--keywords", nargs="+", default=list(KEYWORDS_12))
    p.add_argument("--snr-db", type=float, default=10.0,
                   help="SNR of a word at 0 dB gain (default 10)")
    p.add_argument("--no-noise", action="store_true", help="no background noise")
    p.add_argument("--gap", type=float, nargs=2, default=[1.0, 3.0], metavar=("LO", "HI"),
                   help="seconds between items (default 1 3)")
    p.add_argument("--gain-db", type=float, nargs=2, default=[-6.0, 6.0], metavar=("LO", "HI"))
    p.add_argument("--keyword-fraction", type=float, default=0.6)
    p.add_argument("--unknown-fraction", type=float, default=0.25)
    p.add_argument("--manifest", help="also write a JSON with parameters and every item's source")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.run and args.split != "test":
            raise ValueError(f"--run with --split {args.split} would take clips of the run's "
                             "training or validation speakers: keep --split test with --run")
        index = stream_index(args.data_dir, keywords=args.keywords,
                             speaker_split=args.speaker_split, split_seed=args.split_seed,
                             run_dir=args.run)
        split = None if args.split == "none" else args.split
        params = {
            "data_dir": str(args.data_dir), "seed": args.seed, "split": split,
            "speaker_split": args.speaker_split, "split_seed": args.split_seed, "run": args.run,
            "duration_s": args.minutes * 60.0, "snr_db": None if args.no_noise else args.snr_db,
            "gap_s": args.gap, "gain_db": args.gain_db,
            "keyword_fraction": args.keyword_fraction, "unknown_fraction": args.unknown_fraction,
        }
        audio, truth = make_long_stream(
            index, args.minutes * 60.0, args.seed, snr_db=params["snr_db"],
            gap_s=tuple(args.gap), keyword_fraction=args.keyword_fraction,
            unknown_fraction=args.unknown_fraction, gain_db=tuple(args.gain_db), split=split)
        write_stream(args.out, args.truth, audio, truth, manifest_path=args.manifest,
                     manifest=params)
    except (ValueError, FileNotFoundError) as e:
        print(f"long_stream: error: {e}", file=sys.stderr)
        return 2
    counts = {k: sum(t.label == k for t in truth) for k in (SILENCE, UNKNOWN)}
    keywords = len(truth) - counts[SILENCE] - counts[UNKNOWN]
    print(f"{args.out}: {len(audio) / 16000 / 60:.1f} min, {keywords} keywords, "
          f"{counts[UNKNOWN]} unknown words, {counts[SILENCE]} silence items; truth {args.truth}")
    return 0

