"""Run folder -> verified int8 model -> firmware folder: what ``ghost-kws export`` and
``ghost-kws firmware`` do.

``export_run`` converts a training run's model (its QAT model when ``ghost-kws qat`` made one,
or whichever of QAT and post-training int8 is more accurate on the validation split on TFLM),
calibrating on training features, streams the whole test split through TFLM and writes
``<run>/export/model_int8.tflite`` and ``export.json`` (interface + verification report),
each atomically. ``write_run_firmware`` turns that export into the firmware folder.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firmware_export.convert import ExportedModel, convert_model
from firmware_export.firmware.folder import FirmwareFolder, write_firmware_folder
from firmware_export.firmware.op_resolver import FOLDER_KERNELS
from firmware_export.firmware.tensor_roles import tensor_name
from firmware_export.tflite_model import TfliteModelInfo, read_tflite
from firmware_export.verify import VerifyReport, clip_predictions, stream_logits, verify_export
from ghost_keras.features import MICROFRONTEND, FrontendConfig, make_frontend
from ghost_keras.fileio import atomic_write_bytes, atomic_write_json
from ghost_keras.quantization import load_qat_model, qat_model_path

TFLITE_FILE = "model_int8.tflite"
EXPORT_JSON = "export.json"

#: A window model is re-run every this many frames (100 ms at a 20 ms stride): often enough
#: for the recognizer's minimum of 3 results per 1-s averaging window, 1/5 of the compute of
#: re-running at every stride.
WINDOW_EVERY_FRAMES = 5

#: Recognizer defaults (TFLM micro_speech's RecognizeCommands): average 1 s of scores, detect at
#: probability 0.8, then stay quiet for 1.5 s; the host reference uses the same numbers.
RECOGNIZER_DEFAULTS = {
    "average_window_ms": 1000,
    "detection_probability": 0.8,
    "suppression_ms": 1500,
    "minimum_count": 3,
}


@dataclass
class ExportResult:
    """An exported run: the model, its report and where both were written."""

    exported: ExportedModel
    report: VerifyReport
    tflite_path: Path
    json_path: Path
    source: str  # "qat" or "float" (post-training quantization)
    #: int8 TFLM accuracy on the validation split of each candidate of ``int8_from="best"``.
    validation_accuracy: dict[str, float] | None = None

    def summary(self) -> str:
        picked = ("" if not self.validation_accuracy else "; picked on the validation split: "
                  + ", ".join(f"{name} {100 * acc:.1f}%"
                              for name, acc in self.validation_accuracy.items()))
        return f"{self.tflite_path} ({self.source} -> int8{picked})\n{self.report.summary()}"


def _calibration_features(x: np.ndarray, clips: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x[rng.permutation(len(x))[: max(1, clips)]]


def _load_export_model(run_dir: Path, use_qat: bool = True):
    """The float model and, when ``ghost-kws qat`` made one (and ``use_qat``), the run's QAT
    model."""
    from ghost_keras.training import load_run

    model, run_config = load_run(run_dir)
    qat_path = qat_model_path(run_dir)
    if use_qat and qat_path.is_file():
        return model, load_qat_model(qat_path), run_config
    return model, None, run_config


#: What ``export_run`` quantizes: the QAT model when the run has one; post-training quantization
#: of the float model; or whichever of the two is more accurate on the validation split on TFLM.
INT8_FROM = ("qat", "float", "best")


def _tflm_accuracy(exported: ExportedModel, features: np.ndarray, labels: np.ndarray,
                   frontend: FrontendConfig) -> float:
    logits = stream_logits(exported, features, frontend=frontend)
    return float(np.mean(clip_predictions(logits) == np.asarray(labels).reshape(-1)))


def export_run(run_dir: str | Path, out: str | Path | None = None,
               calibration_clips: int = 200, verbose: int = 0,
               int8_from: str = "qat") -> ExportResult:
    """Converts, verifies on TFLM and writes the int8 model of a training run.

    Args:
        run_dir: A folder written by ``ghost-kws train`` (and optionally ``ghost-kws qat``).
        out: Output folder (default ``<run_dir>/export``).
        calibration_clips: Training clips used to calibrate post-training quantization.
        verbose: progress of the TFLM verification (:mod:`ghost_keras.progress`).
        int8_from: One of :data:`INT8_FROM`. ``"qat"``: the QAT model when the run has one,
            else post-training quantization; ``"float"``: post-training quantization even
            then (to compare the two); ``"best"``: both, and the one more accurate on the
            validation split on TFLM is kept (QAT on a tie). QAT can lose accuracy where
            post-training int8 keeps it, and only held-out clips other than the test split's
            can tell which to ship. A stream-trained run is judged on streams, not clips, so
            it takes ``"qat"`` or ``"float"``.

    Raises:
        ValueError: ``int8_from`` is unknown, or ``"best"`` for a stream-trained run.
    """
    from ghost_keras.training import run_datasets

    if int8_from not in INT8_FROM:
        raise ValueError(f"int8_from={int8_from!r}: choose one of {', '.join(INT8_FROM)}.")
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "export"
    float_model, qat_model, run_config = _load_export_model(run_dir, int8_from != "float")
    if int8_from == "best" and "stream_training" in run_config:
        raise ValueError(f"{run_dir} is stream-trained: its int8 model is judged on streams, "
                         "not the validation clips; export it with int8 from qat or float.")
    datasets, _ = run_datasets(run_config)
    x_train, _ = datasets.as_numpy("train")
    x_test, y_test = datasets.as_numpy("test")
    frontend = FrontendConfig.from_dict(run_config["frontend"])
    calibration = _calibration_features(x_train, calibration_clips,
                                        int(run_config["train"]["seed"]))
    models = {"qat": qat_model} if qat_model is not None else {}
    if qat_model is None or int8_from == "best":
        models["float"] = float_model
    converted = {name: convert_model(m, calibration) for name, m in models.items()}
    validation = None
    if len(converted) > 1:
        x_val, y_val = datasets.as_numpy("validation")
        validation = {name: _tflm_accuracy(e, x_val, y_val, frontend)
                      for name, e in converted.items()}
    source = (max(converted, key=lambda name: (validation[name], name == "qat"))
              if validation else next(iter(converted)))
    exported = converted[source]
    report = verify_export(exported, x_test, y_test, float_model=float_model, qat_model=qat_model,
                           frontend=frontend, verbose=verbose)
    tflite_path = atomic_write_bytes(out / TFLITE_FILE, exported.tflite)
    json_path = atomic_write_json(out / EXPORT_JSON, {
        "run_dir": str(run_dir), "source": exported.source,
        **({"validation_accuracy": validation} if validation else {}),
        "model": exported.to_dict(), "report": report.to_dict(),
        "frontend": run_config["frontend"], "labels": run_config["labels"],
    })
    return ExportResult(exported, report, tflite_path, json_path, exported.source, validation)


def deployed_recognizer(info: dict[str, Any],
                        overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recognizer settings a run deploys: ``RECOGNIZER_DEFAULTS``, then the operating point
    its ``export.json`` holds (``ghost-kws operating-point``), then ``overrides``. A threshold
    among the overrides (``detection_probability`` or ``detection_threshold``) replaces the
    point's; the point's window and suppression stay unless overridden too.

    Example:
        >>> deployed_recognizer({}, {"detection_probability": 0.9})["detection_probability"]
        0.9
    """
    point = dict((info.get("operating_point") or {}).get("recognizer") or {})
    overrides = dict(overrides or {})
    thresholds = ("detection_probability", "detection_threshold")
    replaced = any(t in overrides for t in thresholds)
    base = {k: v for k, v in {**RECOGNIZER_DEFAULTS, **point}.items()
            if not (replaced and k in thresholds)}
    return {**base, **overrides}


