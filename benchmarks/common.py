"""What the benchmark suites share: the data choice, tiny/quick mode, the run folders under
``<out>/runs/`` (training one run, finding the finished ones), table helpers and progress lines.

Every suite module (:mod:`benchmarks.paper`, :mod:`benchmarks.deploy`, ...) builds on this one;
:mod:`benchmarks.run` is the command line that dispatches to them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ghost_keras  # noqa: F401  (tf-keras before TensorFlow)

SHARED_DATA = Path(os.environ.get(
    "GHOST_KERAS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: ``GHOST_KWS_BENCH_TINY=1`` makes ``--quick`` smaller still (the test suite's setting).
TINY_ENV = "GHOST_KWS_BENCH_TINY"
#: Synthetic clips per word in tiny mode (35 words: ~700 clips, split 80/10/10 by voice).
TINY_CLIPS_PER_WORD = 20


def tiny_mode(quick: bool) -> bool:
    """Quick mode with ``GHOST_KWS_BENCH_TINY=1``: 1 epoch, tiny data, few clips and repeats."""
    return quick and os.environ.get(TINY_ENV, "") not in ("", "0")


@dataclass
class DataChoice:
    """The data every run of a benchmark trains and tests on (``--data``)."""

    name: str
    data_dirs: list[str]
    split_dirs: list[str]
    speaker_split: list[float]
    synthetic_clips_per_word: int | None = None  # None: TrainConfig's default
    noise_snr_db: list[float] | None = None  # TrainConfig.noise_snr_db of the clip runs


def data_choice(name: str) -> DataChoice:
    """``real`` (the recordings in ``../shared/data``), ``synthetic`` (eSpeak NG), or the path
    of a Speech Commands download (v0.01/v0.02 layout, its own validation/testing lists: the
    paper's setting)."""
    if name == "synthetic":
        return DataChoice("synthetic (eSpeak NG)", [], [], [0.8, 0.1, 0.1])
    if name != "real":
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise SystemExit(f"--data {name}: no such folder; give 'real', 'synthetic' or the "
                             "folder of a Speech Commands download")
        return DataChoice(f"Speech Commands at {folder} (its own validation/testing lists)",
                          [str(folder)], [], [0.8, 0.1, 0.1])
    return real_data()


#: The real-data folders under ``SHARED_DATA``: trained on whole (their own hash split; the
#: extra folder has no test-split speakers) and split by speaker (``REAL_SPEAKER_SPLIT``).
REAL_DATA_DIRS = ("mini_speech_commands_flac", "speech_commands_extra")
REAL_SPLIT_DIRS = ("speech_commands_v2_test12_dev",)
REAL_SPEAKER_SPLIT = [0.5, 0.1, 0.4]


def real_data(root: Path | None = None, extra: bool = True) -> DataChoice:
    """The default real-data training: ``REAL_DATA_DIRS`` plus the speaker split of
    ``REAL_SPLIT_DIRS`` under ``root`` (default ``SHARED_DATA``).

    Args:
        root: the folder holding the data folders.
        extra: include ``speech_commands_extra`` (its clips and real background noise); off
            gives the data of the benchmarks before it was added (the recipe suite's baseline).

    Raises:
        SystemExit: a folder is missing (with the fix).
    """
    root = SHARED_DATA if root is None else Path(root)
    names = [n for n in REAL_DATA_DIRS if extra or n != "speech_commands_extra"]
    data_dirs = [root / n for n in names]
    split_dirs = [root / n for n in REAL_SPLIT_DIRS]
    for folder in data_dirs + split_dirs:
        if not folder.is_dir():
            raise SystemExit(f"real data not found at {folder}; set GHOST_KERAS_SHARED_DATA or "
                             "use --data synthetic")
    train = "mini_speech_commands" + (" + speech_commands_extra" if extra else "")
    return DataChoice(f"real: {train} + 50/10/40 speaker split of test12_dev",
                      [str(d) for d in data_dirs], [str(d) for d in split_dirs],
                      list(REAL_SPEAKER_SPLIT))


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of ``rows`` with these ``columns`` (``-`` where a row has none)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def progress(message: str) -> None:
    """A timestamped line on stderr, flushed at once: one run takes minutes to an hour, and its
    result row (stdout) comes only when it has finished."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one training run ------------------------------------------------------------------------

#: (arch, size, ratio) of every model the paper suite knows, in its order.
PAPER_FULL = [(a, s, r) for s in "SML" for a, r in (("gru", 1), ("ghost_gru", 2), ("ghost_gru", 4))]
PAPER_FULL += [("lstm", "S", 1), ("ghost_lstm", "S", 2), ("ds_cnn", "S", 1)]
#: The training schedule of every benchmark run (piecewise over the epochs).
LEARNING_RATES = [3e-3, 1e-3, 3e-4]
#: TrainConfig fields of the paper suite's runs beyond the defaults (which normalize the
#: features): class-balanced epochs, the recipe suite's best row at 12 epochs (+balance: GRU-S
#: 85.4%, GhostGRU-S r2 84.9%, unknown recall 74.5% for both; docs/design.md).
PAPER_RECIPE = {"balance_classes": True}
#: Epochs of the clip-trained runs the paper, streaming and int8_lstm suites share, chosen on
#: the recipe suite's budget curve (+balance, seed 0: GRU-S 85.4 / 87.1 / 87.6% at 12 / 30 / 60
#: epochs, GhostGRU-S r2 84.9 / 86.2 / 87.5%; docs/design.md): near GRU's plateau at a third
#: of the 60-epoch cost.
PAPER_EPOCHS = 30


def spec_name(arch: str, size: str, ratio: int) -> str:
    """The model's name in the tables, e.g. ``gru_S`` or ``ghost_gru_S_r2``."""
    return f"{arch}_{size}" + (f"_r{ratio}" if arch.startswith("ghost") else "")


def run_folder(out: Path, arch: str, size: str, ratio: int, seed: int) -> Path:
    """The folder of one clip-trained run under ``<out>/runs/``."""
    return out / "runs" / f"{arch}_{size}_r{ratio}_seed{seed}"


def reusable(run_dir: Path, config: Any) -> bool:
    """Whether ``run_dir`` holds a finished float training made with exactly ``config``."""
    from ghost_keras.training import TrainConfig

    try:
        # Through TrainConfig, so a config.json written before a field existed gets its
        # default (the behaviour that run had) and still matches.
        saved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return ((run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()
            and saved.to_dict() == config.to_dict())


def _reusable_qat_accuracy(run_dir: Path, epochs: int) -> float | None:
    """The test accuracy of the finished QAT fine-tuning of ``epochs`` epochs at the default
    rate that ``run_dir`` holds, None if it holds none (the float model it started from must be
    reused too)."""
    from ghost_keras.quantization import qat_model_path
    from ghost_keras.quantization.run import DEFAULT_QAT_LEARNING_RATE

    try:
        done = json.loads((run_dir / "qat" / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    same = (qat_model_path(run_dir).is_file() and done.get("epochs") == epochs
            and done.get("learning_rate") == DEFAULT_QAT_LEARNING_RATE)
    return done["test_accuracy"] if same else None


#: TrainConfig fields that name folders of this machine, not how the model was trained.
_MACHINE_FIELDS = ("data_dirs", "split_dirs", "out_dir", "cache_dir")


def run_config(out: Path, arch: str, size: str, ratio: int, seed: int, data: DataChoice,
               epochs: int, learning_rates: list[float]) -> Any:
    """The TrainConfig of one clip-trained benchmark run (the paper recipe) in its folder."""
    from ghost_keras.training import TrainConfig

    extra = ({"synthetic_clips_per_word": data.synthetic_clips_per_word}
             if data.synthetic_clips_per_word else {})
    if data.noise_snr_db is not None:
        extra["noise_snr_db"] = list(data.noise_snr_db)
    return TrainConfig(arch=arch, size=size, ratio=max(ratio, 1), data_dirs=data.data_dirs,
                       split_dirs=data.split_dirs, speaker_split=data.speaker_split,
                       epochs=epochs, learning_rates=learning_rates, seed=seed,
                       out_dir=str(run_folder(out, arch, size, ratio, seed)),
                       cache_dir=str(out / "cache"), **extra, **PAPER_RECIPE)


def run_settings(config: Any, data: DataChoice, qat_epochs: int,
                 int8_from: str = "qat") -> dict[str, Any]:
    """What decides a run's figures, free of this machine's paths: its training config, the
    data it names, its QAT epochs and which int8 model it ships (``export_run``'s
    ``int8_from``). Two runs with equal settings are the same experiment."""
    return _settings(config, data.name, qat_epochs, int8_from)


def recorded_settings(recorded: dict[str, Any]) -> dict[str, Any] | None:
    """A row's recorded settings as :func:`run_settings` gives them today (None if unreadable):
    a TrainConfig field added since the row was recorded takes its default (the behaviour that
    run had), as in :func:`reusable`; so does ``int8_from`` (rows before it shipped QAT)."""
    from ghost_keras.training import TrainConfig

    try:
        config = TrainConfig.from_dict(recorded["train"])
    except (KeyError, TypeError, ValueError):
        return None
    return _settings(config, recorded.get("data"), recorded.get("qat_epochs"),
                     recorded.get("int8_from", "qat"))


def _settings(config: Any, data_name: str | None, qat_epochs: int | None,
              int8_from: str) -> dict[str, Any]:
    train = {k: v for k, v in config.to_dict().items() if k not in _MACHINE_FIELDS}
    # Through JSON, so settings compare equal to ones read back from a results file.
    return json.loads(json.dumps({"train": train, "data": data_name, "qat_epochs": qat_epochs,
                                  "int8_from": int8_from}))


def train_one(out: Path, arch: str, size: str, ratio: int, seed: int, data: DataChoice,
              epochs: int, qat_epochs: int, learning_rates: list[float],
              resume: bool = False, tag: str = "", int8_from: str = "qat") -> dict[str, Any]:
    """Trains, quantizes and exports one run; ``tag`` (e.g. ``paper 3/15``) heads its progress
    lines; ``int8_from``: which int8 model the run ships (``export_run``'s), after QAT."""
    from firmware_export.pipeline import export_run
    from ghost_keras.data import UNKNOWN
    from ghost_keras.training import train

    head = f"{tag + ' ' if tag else ''}{spec_name(arch, size, ratio)} seed {seed}"
    run_dir = run_folder(out, arch, size, ratio, seed)
    config = run_config(out, arch, size, ratio, seed, data, epochs, learning_rates)
    start = time.perf_counter()
    reused = resume and reusable(run_dir, config)
    qat_accuracy = (_reusable_qat_accuracy(run_dir, qat_epochs) if reused and qat_epochs
                    else None)
    qat_reused = qat_accuracy is not None
    if reused:  # same float training: export it again (and redo QAT unless it is the same)
        progress(f"{head}: resume: reusing the float model"
                 f"{' and the QAT model' if qat_reused else ''} of {run_dir}")
        for stale in ("export", "firmware") + (() if qat_reused else ("qat",)):
            shutil.rmtree(run_dir / stale, ignore_errors=True)
    else:
        progress(f"{head}: training {epochs} epochs -> {run_dir}")
        train(config, verbose=0)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    progress(f"{head}: float {100 * metrics['test_accuracy']:.1f}%; post-training int8 "
             "export, every test clip on TFLM")
    ptq = export_run(run_dir, int8_from="float")  # post-training quantization of the float model
    export = ptq
    if qat_epochs:
        from ghost_keras.quantization import qat_run

        if not qat_reused:
            progress(f"{head}: QAT {qat_epochs} epochs, then its int8 export")
            qat_accuracy = qat_run(run_dir, epochs=qat_epochs, verbose=0)
        export = export_run(run_dir, int8_from=int8_from)
    progress(f"{head}: done in {(time.perf_counter() - start) / 60:.1f} min, int8 TFLM "
             f"{100 * export.report.accuracy:.1f}%")
    labels = json.loads((run_dir / "config.json").read_text())["labels"]
    p = metrics["profile"]
    return {
        "model": spec_name(arch, size, ratio),
        "arch": arch, "size": size, "ratio": ratio, "seed": seed,
        "params": p["params"], "int8_weight_bytes": p["int8_bytes"],
        "tflite_bytes": export.report.model_bytes, "arena_bytes": export.report.arena_bytes,
        "macs_per_frame": p["macs_per_frame"], "macs_per_decision": p["macs_per_decision"],
        "state_bytes": p["state_bytes"], "float_accuracy": metrics["test_accuracy"],
        "ptq_tflm_accuracy": ptq.report.accuracy, "ptq_agreement": ptq.report.agreement_float,
        "qat_accuracy": qat_accuracy, "int8_tflm_accuracy": export.report.accuracy,
        "int8_unknown_recall": (export.report.recall[labels.index(UNKNOWN)]
                                if UNKNOWN in labels else None),
        "qat_agreement": export.report.agreement_qat, "invoke_us": export.report.invoke_us,
        "int8_source": export.source, "int8_validation_accuracy": export.validation_accuracy,
        "epoch_seconds": metrics["epoch_seconds"],
        "float_training_reused": reused, "qat_reused": qat_reused,
        "wall_seconds": time.perf_counter() - start,
        "settings": run_settings(config, data, qat_epochs, int8_from),
    }


# -- runs found on disk (deploy, redundancy) --------------------------------------------------

#: The runs ``--quick`` trains for ``deploy`` / ``redundancy`` when ``<out>/runs`` has none.
QUICK_RUN_SPECS = [("gru", "S", 1), ("ghost_gru", "S", 2)]


@dataclass
class FoundRun:
    """A finished training run folder under ``<out>/runs/``."""

    path: Path
    model: str  # e.g. "ghost_gru_S_r2" (the paper suite's name)
    arch: str
    size: str
    ratio: int
    seed: int

    @property
    def exported(self) -> bool:
        export = self.path / "export"
        return (export / "export.json").is_file() and (export / "model_int8.tflite").is_file()


def _model_order(model: str) -> tuple[int, str]:
    names = [spec_name(*spec) for spec in PAPER_FULL]
    return (names.index(model) if model in names else len(names), model)


def find_runs(out: Path) -> list[FoundRun]:
    """Finished clip-trained runs (``model.keras`` + ``config.json``) under ``<out>/runs/``, in
    the paper suite's model order, then by seed."""
    found = []
    for config_path in sorted((out / "runs").glob("*/config.json")):
        run_dir = config_path.parent
        if not (run_dir / "model.keras").is_file():
            continue  # still training (or failed)
        config = json.loads(config_path.read_text())
        if "stream_training" in config:
            continue  # the streaming suite's fine-tuned copy of a paper run
        train = config["train"]
        arch, size, ratio = train["arch"], train["size"], int(train.get("ratio", 1))
        ratio = ratio if arch.startswith("ghost") else 1
        found.append(FoundRun(run_dir, spec_name(arch, size, ratio), arch, size, ratio,
                              int(train.get("seed", 0))))
    return sorted(found, key=lambda r: (_model_order(r.model), r.seed))


def quick_runs(out: Path, data: DataChoice, quick: bool, models: list[str] | None,
               need_export: bool) -> None:
    """Trains the tiny GRU-S and GhostGRU-S r2 runs (seed 0) that are missing, in quick mode."""
    have = {r.model for r in find_runs(out) if r.seed == 0 and (r.exported or not need_export)}
    epochs = 1 if tiny_mode(quick) else 2
    for arch, size, ratio in QUICK_RUN_SPECS:
        name = spec_name(arch, size, ratio)
        if name in have or (models and name not in models):
            continue
        progress(f"quick: no trained {name} under {out / 'runs'}; training a tiny one "
                 f"({epochs} epochs, post-training quantization)")
        train_one(out, arch, size, ratio, 0, data, epochs, 0, [3e-3], tag="quick")
