"""Benchmark suites: ``python -m benchmarks.run SUITE [--quick] [--data real|synthetic]``.

Suites (each prints a table and writes ``<results>/<suite>.json``, ``.md`` and PNG plots):

- ``paper``: GRU vs GhostGRU (ratios 2, 4) at the Hello Edge sizes, plus LSTM, GhostLSTM and
  DS-CNN at S, trained the same way: params, int8 flash, MACs, state, float accuracy and
  int8 accuracy on TFLM (QAT when available), mean and spread over seeds.
- ``train_speed``: training step time of GhostGRU vs keras GRU of the same full width and of
  the same intrinsic width, and of the GhostGRU cell run step by step, side by side in one
  process.
- ``deploy``: for every exported run under ``<results>/runs/``: ``.tflite`` bytes vs int8
  weight bytes, smallest TFLM arena, ops, host invoke time, and the cost of streaming (one
  step per 20 ms frame) against recomputing the whole 1-s window at every stride.
- ``redundancy``: the GhostRNN paper's Figs. 1-2 (cosine similarity of hidden-state
  dimensions, state values) for the seed-0 ``gru_S`` and ``ghost_gru_S_r2`` runs, with the
  redundancy statistics (:mod:`ghost_keras.redundancy`).
- ``streaming``: GRU-S, GhostGRU-S r2 (clip-trained and stream-trained) and DS-CNN-S on a long
  stream of test speakers, float and int8 on TFLM: FRR at 1/5/20 FA/h, drift, compute per
  second of audio (:mod:`benchmarks.streaming`).
- ``int8_lstm``: LSTM-S and GhostLSTM-S r2 quantized with the cell state's int8 range fixed at
  4 and calibrated per model, side by side from the same float runs
  (:mod:`benchmarks.int8_lstm`).
- ``recipe``: the training-recipe ablation on GRU-S and GhostGRU-S r2 (extra data, class
  balancing, SpecAugment, label smoothing + cosine schedule, weight decay), every row scored on
  the baseline's test split (:mod:`benchmarks.recipe`).

``deploy`` and ``redundancy`` reuse the runs ``paper`` trained into the same ``--out``; with
``--quick`` they train two tiny runs (GRU-S, GhostGRU-S r2) when there are none.
``python -m benchmarks.report RESULTS`` turns the JSON files into ``docs/results.md``.

Real data (the default): train on ``mini_speech_commands_flac`` and ``speech_commands_extra``
(hash split; the extra folder also brings the real ``_background_noise_``) plus 50% of the
speakers of ``speech_commands_v2_test12_dev``; validate on 10% and test on the other 40% of its speakers,
so no test speaker is seen in training. ``--data synthetic`` uses the eSpeak NG set instead.
``--quick`` runs tiny settings (S only, few epochs, one seed) for CI-style checks; with the
environment variable ``GHOST_KWS_BENCH_TINY=1`` quick mode is smaller still (1 epoch, a
20-clips-per-word synthetic set, few clips and repeats): what ``tests/test_benchmarks.py`` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import TINY_CLIPS_PER_WORD, data_choice, markdown_table, tiny_mode
from benchmarks.deploy import suite_deploy
from benchmarks.int8_lstm import suite_int8_lstm
from benchmarks.paper import suite_paper
from benchmarks.recipe import suite_recipe
from benchmarks.redundancy import suite_redundancy
from benchmarks.streaming import suite_streaming
from benchmarks.train_speed import suite_train_speed
from ghost_keras.fileio import atomic_write_json, atomic_write_text

#: Each suite's function, by its name on the command line.
SUITES: dict[str, Callable[..., dict[str, Any]]] = {
    "paper": suite_paper,
    "train_speed": suite_train_speed,
    "deploy": suite_deploy,
    "redundancy": suite_redundancy,
    "streaming": suite_streaming,
    "recipe": suite_recipe,
    "int8_lstm": suite_int8_lstm,
}


def main(argv: list[str] | None = None) -> int:
    """Runs the suites named in ``argv`` in order; writes ``<out>/<suite>.json`` and ``.md``."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="+", choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI-style check)")
    parser.add_argument("--data", default="real",
                        help="real (../shared/data), synthetic, or a Speech Commands folder")
    parser.add_argument("--seeds", type=int, help="seeds of every model at S (default 3, quick 1)")
    parser.add_argument("--stream-seeds", type=int, default=1, metavar="N",
                        help="streaming: seeds of each stream-training recipe on the seed-0 "
                             "clip run (default 1)")
    parser.add_argument("--ml-seeds", type=int, default=1, metavar="N",
                        help="paper: seeds of GRU and GhostGRU r2 at M and L (default 1)")
    parser.add_argument("--int8-from", choices=["qat", "best"], default="best",
                        help="paper: the int8 model each run ships: its QAT model, or the more "
                             "accurate on the validation split on TFLM of QAT and post-training "
                             "int8 (default)")
    parser.add_argument("--models", nargs="*", help="paper, deploy, redundancy: only these (e.g. gru_S ghost_gru_S_r2)")
    parser.add_argument("--epochs", type=int, help="paper, streaming, int8_lstm: training epochs (default 30, quick 3, tiny 1); "
                             "recipe: the same, default 12")
    parser.add_argument("--out", default="results", help="results folder")
    parser.add_argument("--resume", action="store_true",
                        help="paper: reuse a run's float model when its training config is the "
                             "same, and its QAT model when the QAT settings are too (the int8 "
                             "exports are redone); recipe: skip finished runs")
    parser.add_argument("--resume-from", type=Path, nargs="+", default=[], metavar="JSON",
                        help="paper: take the runs of these earlier paper.json / "
                             "paper.partial.json files whose settings are the same instead of "
                             "training them again (e.g. docs/results/paper.json)")
    parser.add_argument("--rows", nargs="*", help="recipe: only these rows (e.g. baseline +extra); streaming: these "
                             "stream-training recipes (default: stream)")
    parser.add_argument("--noise-snr-db", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="paper, streaming: the clip runs mix training noise at an SNR "
                             "drawn from LOW..HIGH dB (TrainConfig.noise_snr_db; default: "
                             "Hello Edge's volume 0-0.1)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = data_choice(args.data)
    if args.noise_snr_db:
        low, high = args.noise_snr_db
        data = replace(data, name=f"{data.name}; training noise at {low:g}-{high:g} dB SNR",
                       noise_snr_db=[low, high])
    if tiny_mode(args.quick) and args.data == "synthetic":
        data = replace(data, name=f"{data.name}, {TINY_CLIPS_PER_WORD} clips per word",
                       synthetic_clips_per_word=TINY_CLIPS_PER_WORD)
    for name in args.suites:
        start = time.perf_counter()
        extra = ({"resume": args.resume} if name in ("paper", "recipe") else {}) | (
            {"resume_from": args.resume_from, "ml_seeds": args.ml_seeds,
             "int8_from": args.int8_from} if name == "paper" else {}) | (
            {"rows": args.rows} if name in ("recipe", "streaming") else {}) | (
            {"stream_seeds": args.stream_seeds} if name == "streaming" else {})
        result = SUITES[name](out, args.quick, data, args.seeds, models=args.models,
                              epochs=args.epochs, **extra)
        result.update({
            "suite": name, "quick": args.quick, "data": data.name,
            "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"), "wall_seconds": time.perf_counter() - start,
            "tiny": tiny_mode(args.quick),
        })
        columns = list(result["summary"][0]) if result["summary"] else []
        result["columns"] = columns  # the JSON's keys are sorted; the report keeps this order
        atomic_write_json(out / f"{name}.json", result)
        table = markdown_table(result["summary"], columns)
        atomic_write_text(out / f"{name}.md", (
            f"# {name}\n\nData: {result['data']}. Machine: {result['machine']}. Date: "
            f"{result['date']}. Wall time: {result['wall_seconds'] / 60:.1f} min.\n\n"
            f"Command: `{result['command']}`\n\n{table}\n"
            + "".join(f"\n![{png}]({png})\n" for png in result.get("plots", []))))
        print(f"\n== {name} ({result['wall_seconds'] / 60:.1f} min) ==\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
