"""``ghost-kws evaluate RUN --data DIR``: every clip of a folder, scored by each model of a run.

The folder (full Speech Commands layout or the prepared 12-class layout) is indexed as the
training loader indexes it, with the run's keywords (other words become ``_unknown_``), and
*all* of its clips are scored: none is split off, subsampled or added (a run's own splits
generate silence and subsample unknown words; a held-out folder is measured as it is).

The models are the run's float model, its QAT model (``RUN/qat/model.h5``) when there is one,
and its int8 model on TFLite Micro (``RUN/export``) when the run was exported, streamed as the
firmware runs it with features quantized as the device's front end quantizes them.

Example:

>>> result = evaluate_folder("runs/latest", ["held_out_speakers"])  # doctest: +SKIP
>>> print(result.report())                                          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ghost_keras import data as kws_data
from ghost_keras.features import FrontendConfig, make_frontend
from ghost_keras.plots import confusion_matrix
from ghost_keras.progress import Progress

#: The name of the int8 model in reports (it runs on TFLM, as on the device).
INT8 = "int8 TFLM"


@dataclass
class FolderEvaluation:
    """Predictions of a run's models on every clip of some folders.

    Attributes:
        run_dir: the run.
        sources: the scored folders.
        labels: label names by id (the run's).
        y: ``[clips]`` true label ids.
        predictions: model name (``float``, ``qat``, ``int8 TFLM``) -> ``[clips]`` label ids.
    """

    run_dir: Path
    sources: list[Path]
    labels: list[str]
    y: np.ndarray
    predictions: dict[str, np.ndarray]

    @property
    def clips(self) -> int:
        return int(len(self.y))

    @property
    def counts(self) -> dict[str, int]:
        """Clips per label, in label order."""
        return dict(zip(self.labels, np.bincount(self.y, minlength=len(self.labels)).tolist()))

    def accuracy(self, model: str) -> float:
        return float(np.mean(self.predictions[model] == self.y))

    def confusion(self, model: str) -> np.ndarray:
        """``[true, predicted]`` counts of one model."""
        return confusion_matrix(self.y, self.predictions[model], len(self.labels))

    def recall_precision(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """Per label; NaN where a label has no clip (recall) or no prediction (precision)."""
        matrix = self.confusion(model).astype(np.float64)
        hits = np.diag(matrix)
        with np.errstate(divide="ignore", invalid="ignore"):
            return hits / matrix.sum(axis=1), hits / matrix.sum(axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: counts, accuracy, per-label recall/precision, confusion."""

        def number(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        models = {}
        for name in self.predictions:
            recall, precision = self.recall_precision(name)
            models[name] = {
                "accuracy": self.accuracy(name),
                "recall": dict(zip(self.labels, map(number, recall))),
                "precision": dict(zip(self.labels, map(number, precision))),
                "confusion": self.confusion(name).tolist(),
            }
        return {"run_dir": str(self.run_dir), "data": [str(s) for s in self.sources],
                "clips": self.clips, "counts": self.counts, "labels": self.labels,
                "models": models}

    def report(self) -> str:
        """Clip counts, accuracy per model, a per-label table and the deployed model's
        confusion matrix (int8 when exported, else QAT, else float)."""
        width = max(len(label) for label in self.labels) + 2
        lines = [f"{self.clips} clips from {', '.join(map(str, self.sources))}",
                 "clips per label: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        lines += [f"{name:<10} accuracy {100 * self.accuracy(name):5.1f}%"
                  for name in self.predictions]

        def pct(v: float) -> str:
            return f"{'-':>6}" if np.isnan(v) else f"{100 * v:5.1f}%"

        names = list(self.predictions)
        header = f"{'label':<{width}}{'count':>6}" + "".join(
            f"  {name + ' recall':>17} {'precision':>9}" for name in names)
        lines += ["", header]
        stats = {name: self.recall_precision(name) for name in names}
        for i, (label, count) in enumerate(self.counts.items()):
            lines.append(f"{label:<{width}}{count:>6}" + "".join(
                f"  {pct(stats[n][0][i]):>17} {pct(stats[n][1][i]):>9}" for n in names))
        deployed = names[-1]
        matrix = self.confusion(deployed)
        lines += ["", f"{deployed} confusion (rows: true label, columns: predicted)",
                  " " * width + "".join(f"{label[:7]:>8}" for label in self.labels)]
        lines += [f"{label:<{width}}" + "".join(f"{v:>8}" for v in row)
                  for label, row in zip(self.labels, matrix)]
        return "\n".join(lines)


def folder_index(data_dirs: Sequence[str | Path], run_config: dict[str, Any]
                 ) -> kws_data.SpeechCommandsIndex:
    """Every clip of the folders, labelled with the run's keywords, all in the test split."""
    index = kws_data.scan([Path(d) for d in data_dirs], run_config["train"]["keywords"],
                          split="test", allow_missing_keywords=True)
    if list(index.labels) != list(run_config["labels"]):
        raise ValueError(f"the data's labels {list(index.labels)} differ from the run's "
                         f"{run_config['labels']}; retrain the run or fix its config.json.")
    return index


def folder_features(index: kws_data.SpeechCommandsIndex, run_dir: Path,
                    run_config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Features (the run's front end) and labels of every clip of ``index`` (keywords first,
    then unknown words, then silence)."""
    frontend = make_frontend(FrontendConfig.from_dict(run_config["frontend"]))
    cache = run_config["train"].get("cache_dir") or run_dir.parent / ".cache" / "features"
    # None percentages: exactly the folder's clips, no generated silence, no unknown draw.
    datasets = kws_data.make_datasets(
        index, frontend, batch_size=256, seed=int(run_config["train"]["seed"]),
        silence_percentage=None, unknown_percentage=None, augment=False, cache_dir=cache)
    return datasets.as_numpy("test")


def _top1(outputs: np.ndarray) -> np.ndarray:
    # A step model's streamed output has a frame axis: the decision is after the last frame.
    outputs = np.asarray(outputs)
    return np.argmax(outputs[:, -1] if outputs.ndim == 3 else outputs, axis=-1)


def run_predictions(run_dir: Path, model: Any, run_config: dict[str, Any],
                    x: np.ndarray, verbose: int = 0) -> dict[str, np.ndarray]:
    """Top-1 label ids of the run's float ``model``, its QAT model (if made) and its int8 model
    on TFLM (if exported; ``verbose``: its progress line, :mod:`ghost_keras.progress`)."""
    from ghost_keras.quantization import load_qat_model, qat_model_path

    predictions = {"float": _top1(model.predict(x, batch_size=256, verbose=0))}
    if qat_model_path(run_dir).is_file():
        qat = load_qat_model(qat_model_path(run_dir))
        predictions["qat"] = _top1(qat.predict(x, batch_size=256, verbose=0))
    if (run_dir / "export").is_dir():
        from firmware_export.evaluate import load_export
        from firmware_export.verify import stream_logits

        exported = load_export(run_dir).exported
        frontend = FrontendConfig.from_dict(run_config["frontend"])
        with Progress("int8 on TFLM", len(x), unit="clips", verbose=verbose) as bar:
            predictions[INT8] = _top1(stream_logits(exported, x, frontend=frontend, progress=bar))
    return predictions


def evaluate_folder(run_dir: str | Path, data_dirs: Sequence[str | Path],
                    verbose: int = 0) -> FolderEvaluation:
    """Scores every clip of ``data_dirs`` with each model of the run (see the module doc;
    ``verbose``: see :func:`run_predictions`)."""
    from ghost_keras.training import load_run

    run_dir = Path(run_dir)
    model, run_config = load_run(run_dir)
    index = folder_index(data_dirs, run_config)
    x, y = folder_features(index, run_dir, run_config)
    return FolderEvaluation(run_dir, [Path(d) for d in data_dirs], list(run_config["labels"]),
                            y, run_predictions(run_dir, model, run_config, x, verbose))
