"""The ``recipe`` suite: what each change of the real-data training recipe buys (issue 14).

An ablation, each row adding one change to the row before: ``baseline`` (mini_speech_commands +
the speaker split of test12_dev, Hello Edge's augmentation, the benchmarks' piecewise rates, the
front end's features as they come), ``+norm`` (features normalized to mean 0 and standard
deviation 1 over the training clips, the default since), ``+extra`` (speech_commands_extra's
clips and real background noise), ``+balance``
(class-balanced sampling), ``+specaug`` (time and frequency masks), ``+ls_cosine`` (label
smoothing 0.1, 1-epoch warmup and cosine decay), ``+wd`` (AdamW weight decay). Two rows branch
off instead: ``+distill``, the ``+extra`` recipe with knowledge distillation from a GRU-L
trained with that same recipe (:data:`TEACHER`, trained once into ``recipe_runs``; compare it
with ``+extra``), and ``+synthetic``, the ``+balance`` recipe with :data:`SYNTHETIC_CLIPS`
eSpeak NG clips per word added to the training split (compare it with ``+balance``), and
``+noise``, the ``+balance`` recipe with training noise mixed at an SNR drawn from
:data:`NOISE_SNR_DB` (multi-condition training). Float models only (no QAT or export).
Besides the clean test accuracy each row is scored with the split's noise mixed into every word
at :data:`SCORE_SNR_DB` (``test_acc_10db``): words in noise, as an always-listening device
hears them.

Every row is scored on **one** test set: the baseline data's test split (mini's hash-test
speakers + 40% of test12's speakers), featurized as the paper suite does without the extra folder.
Adding the extra folder's background noise also changes the test split's generated silence and
contexts, so a row's own test figure (``own_test_acc``) is not comparable across rows.

``--resume`` skips a run whose folder holds a finished training of the same config.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import (LEARNING_RATES, DataChoice, progress, real_data, spec_name,
                               tiny_mode)

#: The models of the ablation: GRU-S and GhostGRU-S r2.
RECIPE_MODELS = [("gru", "S", 1), ("ghost_gru", "S", 2)]
#: Masks of the ``+specaug`` row: 2 time masks up to 10 frames (200 ms of 980) and 2 frequency
#: masks up to 8 of the 40 microfrontend channels.
SPEC_AUGMENT = {"time_masks": 2, "time_mask_frames": 10, "freq_masks": 2, "freq_mask_bins": 8}
LS_COSINE = {"label_smoothing": 0.1, "lr_schedule": "cosine", "warmup_epochs": 1.0}
WEIGHT_DECAY = {"weight_decay": 0.05}
#: eSpeak NG clips per word of the ``+synthetic`` row: 1,000 keyword and 2,500 other-word clips
#: beside ~8,600 real training clips (of them ~520 real unknown words).
SYNTHETIC_CLIPS = 100
#: Training-noise SNR range of the ``+noise`` row (multi-condition training): the streaming
#: suite's test stream puts words at 10 dB, its second stream at 5 dB.
NOISE_SNR_DB = [0.0, 20.0]
#: Every row is also scored with the reference split's noise mixed into its words at this SNR.
SCORE_SNR_DB = 10.0


@dataclass
class Row:
    """One ablation row: whether the extra folder is used, and the TrainConfig fields set."""

    name: str
    extra: bool
    fields: dict[str, Any] = field(default_factory=dict)
    teacher: bool = False  # distil from TEACHER trained with the same data and fields


#: The rows, each the one before plus one change (the last two branch off).
ROWS = [
    Row("baseline", False, {"normalize_features": False}),
    Row("+norm", False),
    Row("+extra", True),
    Row("+balance", True, {"balance_classes": True}),
    Row("+specaug", True, {"balance_classes": True, **SPEC_AUGMENT}),
    Row("+ls_cosine", True, {"balance_classes": True, **SPEC_AUGMENT, **LS_COSINE}),
    Row("+wd", True, {"balance_classes": True, **SPEC_AUGMENT, **LS_COSINE, **WEIGHT_DECAY}),
    Row("+distill", True, {"distill_alpha": 0.5, "distill_temperature": 4.0}, teacher=True),
    Row("+synthetic", True, {"balance_classes": True,
                             "synthetic_train_clips_per_word": SYNTHETIC_CLIPS}),
    Row("+noise", True, {"balance_classes": True, "noise_snr_db": NOISE_SNR_DB}),
]
#: The teacher of the ``+distill`` row (arch, size, ratio): the most accurate model of the paper
#: suite (GRU-L, 81.2% at 12 epochs) and cheap to train (21 s per epoch there).
TEACHER = ("gru", "L", 1)


def _config(out: Path, row: Row, data: DataChoice, arch: str, size: str, ratio: int,
            seed: int, epochs: int) -> Any:
    from ghost_keras.training import TrainConfig

    folder = out / "recipe_runs" / f"{row.name.lstrip('+')}_{spec_name(arch, size, ratio)}_e{epochs}_seed{seed}"
    extra = ({"synthetic_clips_per_word": data.synthetic_clips_per_word}
             if data.synthetic_clips_per_word else {})
    return TrainConfig(arch=arch, size=size, ratio=max(ratio, 1), data_dirs=data.data_dirs,
                       split_dirs=data.split_dirs, speaker_split=data.speaker_split,
                       epochs=epochs, learning_rates=LEARNING_RATES, seed=seed,
                       out_dir=str(folder), cache_dir=str(out / "cache"), **extra, **row.fields)


class _ReferenceTest:
    """The test split every row is scored on (the baseline's), computed once."""

    def __init__(self, config: Any) -> None:
        from ghost_keras.training import load_index

        self.config = config
        self.index = load_index(config)
        self.labels = list(self.index.labels)
        self._sets: dict[str, Any] = {}  # per front end (runs normalize their own way)

    def _test_split(self, frontend: dict[str, Any]) -> tuple[Any, Any, Any]:
        """Clean features, labels and features at :data:`SCORE_SNR_DB` of the test split."""
        from ghost_keras import data as kws_data
        from ghost_keras.features import FrontendConfig, make_frontend

        key = json.dumps(frontend, sort_keys=True)
        if key not in self._sets:
            sets = kws_data.make_datasets(
                self.index, make_frontend(FrontendConfig.from_dict(frontend)), 256,
                seed=self.config.seed, cache_dir=self.config.cache_dir)
            self._sets[key] = (*sets.as_numpy("test"), sets.at_snr("test", SCORE_SNR_DB))
        return self._sets[key]

    def score(self, run_dir: Path) -> dict[str, Any]:
        import numpy as np

        from ghost_keras.training import load_run

        model, run_config = load_run(run_dir)
        if list(run_config["labels"]) != self.labels:
            raise ValueError(f"{run_dir}: labels {run_config['labels']} differ from the "
                             f"reference test split's {self.labels}")
        x, y, x_noisy = self._test_split(run_config["frontend"])
        pred = np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1)
        noisy = np.argmax(model.predict(x_noisy, batch_size=256, verbose=0), axis=-1)

        def recall(label: str) -> float:
            mask = y == self.labels.index(label)
            return float(np.mean(pred[mask] == y[mask]))

        return {"test_acc": float(np.mean(pred == y)),
                f"test_acc_{SCORE_SNR_DB:g}db": float(np.mean(noisy == y)),
                "test_clips": int(len(y)),
                "unknown_recall": recall("_unknown_"), "silence_recall": recall("_silence_"),
                "on_recall": recall("on"), "off_recall": recall("off")}


