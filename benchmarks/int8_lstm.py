"""The ``int8_lstm`` suite: what the LSTM cell state's calibrated int8 range buys (issue 14).

LSTM-S and GhostLSTM-S r2 (the paper suite's runs under ``<out>/runs/``, trained here when
missing), each quantized several times from the same float model, side by side: QAT with the
cell state's range fixed at ``[-4, 4 * 127/128]`` (the range every LSTM had before) and with
the range calibrated per model (:func:`ghost_keras.quantization.calibrate`: the largest ``|c|``
of the calibration batches, or a percentile of them, :data:`MODES`). Each is exported and every
test clip streamed through TFLM; the validation accuracy of each QAT model is where a default
is chosen, not the test figures.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks.common import (LEARNING_RATES, PAPER_EPOCHS, DataChoice, progress, run_folder,
                               spec_name, tiny_mode, train_one)

#: The models of the suite (arch, size, ratio).
LSTM_SPECS = [("lstm", "S", 1), ("ghost_lstm", "S", 2)]
#: The ways of quantizing the cell state: name -> ``qat_run``'s ``cell_state_range`` (None:
#: calibrated) and ``cell_state_percentile`` of the calibration batches' ``|c|``.
MODES = {"fixed_4": (4.0, 100.0), "calibrated_max": (None, 100.0),
         "calibrated_p99.99": (None, 99.99), "calibrated_p99.9": (None, 99.9),
         "calibrated_p99.5": (None, 99.5), "calibrated_p99": (None, 99.0)}


def suite_int8_lstm(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                    models: list[str] | None = None, epochs: int | None = None,
                    **_unused: Any) -> dict[str, Any]:
    """Rows (model, mode): the cell-state range R, float, QAT and int8-on-TFLM test accuracy."""
    from firmware_export.pipeline import export_run
    from ghost_keras.quantization import load_qat_model, qat_model_path, qat_run

    tiny = tiny_mode(quick)
    epochs = epochs or (1 if tiny else 3 if quick else PAPER_EPOCHS)
    qat_epochs = 1 if tiny else 2
    rows = []
    for arch, size, ratio in LSTM_SPECS:
        name = spec_name(arch, size, ratio)
        if models and name not in models:
            continue
        source = run_folder(out, arch, size, ratio, 0)
        if not (source / "model.keras").is_file():
            train_one(out, arch, size, ratio, 0, data, epochs, 0, LEARNING_RATES,
                      tag="int8_lstm")
        float_accuracy = json.loads((source / "metrics.json").read_text())["test_accuracy"]
        modes = list(MODES.items())[:2] if tiny else MODES.items()  # tiny: fixed and max only
        for mode, (cell_state_range, percentile) in modes:
            run = out / "int8_lstm" / f"{name}_{mode}"
            shutil.rmtree(run, ignore_errors=True)
            run.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, run, ignore=shutil.ignore_patterns("qat", "export",
                                                                       "firmware"))
            config = json.loads((run / "config.json").read_text())
            config["train"]["out_dir"] = str(run)
            (run / "config.json").write_text(json.dumps(config, indent=2))
            progress(f"int8_lstm {name} {mode}: QAT {qat_epochs} epochs, int8 export")
            qat_accuracy = qat_run(run, epochs=qat_epochs, verbose=0,
                                   cell_state_range=cell_state_range,
                                   cell_state_percentile=percentile)
            ranges = [layer.cell.cell_state_range
                      for layer in load_qat_model(qat_model_path(run)).layers
                      if hasattr(getattr(layer, "cell", None), "cell_state_range")]
            report = export_run(run).report
            qat_metrics = json.loads((run / "qat" / "metrics.json").read_text())
            row = {"model": name, "mode": mode, "cell_state_range": ranges[0],
                   "float_acc": float_accuracy, "qat_acc": qat_accuracy,
                   "qat_val_acc": max(qat_metrics["val_accuracy_by_epoch"]),
                   "int8_tflm_acc": report.accuracy,
                   "int8_vs_float_points": 100 * (report.accuracy - float_accuracy),
                   "agreement_qat": report.agreement_qat}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return {"summary": rows, "epochs": epochs, "qat_epochs": qat_epochs,
            "note": "fixed_4: R = 4 for every model (before); calibrated_*: R from the data "
                    "(the largest |c| of the calibration batches, or a percentile of them). "
                    "All from the same float run; int8_tflm_acc: every test clip on TFLM; "
                    "qat_val_acc: the validation split, where a choice between them is made."}
