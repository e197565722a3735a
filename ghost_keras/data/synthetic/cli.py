"""``python -m ghost_keras.data.synthetic OUT_DIR --clips-per-word N --seed S``: generate a
synthetic set into a folder, with a progress line on stderr when it is a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ghost_keras.data.synthetic.config import DEFAULT_CLIPS_PER_WORD, SyntheticConfig
from ghost_keras.data.synthetic.espeak import EspeakNotFoundError
from ghost_keras.data.synthetic.writer import generate_dataset
from ghost_keras.progress import Progress

__all__ = ["main"]


def _word_list(text: str) -> list[str]:
    return [] if text.strip() == "" else text.split(",")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ghost_keras.data.synthetic OUT_DIR --clips-per-word N --seed S``.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status (0 on success).

    Example:
        >>> main(["/tmp/kws", "--clips-per-word", "20", "--words", "yes,no"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m ghost_keras.data.synthetic",
        description="Generate a synthetic keyword dataset (Speech Commands layout) with eSpeak NG.",
    )
    parser.add_argument("out_dir", type=Path, help="destination folder (must be empty or absent)")
    parser.add_argument("--clips-per-word", type=int, default=DEFAULT_CLIPS_PER_WORD)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", type=_word_list, default=None, help="comma-separated keywords")
    parser.add_argument(
        "--unknown-words", type=_word_list, default=None, help="comma-separated unknown words ('' for none)"
    )
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--testing-fraction", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 8)))
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier synthetic dataset")
    args = parser.parse_args(argv)

    start = time.monotonic()
    try:
        with Progress("speech synthesis (eSpeak NG)", unit="clips") as bar:
            config = SyntheticConfig.of(
                words=args.words, unknown_words=args.unknown_words,
                clips_per_word=args.clips_per_word, seed=args.seed, sample_rate=args.sample_rate,
                validation_fraction=args.validation_fraction,
                testing_fraction=args.testing_fraction,
            )  # fmt: skip
            out = generate_dataset(args.out_dir, config, workers=args.workers,
                                   progress=bar.update, overwrite=args.overwrite)
    except (EspeakNotFoundError, ValueError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - start
    total = json.loads((out / "synthetic.json").read_text())["total_clips"]
    print(f"wrote {total} clips to {out} in {elapsed:.1f} s ({total / elapsed:.0f} clips/s, "
          f"{args.workers} workers)")  # fmt: skip
    return 0

