"""Verification of an exported int8 model on the real TFLite Micro interpreter.

Every clip is streamed the way the firmware will run it: a step model gets one int8 feature
frame per invoke, and the int8 state output bytes are copied into the state input unchanged;
a window model gets the whole window. The report gives accuracy on TFLM, top-1 agreement with
the Keras models, the arena TFLM needs, model bytes, host time per invoke and the ops.

Example:

>>> report = verify_export(exported, x_test, y_test, float_model=model)  # doctest: +SKIP
>>> print(report.summary())                                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import tf_keras as keras

from firmware_export.convert import ExportedModel
from firmware_export.feature_quantizer import FeatureQuantizer
from firmware_export.tflm import (
    TflmInterpreter,
    dequantize,
    find_smallest_arena,
    recommended_arena_bytes,
    time_invoke,
)
from firmware_export.tflm_step_runner import TflmStepRunner
from ghost_keras.features.config import FrontendConfig
from ghost_keras.progress import Progress


@dataclass
class VerifyReport:
    """What TFLM did with an exported model on a labelled test set."""

    kind: str
    clips: int
    accuracy: float  # int8 on TFLM
    agreement_float: float | None  # top-1 match rate with the float Keras model
    agreement_qat: float | None  # top-1 match rate with the QAT Keras model
    float_accuracy: float | None
    qat_accuracy: float | None
    model_bytes: int
    arena_bytes: int  # smallest arena TFLM could allocate the model in
    arena_recommended: int  # with the margin the firmware header uses
    ops: list[str]
    num_operators: int
    invoke_us: float  # median host time of one invoke (one frame, or one window)
    invokes_per_decision: int  # frames per 1-s decision for a step model, 1 for a window
    recall: list[float | None]  # int8 TFLM recall by label id (None: no clip of the label)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.1f}%"

        return (
            f"{self.kind} model, {self.model_bytes:,} bytes, {self.num_operators} ops "
            f"({', '.join(self.ops)}); TFLM arena {self.arena_bytes:,} bytes "
            f"(header: {self.arena_recommended:,}); {self.invoke_us:.1f} us per invoke on the "
            f"host. On {self.clips} clips: int8 TFLM accuracy {pct(self.accuracy)}, float "
            f"{pct(self.float_accuracy)}, QAT {pct(self.qat_accuracy)}; top-1 agreement with "
            f"float {pct(self.agreement_float)}, with QAT {pct(self.agreement_qat)}."
        )


def stream_logits(exported: ExportedModel, sequences: np.ndarray,
                  interpreter: TflmInterpreter | None = None,
                  frontend: FrontendConfig | None = None,
                  progress: Progress | None = None) -> np.ndarray:
    """Runs clips through TFLM as the firmware does; returns dequantized logits.

    Args:
        exported: The converted model.
        sequences: ``[N, frames, features]`` float features.
        interpreter: Reuse one (its arena is reused; the state is reset per clip here).
        frontend: The front end the features came from: they are quantized as the device
            quantizes its front end's outputs (:class:`FeatureQuantizer`).
        progress: advanced by one per clip.

    Returns:
        ``[N, frames, labels]`` for a step model (the output after every frame), ``[N, labels]``
        for a window model.

    Raises:
        ValueError: a state's input and output quantizations differ.
    """
    sequences = np.asarray(sequences, np.float32)
    if interpreter is None:
        interpreter = TflmInterpreter(exported.tflite, find_smallest_arena(exported.tflite) * 2)
    runner = TflmStepRunner(interpreter, exported)
    quantizer = FeatureQuantizer.for_model(runner.frame_tensor, frontend)
    if exported.kind == "window":  # one invoke per clip, its whole window
        out = dequantize(runner.run(quantizer.quantize(sequences)).outputs, runner.output_tensor)
        if progress is not None:
            progress.advance(len(sequences))
        return out
    out = np.zeros((*sequences.shape[:2], exported.num_labels), np.float32)
    for n, clip in enumerate(sequences):
        runner.reset()  # every clip from a zero state
        out[n] = dequantize(runner.run(quantizer.quantize(clip)).outputs, runner.output_tensor)
        if progress is not None:
            progress.advance()
    return out


def clip_predictions(logits: np.ndarray) -> np.ndarray:
    """Top-1 label per clip: the last frame's logits for a streamed clip."""
    return np.argmax(logits[:, -1] if logits.ndim == 3 else logits, axis=-1)


def _keras_predictions(model: keras.Model | None, x: np.ndarray) -> np.ndarray | None:
    if model is None:
        return None
    return clip_predictions(np.asarray(model.predict(x, batch_size=256, verbose=0)))


def verify_export(
    exported: ExportedModel,
    features: np.ndarray,
    labels: np.ndarray,
    float_model: keras.Model | None = None,
    qat_model: keras.Model | None = None,
    frontend: FrontendConfig | None = None,
    verbose: int = 0,
) -> VerifyReport:
    """Streams every test clip through TFLM and reports accuracy, agreement and cost.

    Args:
        exported: From :func:`firmware_export.convert.convert_model`.
        features: ``[N, frames, features]`` float test features.
        labels: ``[N]`` integer labels.
        float_model, qat_model: Keras models to measure top-1 agreement with.
        frontend: The front end of the features (quantized as on the device; see
            :func:`stream_logits`).
        verbose: progress line of the clips on TFLM (:mod:`ghost_keras.progress`).

    Raises:
        TflmError: TFLM cannot allocate or run the model (message says why).
        ValueError: a state's input and output quantizations differ.
    """
    features = np.asarray(features, np.float32)
    labels = np.asarray(labels).reshape(-1)
    if len(features) != len(labels) or not len(labels):
        raise ValueError(f"need as many labels as clips (> 0); got {len(features)} clips, "
                         f"{len(labels)} labels.")
    arena = find_smallest_arena(exported.tflite)
    interpreter = TflmInterpreter(exported.tflite, recommended_arena_bytes(arena))
    with Progress("TFLM verification", len(features), unit="clips", verbose=verbose) as bar:
        logits = stream_logits(exported, features, interpreter, frontend, progress=bar)
    invoke_us = time_invoke(interpreter, repeats=200).median_us
    tflm_pred = clip_predictions(logits)
    float_pred = _keras_predictions(float_model, features)
    qat_pred = _keras_predictions(qat_model, features)

    def rate(a: np.ndarray | None, b: np.ndarray) -> float | None:
        return None if a is None else float(np.mean(a == b))

    return VerifyReport(
        kind=exported.kind,
        clips=len(labels),
        accuracy=float(np.mean(tflm_pred == labels)),
        agreement_float=rate(float_pred, tflm_pred),
        agreement_qat=rate(qat_pred, tflm_pred),
        float_accuracy=rate(float_pred, labels),
        qat_accuracy=rate(qat_pred, labels),
        model_bytes=exported.size_bytes,
        arena_bytes=arena,
        arena_recommended=recommended_arena_bytes(arena),
        ops=list(interpreter.info.ops),
        num_operators=interpreter.info.num_operators,
        invoke_us=invoke_us,
        invokes_per_decision=exported.frames if exported.kind == "step" else 1,
        recall=[float(np.mean(tflm_pred[labels == i] == i)) if np.any(labels == i) else None
                for i in range(logits.shape[-1])],
    )
