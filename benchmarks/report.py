"""Benchmark JSON -> one Markdown page:
``python -m benchmarks.report RESULTS --out docs/results.md``.

Reads every ``<RESULTS>/<suite>.json`` that ``python -m benchmarks.run`` wrote and writes one
page with, for each suite present: what it measures, the data, machine, date, exact command and
wall time, its table, and its plots. The PNGs are copied (scaled down to at most
:data:`MAX_PNG_WIDTH` pixels wide, 256-colour palette) into a folder beside the page named
after it (``docs/results.md`` -> ``docs/results/``), so the page is self-contained in the
repository. The page is generated: edit the suites or this module, never the page.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import ghost_keras  # noqa: F401  (tf-keras before TensorFlow, quiet TF logs)
from ghost_keras.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text

#: Suites in page order; any other ``*.json`` with a ``suite`` and a ``summary`` follows.
SUITE_ORDER = ["paper", "recipe", "int8_lstm", "deploy", "streaming", "redundancy",
               "train_speed"]

#: PNG width limit of the copies (pixels): enough to read, small in the repository.
MAX_PNG_WIDTH = 1200

#: Plots of result files written before suites listed them under ``plots``.
DEFAULT_PLOTS = {"paper": ["paper_pareto.png"]}

#: Suites whose plots ``--plots`` re-draws from their JSON: the module whose
#: ``plot_result(result, out)`` the suite itself draws them with.
REPLOT_MODULES = {"paper": "benchmarks.paper", "streaming": "benchmarks.streaming"}

TITLES = {
    "paper": "GRU vs GhostGRU, trained the same way (the paper's comparison)",
    "deploy": "Deployment: flash, arena, ops and streaming cost on TFLite Micro",
    "redundancy": "Redundancy of hidden states (the paper's Figs. 1 and 2)",
    "train_speed": "Training step time",
    "streaming": "Keyword spotting on continuous audio: misses and false accepts per hour",
    "recipe": "The training recipe, one change per row (ablation)",
    "int8_lstm": "int8 LSTM: the cell state's range fixed at 4 or calibrated per model",
}

DESCRIPTIONS = {
    "paper": (
        "Each model trained with the same data, recipe (features normalized over the training "
        "clips, class-balanced epochs), schedule and seeds, fine-tuned with "
        "quantization-aware training, converted to an int8 step model and run on every test "
        "clip on the TFLite Micro interpreter. `*_vs_base`: against the non-ghost model of the "
        "same family and size. `macs_per_decision`: one 49-frame window (Hello Edge's "
        "convention); `macs_per_frame`: one streaming step plus the head. Accuracies: mean ± "
        "standard deviation over seeds, in %; `int8_unknown_recall`: the share of the "
        "`_unknown_` test clips the int8 model on TFLM labels so. `published`: the figures of "
        "Hello Edge and the "
        "GhostRNN paper, on Speech Commands v1 with 10 MFCC and their own training, so they "
        "are context, not a like-for-like target. With `--resume`, runs whose float training "
        "config was unchanged kept their float model (`float_training_reused`) and, when their "
        "QAT settings were unchanged too, their QAT model (`qat_reused`); their "
        "`wall_seconds` then covers what was redone."),
    "deploy": (
        "Per model (its lowest seed; every seed has the same graph): the `.tflite` file against "
        "the int8 weight bytes the profile counts (weights 1 B, biases 4 B), the smallest "
        "tensor arena TFLM allocates and invokes it in (bisected on the real interpreter), "
        "the operator count and op kinds (what the firmware's op resolver registers), and the "
        "median host time of one `Invoke()` (TFLM reference kernels on this PC: a relative "
        "measure, not Cortex-M time). A 1-second decision of a step model is 49 invokes, one "
        "per 20 ms frame with the state carried (`decision_macs` = MACs per frame × 49, "
        "`decision_host_us` = 49 × invoke time). `stream_macs_per_s`: what the deployed model "
        "costs per second of audio (50 steps; a window model such as DS-CNN is re-run every 5 "
        "frames); `window_macs_per_s`: a model that recomputes the whole 49-frame window at "
        "every 20 ms stride (50 × MACs per window); `window_vs_stream`: their ratio."),
    "redundancy": (
        "The hidden state of the first recurrent layer after every frame of the test clips, "
        "streamed one frame at a time from a zero state (as on the device). A dimension is "
        "`redundant` when its most similar other dimension has |cosine| > 0.9 over all "
        "clip-frames; `mean_best_abs_cos`: the mean over dimensions of that best |cosine|; "
        "`pairs_above`: pairs over the threshold; `pearson_*`: the same after removing each "
        "dimension's mean (two units that merely share a sign no longer count); "
        "`intrinsic_redundant_share`: among a GhostGRU's intrinsic dimensions only. Fig. 1: "
        "the cosine matrix (a GhostGRU's intrinsic and ghost halves are marked by lines); "
        "Fig. 2: the state of one clip over time, by index, and its most similar pairs."),
    "streaming": (
        "One long stream of test-split speakers (keywords, unknown words and silence at random "
        "gaps in background noise, 10 dB SNR), run as the device runs it: the front end once "
        "over the whole stream, the firmware's recognizer (1 s average, detection at p > 0.8, "
        "1.5 s suppression), detections matched to the truth within 1 s after a keyword's end. "
        "`training`: `clip` = the paper suite's run, `stream` = the same run fine-tuned per "
        "frame on long training audio (`ghost-kws stream-train`), `stream+clips` = the same with a "
        "quarter of the training clips mixed into each epoch (`--clip-share 0.25`), "
        "`stream+clips+gain` = also word levels drawn from -12..+6 dB (`--gain-db -12 6`). "
        "`scorer`: `tflm_int8` = the "
        "exported int8 model on TFLite Micro (a step model read at every 20 ms frame with its "
        "state never reset; a window model re-run every 5 frames), `float_step` = the float "
        "model the same way, `float_window_everyK` = the float model re-run on the last 1 s "
        "every K strides (the windowed baseline). `frr_at_Xfa_h`: the lowest false-rejection "
        "rate over the DET thresholds with at most X false accepts per hour (`-`: no threshold "
        "got that low); `*_p08`: at the firmware's threshold; `first/last_tenth`: the first "
        "and last 10% of the stream (drift of the carried state) at `drift_probability`, the "
        "threshold of the 20 FA/h point; `mmacs_per_s`: model MACs per "
        "second of audio; `host_ms_per_s`: host time per second of audio (TFLM reference "
        "kernels for `tflm_int8`, Keras for the float runs: relative figures)."),
    "recipe": (
        "GRU-S and GhostGRU-S r2 (float, seed 0), each row the row before plus one change: "
        "`+norm` features normalized to mean 0 and standard deviation 1 over the training clips "
        "(the default since; `baseline` trains on them as the front end gives them), "
        "`+extra` speech_commands_extra's clips and real background noise, `+balance` "
        "class-balanced sampling, `+specaug` time and frequency masks, `+ls_cosine` label "
        "smoothing 0.1 with 1-epoch warmup and cosine decay, `+wd` AdamW weight decay. Two rows "
        "branch off instead: `+distill` (`+extra` with a GRU-L teacher), `+synthetic` "
        "(`+balance` with 100 eSpeak NG clips per word in the training split) and `+noise` "
        "(`+balance` with training noise at an SNR drawn from 0-20 dB). Every "
        "row scored on one test set (the baseline data's test split), clean (`test_acc`) and "
        "with the split's noise mixed into every word at 10 dB SNR (`test_acc_10db`); "
        "`own_test_acc`: on the row's own test split (not comparable across rows)."),
    "int8_lstm": (
        "LSTM-S and GhostLSTM-S r2, each quantized several times from the same float run: QAT "
        "with the LSTM cell state's int8 range fixed at [-4, 4·127/128] (`fixed_4`, what every "
        "LSTM had before) and with the range calibrated per model (`calibrated_*`: the largest "
        "|c| of the calibration batches, or its 99.99th-99th percentile; the default is the "
        "99th, chosen on `qat_val_acc`, the validation split). `cell_state_range`: R; "
        "`int8_tflm_acc`: every test clip streamed through TFLite Micro; "
        "`int8_vs_float_points`: int8 minus float, points; `agreement_qat`: int8 and QAT "
        "model on the same top-1."),
    "train_speed": (
        "Training step time on random 49×40 batches of 100 (the recurrence's cost, not the "
        "data pipeline's): GhostGRU against Keras' GRU of the same full width and of its "
        "intrinsic width, and against its own cell run step by step (Keras' generic RNN), in "
        "one process; best of interleaved rounds."),
}

#: Column order of each suite's table (the JSON files store keys sorted). Columns a result has
#: beyond these follow in the result's own ``columns`` order (``benchmarks.run`` records it).
COLUMNS = {
    "paper": ["model", "seeds", "params", "params_vs_base", "tflite_bytes", "flash_vs_base",
              "macs_per_frame", "macs_per_decision", "macs_vs_base", "state_bytes",
              "arena_bytes", "float_acc", "ptq_int8_tflm_acc", "int8_tflm_acc",
              "int8_unknown_recall", "int8_from", "published"],
    "deploy": ["model", "kind", "tflite_bytes", "int8_weight_bytes", "tflite_vs_weights",
               "arena_bytes", "operators", "ops", "invoke_us", "decision_invokes",
               "decision_macs", "decision_host_us", "stream_macs_per_s", "window_macs_per_s",
               "window_vs_stream", "run"],
    "redundancy": ["model", "units", "intrinsic_units", "clips", "samples", "redundant_units",
                   "redundant_share", "mean_best_abs_cos", "median_best_abs_cos",
                   "pairs_above", "mean_abs_cos", "pearson_redundant_share",
                   "pearson_mean_best_abs_r", "intrinsic_redundant_share"],
    "train_speed": ["layer", "step_ms", "vs_GRU_same_width"],
    "streaming": ["model", "training", "scorer", "frr_at_1fa_h", "frr_at_5fa_h",
                  "frr_at_20fa_h", "frr_p08", "fa_h_p08", "drift_probability", "first_tenth_frr",
                  "first_tenth_fa_h",
                  "last_tenth_frr", "last_tenth_fa_h", "mmacs_per_s", "host_ms_per_s"],
}

#: Columns of the streaming suite's operating-point table.
POINT_COLUMNS = ["model", "training", "stream", "probability", "window_ms", "suppression_ms",
                 "minimum_count", "val_frr", "val_fa_h", "frr", "fa_h", "fa_h_low",
                 "fa_h_high", "false_accepts", "hours", "frr_at_1fa_h", "frr_at_5fa_h",
                 "frr_at_20fa_h"]

#: Columns of the streaming suite's table over stream-training seeds.
SEED_COLUMNS = ["model", "training", "seeds", "frr_at_1fa_h", "frr_at_5fa_h", "frr_at_20fa_h",
                "point_frr", "point_fa_h", "negatives_fa_h"]

#: Columns of the paper suite's per-run table (those a result has).
PAPER_RUN_COLUMNS = ["model", "seed", "float_accuracy", "ptq_tflm_accuracy", "ptq_agreement",
                     "qat_accuracy", "int8_tflm_accuracy", "int8_unknown_recall",
                     "qat_agreement", "int8_source", "invoke_us", "epoch_seconds",
                     "float_training_reused", "qat_reused", "wall_seconds"]

#: Keys of a result that are bookkeeping or big tables, not settings to list.
_NOT_SETTINGS = {"summary", "runs", "models", "details", "plots", "suite", "quick", "tiny",
                 "columns",
                 "data", "command", "machine", "date", "wall_seconds", "note",
                 "operating_point", "operating_point_det", "streams", "stream_seed_summary"}


def _fmt(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and column.endswith(("_share", "_accuracy", "_agreement", "_acc",
                                                     "_recall")):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table of ``rows`` (columns: the first row's keys unless given)."""
    columns = columns or (list(rows[0]) if rows else [])
    if not columns:
        return "_(no rows)_"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(c, row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def table_columns(result: dict[str, Any]) -> list[str]:
    """The columns of a suite's table, in display order."""
    present = list(dict.fromkeys(key for row in result["summary"] for key in row))
    order = COLUMNS.get(result["suite"], []) + list(result.get("columns", [])) + sorted(present)
    return [c for c in dict.fromkeys(order) if c in present]


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every suite result in ``results_dir``, in page order."""
    results = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "suite" in data and "summary" in data:
            results.append(data)
    rank = {name: i for i, name in enumerate(SUITE_ORDER)}
    return sorted(results, key=lambda r: (rank.get(r["suite"], len(rank)), r["suite"]))


def copy_png(source: Path, target: Path, max_width: int = MAX_PNG_WIDTH) -> Path:
    """Copies a PNG scaled to at most ``max_width`` pixels wide, as a 256-colour palette PNG."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > max_width:
            height = round(image.height * max_width / image.width)
            image = image.resize((max_width, height), Image.LANCZOS)
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    return atomic_write_bytes(target, buffer.getvalue())


def _settings(result: dict[str, Any]) -> str:
    items = []
    for key, value in result.items():
        if key in _NOT_SETTINGS or isinstance(value, dict):
            continue
        if isinstance(value, list) and len(value) > 8:
            continue
        items.append(f"{key} = {value}")
    return "; ".join(items)


def _paper_runs(result: dict[str, Any]) -> str:
    runs = result.get("runs", [])
    columns = [c for c in PAPER_RUN_COLUMNS if any(c in r for r in runs)]
    return markdown_table(runs, columns) if runs else ""


def _streaming_details(result: dict[str, Any]) -> list[str]:
    stream, lines = result.get("stream") or {}, []
    if stream:
        lines += [f"Stream: {stream.get('minutes')} min, {stream.get('items')} items of which "
                  f"{stream.get('keywords')} keywords, {stream.get('snr_db')} dB SNR "
                  f"(`{Path(str(stream.get('wav'))).name}`).", ""]
    streams = result.get("streams") or {}
    if streams:
        lines += ["Streams (test-split speakers; `real_noise`: the real `_background_noise_` "
                  "recordings at 5 dB SNR, other gaps and levels, its own seed; `negatives`: no "
                  "keyword, unknown words and silence only): " + "; ".join(
                      f"`{n}` {s['items']} items, {s['keywords']} keywords, {s['unknown']} "
                      f"unknown words (`{s['wav']}`)" for n, s in streams.items()) + ".", ""]
    if result.get("operating_point"):
        lines += [f"At the operating point each run deploys, chosen for "
                  f"{result.get('target_fa_per_hour', 1):g} FA/h on a stream of its validation "
                  "speakers (`ghost-kws operating-point`: threshold, averaging window, "
                  "suppression and minimum count searched jointly; `val_*` what the point gave "
                  "there), int8 on TFLM on each stream: FRR, FA/h with its 95% Poisson interval "
                  "(`fa_h_low`-`fa_h_high`), and the DET curve's FRR at 1/5/20 FA/h with the "
                  "point's window and suppression:", "",
                  markdown_table(result["operating_point"], POINT_COLUMNS), ""]
    if result.get("stream_seed_summary"):
        lines += [f"Each stream-training recipe over {result.get('stream_seeds')} seeds of the "
                  "stream training (the same clip run), int8 on TFLM, mean ± std: FRR at 1/5/20 "
                  "FA/h on the test stream; at each seed's operating point the test stream's "
                  "FRR and FA/h and the negative-only stream's FA/h (`(k of n)`: only k seeds "
                  "reach that budget):", "",
                  markdown_table(result["stream_seed_summary"], SEED_COLUMNS), ""]
    if result.get("stream_training"):
        settings = ", ".join(f"{k} = {v}" for k, v in result["stream_training"].items())
        lines += [f"Stream training: {settings}.", ""]
    if result.get("checks"):
        checks = dict(result["checks"])
        trained = checks.pop("training", "stream")
        lines += [f"Checks (GhostGRU-S r2, `{trained}`-trained, int8 on TFLM, state carried):",
                  ""]
        lines += [f"- `{k}`: {v}" for k, v in checks.items()] + [""]
    return lines


def replot(results_dir: Path) -> list[str]:
    """Re-draws into ``results_dir`` the plots of each suite result there that
    :data:`REPLOT_MODULES` names, from the JSON alone (no training, no benchmark run).

    Args:
        results_dir: a folder of suite JSON files (``benchmarks.run --out``).

    Returns:
        The names of the PNGs written.
    """
    import importlib

    written = []
    for result in load_results(results_dir):
        module = REPLOT_MODULES.get(result["suite"])
        if module:
            written += importlib.import_module(module).plot_result(result, results_dir)
    return written


def suite_section(result: dict[str, Any], results_dir: Path, image_dir: Path,
                  written: list[Path]) -> str:
    name = result["suite"]
    lines = [f"## {name}: {TITLES.get(name, name)}", ""]
    if name in DESCRIPTIONS:
        lines += [DESCRIPTIONS[name], ""]
    if result.get("quick"):
        lines += ["> **Quick settings** (`--quick`" + (", tiny" if result.get("tiny") else "")
                  + "): a check that the suite runs, not a measurement of accuracy.", ""]
    wall = result.get("wall_seconds")
    lines += [
        f"- Data: {result.get('data', '-')}",
        f"- Machine: {result.get('machine', '-')}",
        f"- Date: {result.get('date', '-')}",
        f"- Command: `{result.get('command', '-')}`",
        f"- Wall time: {wall / 60:.1f} min" if isinstance(wall, (int, float)) else "- Wall time: -",
    ]
    settings = _settings(result)
    if settings:
        lines.append(f"- Settings: {settings}")
    # The figures themselves beside the page: what a later report or --resume-from reads.
    written.append(atomic_write_json(image_dir / f"{name}.json", result))
    lines.append(f"- Results file: [`{image_dir.name}/{name}.json`]({image_dir.name}/{name}.json)")
    lines += ["", markdown_table(result["summary"], table_columns(result)), ""]
    if result.get("device"):
        lines += ["On a Cortex-M4 (QEMU mps2-an386; instructions, not cycles):", "",
                  markdown_table(result["device"]), ""]
    if result.get("note"):
        lines += [f"Note: {result['note']}", ""]
    if name == "paper" and result.get("runs"):
        lines += ["Per run (accuracies on the test split):", "", _paper_runs(result), ""]
    if name == "streaming":
        lines += _streaming_details(result)
    plots = result.get("plots") or DEFAULT_PLOTS.get(name, [])
    for png in plots:
        source = results_dir / png
        if not source.is_file():
            lines += [f"_(plot {png} missing from {results_dir})_", ""]
            continue
        target = copy_png(source, image_dir / png)
        written.append(target)
        lines += [f"![{name}: {png}]({image_dir.name}/{png})", ""]
    return "\n".join(lines)


def page_sections(text: str) -> dict[str, str]:
    """The suite sections of a page :func:`render` wrote, by suite name, in page order."""
    sections = {}
    for chunk in text.split("\n## ")[1:]:
        sections[chunk.split(":", 1)[0]] = ("## " + chunk).rstrip() + "\n"
    return sections


def render(results_dir: Path, out: Path, command: str, update: bool = False) -> str:
    """Writes the page ``out`` (and its PNG folder) from ``results_dir``; returns the text.

    ``update``: suites without a JSON in ``results_dir`` keep their section of the existing
    page (and its plots), so one suite re-run in another results folder refreshes its section
    alone; the header says which sections were kept."""
    results = load_results(results_dir)
    image_dir = out.with_suffix("")
    written: list[Path] = []
    fresh = {r["suite"]: suite_section(r, results_dir, image_dir, written) for r in results}
    kept = {}
    if update and out.is_file():
        kept = {k: v for k, v in page_sections(out.read_text()).items() if k not in fresh}
    order = [n for n in SUITE_ORDER if n in fresh or n in kept]
    order += [n for n in [*fresh, *kept] if n not in order]
    sections = [fresh.get(n) or kept[n] for n in order]
    sources = ", ".join(f"`{r['suite']}.json`" for r in results) or "no result files"
    header = [
        "# Benchmark results",
        "",
        (f"Generated by `{command}` from {sources} in `{results_dir}` on "
         f"{time.strftime('%Y-%m-%d')}; do not edit (re-run the benchmarks and this command)."
         + (f" Sections kept from the page before (their own dates and commands below): "
            f"{', '.join(kept)}." if kept else "")),
        "",
    ]
    if order:
        titles = {n: f"{n}: {TITLES.get(n, n)}" for n in order}
        header += ["Suites: " + ", ".join(f"[{n}](#{_anchor(titles[n])})" for n in order), ""]
    else:
        header += [(f"No benchmark results found in `{results_dir}` yet: run "
                    "`python -m benchmarks.run SUITE --out DIR` first."), ""]
    text = "\n".join(header + sections).rstrip() + "\n"
    # PNGs of suites no longer present would otherwise linger beside the page.
    if image_dir.is_dir():
        for stale in image_dir.glob("*.png"):
            if stale.name not in {p.name for p in written} and f"/{stale.name})" not in text:
                stale.unlink()
    atomic_write_text(out, text)
    return text


def _anchor(heading: str) -> str:
    """GitHub's anchor of a section heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="folder with the suites' JSON files (benchmarks.run --out)")
    parser.add_argument("--out", default="docs/results.md", help="Markdown page to write")
    parser.add_argument("--update", action="store_true",
                        help="keep the page's sections of suites that have no JSON here")
    parser.add_argument("--plots", action="store_true",
                        help="first re-draw the plots of the " + ", ".join(REPLOT_MODULES)
                        + " suites in RESULTS from their JSON (nothing is re-run)")
    args = parser.parse_args(argv)
    results_dir, out = Path(args.results), Path(args.out)
    if not results_dir.is_dir():
        raise SystemExit(f"{results_dir} is not a folder of benchmark results")
    if args.plots:
        print(f"re-drew {', '.join(replot(results_dir)) or 'no plots'} in {results_dir}")
    command = "python -m benchmarks.report " + " ".join(sys.argv[1:] if argv is None else argv)
    render(results_dir, out, command, update=args.update)
    print(f"wrote {out} ({len(load_results(results_dir))} suites, plots in {out.with_suffix('')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