def firmware_settings(info: dict[str, Any],
                      recognizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings dict of :func:`write_firmware_folder` from a run's ``export.json``: its
    front end, labels, and deployed recognizer (:func:`deployed_recognizer`)."""
    window = info["model"]["kind"] == "window"
    return {
        "labels": list(info["labels"]),
        "frontend": FrontendConfig.from_dict(info["frontend"]),
        "recognizer": deployed_recognizer(info, recognizer),
        "frames_per_decision": WINDOW_EVERY_FRAMES if window else 1,
    }


def _tensor_names(model: dict[str, Any], tflite: TfliteModelInfo) -> dict[str, Any]:
    """Which tensor is the frame, the scores and each state, from the export's roles: the
    converter knows them, and an LSTM's two states have the same shape, so they cannot be
    told apart by shape."""
    inputs, outputs = list(model.get("input_roles", [0])), list(model.get("output_roles", [0]))
    states = [[tensor_name(tflite.inputs[inputs.index(i + 1)]),
               tensor_name(tflite.outputs[outputs.index(i + 1)])]
              for i in range(len(model.get("state_sizes", [])))]
    return {"features": tensor_name(tflite.inputs[inputs.index(0)]),
            "scores": tensor_name(tflite.outputs[outputs.index(0)]), "states": states}


def write_run_firmware(run_dir: str | Path, out_dir: str | Path,
                       array_name: str = "g_kws_model",
                       recognizer: dict[str, Any] | None = None,
                       tflm_tree: str | Path | None = None,
                       folder_kernels: Collection[str] = tuple(FOLDER_KERNELS),
                       verbose: int = 0) -> FirmwareFolder:
    """Writes the firmware folder of a run, exporting it first if that was not done yet.

    ``tflm_tree``: a Cortex-M4 TFLM tree (``create_tflm_tree.py`` output); when given, the
    arena in ``model_settings.h`` is sized from the smallest arena that works on a Cortex-M4
    (built with the folder's Makefile and run under QEMU: needs arm-none-eabi-g++ and
    qemu-system-arm), and the README gives the front end's heap measured there.
    ``folder_kernels``: see :func:`firmware_export.firmware.folder.write_firmware_folder`.
    ``verbose``: progress of the export's TFLM verification, when it runs.
    """
    run_dir = Path(run_dir)
    export_dir = run_dir / "export"
    if not (export_dir / TFLITE_FILE).is_file() or not (export_dir / EXPORT_JSON).is_file():
        export_run(run_dir, verbose=verbose)
    info = json.loads((export_dir / EXPORT_JSON).read_text())
    settings = firmware_settings(info, recognizer)
    settings["tensors"] = _tensor_names(info["model"], read_tflite(export_dir / TFLITE_FILE))
    frontend_config = settings["frontend"]
    tables = make_frontend(frontend_config).c_tables()
    device = None
    if tflm_tree is not None:
        import tempfile

        from firmware_export.device.build import cmsis_dsp_sources
        from firmware_export.device.run import measure_on_device

        # The probe brings its own arena, so a scratch copy with a placeholder arena is measured
        # and out_dir is written once, with the measured arena.
        cmsis = cmsis_dsp_sources() if frontend_config.kind != MICROFRONTEND else None
        with tempfile.TemporaryDirectory(prefix="kws_fw_") as scratch:
            probe_folder = write_firmware_folder(
                export_dir / TFLITE_FILE, settings, scratch, array_name=array_name,
                arena_bytes=16, frontend_tables=tables, folder_kernels=folder_kernels)
            device = measure_on_device(probe_folder.path, tflm_tree, cmsis_dsp=cmsis)
    return write_firmware_folder(export_dir / TFLITE_FILE, settings, out_dir,
                                 array_name=array_name, frontend_tables=tables, device=device,
                                 folder_kernels=folder_kernels)