def _teacher_config(out: Path, row: Row, data: DataChoice, seed: int, epochs: int) -> Any:
    """The :data:`TEACHER` run of a row: its data and fields, no distillation."""
    plain = Row(f"teacher{row.name.lstrip('+')}", row.extra, {
        k: v for k, v in row.fields.items() if not k.startswith("distill_")})
    return _config(out, plain, data, *TEACHER, seed, epochs)


def _finished(config: Any) -> bool:
    from benchmarks.common import reusable

    folder = Path(config.out_dir)
    return reusable(folder, config) and (folder / "recipe_row.json").is_file()


def suite_recipe(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                 models: list[str] | None = None, epochs: int | None = None,
                 resume: bool = False, rows: list[str] | None = None) -> dict[str, Any]:
    """Trains every row (``rows``: only these) for every model (``models``: only these), seed 0
    (``seeds``: 0..seeds-1), and scores each on the baseline's test split.

    With ``--data real`` the baseline trains without the extra folder and the other rows with
    it; with other data every row uses that data.
    """
    from ghost_keras.training import train

    epochs = epochs or (1 if tiny_mode(quick) else 3 if quick else 12)
    specs = [s for s in RECIPE_MODELS if not models or spec_name(*s) in models]
    chosen = [r for r in ROWS if not rows or r.name in rows]
    unknown = set(rows or []) - {r.name for r in ROWS}
    if unknown or not specs:
        raise SystemExit(f"recipe: unknown rows {sorted(unknown)} or no model of "
                         f"{[spec_name(*s) for s in RECIPE_MODELS]} chosen")
    real = data.name.startswith("real")
    data_of = {True: real_data(extra=True), False: real_data(extra=False)} if real else None
    plan = [(row, spec, seed) for row in chosen for spec in specs for seed in range(seeds or 1)]
    reference: _ReferenceTest | None = None
    runs = []
    for i, (row, (arch, size, ratio), seed) in enumerate(plan, 1):
        config = _config(out, row, data_of[row.extra] if real else data, arch, size, ratio,
                         seed, epochs)
        run_dir = Path(config.out_dir)
        head = f"recipe {i}/{len(plan)} {row.name} {spec_name(arch, size, ratio)} seed {seed}"
        teacher = None
        if row.teacher:
            teacher = _teacher_config(out, row, data_of[row.extra] if real else data, seed,
                                      epochs)
            config = dataclasses.replace(config, teacher_run=teacher.out_dir)
        if resume and _finished(config):
            progress(f"{head}: resume: finished in {run_dir}")
        else:
            if teacher is not None and not _finished(teacher):
                progress(f"{head}: training the teacher {spec_name(*TEACHER)} -> "
                         f"{teacher.out_dir}")
                shutil.rmtree(teacher.out_dir, ignore_errors=True)
                train(teacher, verbose=0)
                (Path(teacher.out_dir) / "recipe_row.json").write_text(
                    json.dumps({"row": "teacher"}))
            progress(f"{head}: training {epochs} epochs -> {run_dir}")
            shutil.rmtree(run_dir, ignore_errors=True)  # a half-written or other-config run
            start = time.perf_counter()
            train(config, verbose=0)
            (run_dir / "recipe_row.json").write_text(json.dumps(
                {"row": row.name, "train_wall_seconds": time.perf_counter() - start}))
        if reference is None:
            reference = _ReferenceTest(_config(out, ROWS[0], data_of[False] if real else data,
                                               arch, size, ratio, seed, epochs))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        wall = json.loads((run_dir / "recipe_row.json").read_text())["train_wall_seconds"]
        result = {"row": row.name, "model": spec_name(arch, size, ratio), "seed": seed,
                  "epochs": epochs, **reference.score(run_dir),
                  "own_test_acc": metrics["test_accuracy"],
                  "epoch_seconds": metrics["epoch_seconds"], "train_minutes": wall / 60,
                  "command": _command(row, arch, size, ratio, epochs, data)}
        progress(f"{head}: test {100 * result['test_acc']:.1f}%, unknown recall "
                 f"{100 * result['unknown_recall']:.1f}%, {result['train_minutes']:.1f} min")
        print(json.dumps(result), flush=True)
        runs.append(result)
    return {"runs": runs, "summary": runs, "epochs": epochs, "rows": [r.name for r in chosen],
            "row_fields": {r.name: {"extra": r.extra, **r.fields,
                                    **({"teacher": spec_name(*TEACHER)} if r.teacher else {})}
                           for r in chosen}}


def _command(row: Row, arch: str, size: str, ratio: int, epochs: int, data: DataChoice) -> str:
    """The command that (re)makes this row alone."""
    data_arg = "" if data.name.startswith("real") else " --data ..."
    return (f"python -m benchmarks.run recipe --resume --epochs {epochs} --rows '{row.name}' "
            f"--models {spec_name(arch, size, ratio)} --out RESULTS{data_arg}")


if __name__ == "__main__":  # python -m benchmarks.recipe is python -m benchmarks.run recipe
    from benchmarks.run import main

    sys.exit(main(["recipe", *sys.argv[1:]]))
