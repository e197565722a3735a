"""Scores of a model over a long stream: the exported int8 model on TFLM, run as the firmware
does, and the float Keras references (step model, windowed re-run). The whole pipeline is
described in :mod:`firmware_export.evaluate`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ghost_keras  # noqa: F401  (selects tf-keras before TensorFlow loads)
import numpy as np

from firmware_export.convert import ExportedModel
from firmware_export.feature_quantizer import FeatureQuantizer
from firmware_export.pipeline import EXPORT_JSON, TFLITE_FILE
from firmware_export.tflm import TflmArenaTooSmallError, TflmInterpreter
from firmware_export.tflm_step_runner import TflmStepRunner
from ghost_keras.data.audio import read_clip
from ghost_keras.features import FrontendConfig, to_int16
from ghost_keras.features.stream import stream_features
from ghost_keras.progress import Progress

#: Strides between two re-runs of the float windowed baseline (100 ms at a 20 ms stride).
DEFAULT_FLOAT_WINDOW_EVERY = 5
#: The int8 softmax output's quantization: probability = (int8 + 128) / 256.
SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1.0 / 256.0, -128
#: Frames between two progress updates of a step run (5 s of audio at 20 ms strides): the
#: runner runs a block at a time, its state carried across blocks.
PROGRESS_FRAMES = 250
#: Windows quantized and run together by :func:`run_tflm`.
_WINDOW_BATCH = 1024


class StreamError(ValueError):
    """A stream evaluation that cannot run as asked; the message says what to do."""


# ------------------------------------------------------------------------------------ loading


@dataclass
class LoadedExport:
    """An exported model with what the stream needs of ``export.json``."""

    exported: ExportedModel
    labels: list[str]
    frontend: FrontendConfig
    info: dict[str, Any]
    export_dir: Path | None = None


def _exported_from_dict(tflite: bytes, model: dict[str, Any]) -> ExportedModel:
    return ExportedModel(
        tflite=tflite, kind=model["kind"], frames=int(model["frames"]),
        feature_dim=int(model["feature_dim"]), num_labels=int(model["num_labels"]),
        state_sizes=[int(s) for s in model.get("state_sizes", [])],
        state_ranges=[tuple(r) for r in model.get("state_ranges", [])],
        input_roles=[int(r) for r in model.get("input_roles", [0])],
        output_roles=[int(r) for r in model.get("output_roles", [0])],
        source=str(model.get("source", "float")),
    )


def load_export(source: str | os.PathLike | tuple[bytes, dict] | LoadedExport) -> LoadedExport:
    """The exported int8 model of a run.

    Args:
        source: a run folder (its ``export/``), an export folder (``model_int8.tflite`` +
            ``export.json``), or ``(tflite_bytes, info)`` with ``info`` as in ``export.json``
            (``"model"`` = ``ExportedModel.to_dict()``, ``"frontend"``, ``"labels"``).

    Raises:
        StreamError: the run was not exported (says to run ``ghost-kws export RUN``).
    """
    if isinstance(source, LoadedExport):
        return source
    export_dir = None
    if isinstance(source, tuple):
        tflite, info = source
    else:
        path = Path(source)
        candidates = [path / "export", path]
        export_dir = next((d for d in candidates if (d / EXPORT_JSON).is_file()
                           and (d / TFLITE_FILE).is_file()), None)
        if export_dir is None:
            if not path.exists():
                raise StreamError(f"{path}: no such run or export folder")
            raise StreamError(
                f"{path} has no exported model ({path / 'export' / TFLITE_FILE} and "
                f"{EXPORT_JSON}): the run is not exported; run `ghost-kws export {path}` first"
            )
        import json

        info = json.loads((export_dir / EXPORT_JSON).read_text())
        tflite = (export_dir / TFLITE_FILE).read_bytes()
    missing = [k for k in ("model", "frontend", "labels") if k not in info]
    if missing:
        raise StreamError(f"export info lacks {missing}; re-export with `ghost-kws export RUN`")
    exported = _exported_from_dict(bytes(tflite), info["model"])
    return LoadedExport(exported, list(info["labels"]), FrontendConfig.from_dict(info["frontend"]),
                        info, export_dir)


def read_stream_audio(wav: str | os.PathLike | np.ndarray, sample_rate: int) -> np.ndarray:
    """int16 samples of a WAV/FLAC file (which must be mono 16-bit at ``sample_rate``; the
    error names the file and how to resample it) or of an array."""
    if isinstance(wav, (str, os.PathLike)):
        return read_clip(wav, sample_rate)
    return to_int16(np.asarray(wav), "stream audio")


# ------------------------------------------------------------------------------------ scores


@dataclass
class ScoreRun:
    """Scores of one model over a stream.

    Attributes:
        name: ``tflm_int8``, ``float_step``, ``float_window``...
        kind: ``step`` or ``window``.
        times_ms: int64 [T], the firmware timestamp of each result.
        scores: uint8 [T, labels], int8 softmax + 128 (0..255).
        every: frames between two results.
        invokes: model runs.
        host_seconds: time spent running the model (TFLM: ``Invoke()`` only; float: Keras).
        score_scale, score_zero_point: the int8 score tensor's quantization.
    """

    name: str
    kind: str
    times_ms: np.ndarray
    scores: np.ndarray
    every: int
    invokes: int
    host_seconds: float
    score_scale: float = SOFTMAX_SCALE
    score_zero_point: int = SOFTMAX_ZERO_POINT


def probabilities_to_scores(p: np.ndarray) -> np.ndarray:
    """Float probabilities -> uint8 scores as the int8 softmax output gives them (+128)."""
    return np.clip(np.round(np.asarray(p, np.float64) * 256.0), 0, 255).astype(np.uint8)


def _interpreter(tflite: bytes) -> TflmInterpreter:
    arena = 32 * 1024
    while True:
        try:
            return TflmInterpreter(tflite, arena)
        except TflmArenaTooSmallError:
            if arena >= 64 * 1024 * 1024:
                raise
            arena *= 2


def _result_frames(num_frames: int, every: int) -> np.ndarray:
    """Frames after which the firmware invokes (``++frames_seen % every == 0``)."""
    return np.arange(every - 1, num_frames, every)


def _padded_windows(features: np.ndarray, frames: int) -> np.ndarray:
    """A view ``[N, F, frames]``: entry ``k`` is the window of ``frames`` frames ending at
    frame ``k``, zero-padded before the start (the firmware's zero-point start)."""
    padded = np.concatenate([np.zeros((frames - 1, features.shape[1]), features.dtype), features])
    return np.lib.stride_tricks.sliding_window_view(padded, frames, axis=0)


def run_tflm(exported: ExportedModel, features: np.ndarray, times_ms: np.ndarray,
             every: int = 1, name: str = "tflm_int8",
             frontend: FrontendConfig | None = None, verbose: int = 0) -> ScoreRun:
    """Runs the int8 model on TFLM over the stream's features as the firmware does.

    Step models: one invoke per frame, state carried for the whole stream. Window models: the
    last ``exported.frames`` frames every ``every`` frames (zero-padded at the start).
    ``frontend``: the features' front end, whose outputs are quantized as the device does
    (:class:`~firmware_export.feature_quantizer.FeatureQuantizer`). ``verbose``: a progress
    line (:mod:`ghost_keras.progress`).
    """
    if every < 1:
        raise StreamError(f"every={every}: run the window model every 1 or more strides")
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or features.shape[1] != exported.feature_dim:
        raise StreamError(f"features {features.shape} do not fit the model "
                          f"({exported.feature_dim} features per frame)")
    runner = TflmStepRunner(_interpreter(exported.tflite), exported)
    frame_t, scores_t = runner.frame_tensor, runner.output_tensor
    quantizer = FeatureQuantizer.for_model(frame_t, frontend)
    if np.dtype(scores_t.dtype) != np.int8:
        raise StreamError(f"the score output is {scores_t.dtype}, expected int8: re-export")
    with Progress(name, unit="invokes", verbose=verbose) as bar:
        if exported.kind == "step":
            every = 1
            ends = np.arange(len(features))
            fq = quantizer.quantize(features)
            blocks = []
            for start in range(0, len(fq), PROGRESS_FRAMES):
                bar.update(start, len(fq))
                blocks.append(runner.run(fq[start:start + PROGRESS_FRAMES]).outputs)
            out = np.concatenate(blocks or [np.empty((0, exported.num_labels), np.int8)])
        elif exported.kind == "window":
            ends = _result_frames(len(features), every)
            view = _padded_windows(features, exported.frames)
            # Quantized a batch at a time: all of an hour's windows at once would take gigabytes.
            blocks = []
            for i in range(0, len(ends), _WINDOW_BATCH):
                bar.update(i, len(ends))
                batch = view[ends[i:i + _WINDOW_BATCH]].transpose(0, 2, 1)  # [n, frames, F]
                blocks.append(runner.run(quantizer.quantize(batch)).outputs)
            out = np.concatenate(blocks or [np.empty((0, exported.num_labels), np.int8)])
        else:
            raise StreamError(f"unknown model kind {exported.kind!r} (expected step or window)")
        bar.update(len(ends), len(ends))
    scores = (out.astype(np.int16) + 128).astype(np.uint8)
    return ScoreRun(name, exported.kind, np.asarray(times_ms)[ends], scores, every, len(ends),
                    runner.invoke_seconds, float(scores_t.scale), int(scores_t.zero_point))


def stream_scores(source: str | os.PathLike | tuple[bytes, dict] | LoadedExport,
                  wav: str | os.PathLike | np.ndarray, *, every: int = 1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the exported int8 model over a long WAV, on TFLM as the firmware runs it.

    Args:
        source: run folder, export folder or ``(tflite, info)`` (see :func:`load_export`).
        wav: the stream (mono 16-bit at the front end's rate) or its int16 samples.
        every: window models only: frames between two re-runs of the window.

    Returns:
        ``(times_ms int64 [T], scores uint8 [T, labels])`` (int8 softmax + 128).
    """
    loaded = load_export(source)
    audio = read_stream_audio(wav, loaded.frontend.sample_rate)
    features, times = stream_features(audio, loaded.frontend)
    run = run_tflm(loaded.exported, features, times, every=every, frontend=loaded.frontend)
    return run.times_ms, run.scores


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _outputs_probabilities(model) -> bool:
    import tf_keras as keras

    last = model.layers[-1]
    return isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax)


def run_float_step(model, features: np.ndarray, times_ms: np.ndarray, chunk: int = 1024,
                   name: str = "float_step", verbose: int = 0) -> ScoreRun:
    """The float Keras model as a step model (``ghost_keras.streaming.step_model``) over the
    whole stream, its state carried from the first frame to the last (never reset).

    Args:
        model: The float Keras model of the run.
        features: ``[T, features]`` of the stream.
        times_ms: ``[T]`` firmware timestamps of the frames.
        chunk: Frames per compiled scan (the state is carried across chunks).
        name: The run's name in tables.
        verbose: A progress line (:mod:`ghost_keras.progress`).
    """
    from ghost_keras.step_runner import KerasStepRunner
    from ghost_keras.streaming import step_model

    runner = KerasStepRunner(step_model(model), chunk=chunk)
    t0 = time.perf_counter()
    frames = np.asarray(features, np.float32)[None]
    blocks = []
    with Progress(name, len(features), unit="frames", verbose=verbose) as bar:
        for start in range(0, len(features), chunk):
            blocks.append(runner.run(frames[:, start:start + chunk]).outputs[0])
            bar.update(start + len(blocks[-1]))
    logits = (np.concatenate(blocks) if blocks
              else np.zeros((0, int(runner.step.outputs[0].shape[-1])), np.float32))
    seconds = time.perf_counter() - t0
    p = logits if _outputs_probabilities(model) else _softmax(logits)
    return ScoreRun(name, "step", np.asarray(times_ms), probabilities_to_scores(p), 1,
                    len(features), seconds)


def run_float_window(model, features: np.ndarray, times_ms: np.ndarray,
                     every: int = DEFAULT_FLOAT_WINDOW_EVERY, batch: int = 512,
                     name: str | None = None, verbose: int = 0) -> ScoreRun:
    """The windowed re-run baseline: ``softmax(model(last frames))`` every ``every`` strides
    (any model; zero-padded before the first full window, as the firmware). ``verbose``: a
    progress line (:mod:`ghost_keras.progress`)."""
    if every < 1:
        raise StreamError(f"every={every} must be >= 1")
    name = name or f"float_window_every{every}"
    frames = int(model.input_shape[1])
    features = np.asarray(features, np.float32)
    ends = _result_frames(len(features), every)
    view = _padded_windows(features, frames)
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False))  # eager Keras RNNs are slow
    outs = []
    t0 = time.perf_counter()
    with Progress(name, len(ends), unit="windows", verbose=verbose) as bar:
        for start in range(0, len(ends), batch):
            windows = np.ascontiguousarray(view[ends[start : start + batch]].transpose(0, 2, 1))
            n = len(windows)
            if n < batch and start:  # pad the last batch: one traced shape
                windows = np.concatenate([windows, np.zeros((batch - n, *windows.shape[1:]),
                                                            np.float32)])
            outs.append(np.asarray(call(tf.constant(windows)))[:n])
            bar.update(start + n)
    seconds = time.perf_counter() - t0
    logits = np.concatenate(outs) if outs else np.zeros((0, model.output_shape[-1]), np.float32)
    p = logits if _outputs_probabilities(model) else _softmax(logits)
    return ScoreRun(name, "window", np.asarray(times_ms)[ends],
                    probabilities_to_scores(p), every, len(ends), seconds)
