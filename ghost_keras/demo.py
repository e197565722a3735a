"""The main job in one call: data -> train -> QAT -> int8 export verified on TFLM -> firmware.

With no data folder it synthesizes the offline keyword set (eSpeak NG), so it runs on a fresh
machine with no download. ``ghost-kws demo`` prints a summary like this one (the README's, from
this project's 2-core CI machine; the full log also has the Keras progress):

    ghost_gru-S on synthetic speech (eSpeak NG), 120 test clips
    float test accuracy 74.2% | QAT 75.0% | int8 on TFLM 74.2% (top-1 agreement with the qat model 99.2%)
    model 63,344 B flash | TFLM arena 6,704 B (header 7,376 B) | 53,142 params | 52,591 MACs per frame | 38 us per invoke on this host
    plots: runs/demo/learning_curves.png, runs/demo/confusion_matrix.png
    firmware folder: runs/demo/firmware
    wall time 2.3 min
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ghost_keras.models import DEFAULT_RATIO
from ghost_keras.training import TrainConfig, train

#: Small settings that finish in a few minutes on 2 CPU cores. A higher learning rate than
#: Hello Edge's 5e-4: the synthetic set is ~1,000 training clips, so there are few steps.
DEMO_EPOCHS = 40
DEMO_LEARNING_RATES = [3e-3, 1e-3, 3e-4]
DEMO_QAT_EPOCHS = 4


@dataclass
class DemoResult:
    run_dir: Path
    firmware_dir: Path
    summary: str
    seconds: float


def run_demo(
    out_dir: str | Path = "runs/demo",
    data_dirs: list[str] | None = None,
    split_dirs: list[str] | None = None,
    arch: str = "ghost_gru",
    size: str = "S",
    ratio: int = DEFAULT_RATIO,
    cheap_op: str = "dense",
    epochs: int = DEMO_EPOCHS,
    qat_epochs: int = DEMO_QAT_EPOCHS,
    seed: int = 0,
    verbose: int = 2,
) -> DemoResult:
    """Runs the whole chain and returns the printed summary.

    Args:
        out_dir: Run folder; the firmware goes to ``<out_dir>/firmware``.
        data_dirs: Speech Commands folders (default: the synthetic set).
        split_dirs: Folders to split by speaker (see :class:`TrainConfig`).
        arch: Model family (``ghost_gru`` by default).
        size: ``S``, ``M`` or ``L`` (Hello Edge sizes).
        ratio, cheap_op: Ghost ratio and cheap operation (ghost models).
        epochs: Float training epochs.
        qat_epochs: Quantization-aware fine-tuning epochs (0: post-training quantization).
        seed: Seed of everything.
        verbose: Keras progress output (0, 1 or 2), and the progress lines of the other long
            steps (:mod:`ghost_keras.progress`).
    """
    from firmware_export.pipeline import export_run, write_run_firmware
    from ghost_keras.quantization import qat_run

    start = time.perf_counter()
    out_dir = Path(out_dir)
    config = TrainConfig(arch=arch, size=size, ratio=ratio, cheap_op=cheap_op,
                         data_dirs=list(data_dirs or []),
                         split_dirs=list(split_dirs or []), epochs=epochs,
                         learning_rates=list(DEMO_LEARNING_RATES), seed=seed,
                         out_dir=str(out_dir))
    result = train(config, verbose=verbose)
    qat_accuracy = None
    if qat_epochs > 0:
        qat_accuracy = qat_run(out_dir, epochs=qat_epochs, verbose=verbose)
    export = export_run(out_dir, verbose=verbose)
    firmware_dir = out_dir / "firmware"
    write_run_firmware(out_dir, firmware_dir, verbose=verbose)
    report = export.report
    profile = result.profile
    source = "synthetic speech (eSpeak NG)" if not (data_dirs or split_dirs) else "Speech Commands"
    qat_text = "-" if qat_accuracy is None else f"{qat_accuracy:.1%}"
    agreement = report.agreement_qat if report.agreement_qat is not None else report.agreement_float
    summary = "\n".join([
        f"{arch}-{config.size} on {source}, {report.clips} test clips",
        f"float test accuracy {result.test_accuracy:.1%} | QAT {qat_text} | int8 on TFLM "
        f"{report.accuracy:.1%} (top-1 agreement with the {export.source} model {agreement:.1%})",
        f"model {report.model_bytes:,} B flash | TFLM arena {report.arena_bytes:,} B "
        f"(header {report.arena_recommended:,} B) | {profile.params:,} params | "
        f"{profile.macs_per_frame:,} MACs per frame | {report.invoke_us:.0f} us per invoke "
        "on this host",
        f"plots: {out_dir / 'learning_curves.png'}, {out_dir / 'confusion_matrix.png'}",
        f"firmware folder: {firmware_dir}",
    ])
    return DemoResult(out_dir, firmware_dir, summary, time.perf_counter() - start)
