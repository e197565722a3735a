"""Streaming evaluation on long audio: the exported int8 model on TFLM, run as the firmware does.

What happens to a long WAV (docs/design.md, "Always listening"):

1. **Front end, once, continuously**: ``make_frontend(cfg).compute(audio)`` over the whole
   stream, so the stateful microfrontend's noise estimate and gain run on for minutes as on the
   device. Frame ``k`` gets the firmware's timestamp, the time of the stride read that completes
   it: ``stride_ms * ceil((k * stride + window) / stride)`` (for 30/20 ms: ``20 k + 40`` ms).
2. **Model**:

   - *step model* (recurrent, int8 on TFLM): one invoke per frame; the int8 state output bytes
     are copied into the state input (never reset for the whole stream), as ``kws_main.cc``.
   - *window model* (DS-CNN): every ``every`` frames the last ``frames`` frames are run; before
     the first full window the window is zero-padded (the firmware's zero-point start).
   - float references from the run's Keras model: ``float_step`` (``step_model(model)`` with its
     float state carried the whole stream) and ``float_window`` (``softmax(model(last frames))``
     every ``k`` strides, any model; the windowed re-run baseline).

   Scores are softmax scores as uint8 0..255 (int8 + 128, the recognizer's units; a float
   probability ``p`` becomes ``clip(round(256 p), 0, 255)``, what the int8 softmax gives).
3. **Detections**: TFLM micro_speech's ``RecognizeCommands`` (:mod:`firmware_export.recognizer`)
   with the firmware's settings ``RECOGNIZER_DEFAULTS`` (1 s average, p > 0.8, 1.5 s
   suppression, at least 3 results) and the firmware's buffer capacity.
4. **Matching** (:func:`match`): a keyword of the truth file is a *target*; unknown words and
   silence are not. A detection *hits* a target when its label equals the target's and its time
   lies in ``[start, end + tolerance_ms]`` (default 1000 ms: the recognizer averages the last
   second, so a detection comes up to about a second after the word). Each target takes at most
   one detection and each detection at most one target: first every detection, in time order,
   takes the earliest not yet hit target of its label whose window holds it; then each
   detection left takes the earliest target still without any detection whose window holds it,
   as a *wrong label*. Every detection left is a *false accept* (split by where it fell: a
   repeat on an already detected keyword, an unknown word (within its ``[start, end +
   tolerance]``), a silence item (its own span), or a gap). Silence/unknown detections of the
   recognizer are never reported, so they count nowhere. A target
   without a hit is a false rejection: ``FRR = (misses + wrong labels) / targets``;
   ``FA/h = false accepts / hours of audio``. Counts are also given per keyword and per part
   of the stream (first half / second half by default), so a drift of the carried state shows.
5. **DET curve**: FRR and FA/h over the detection probability (the recognizer rerun at each).
6. **Cost per second of audio**: MACs (``profile_model(model).macs_per_frame`` x frames per
   second for a step model; window MACs x re-runs per second otherwise) and host time per
   second of audio: for the TFLM run the ``Invoke()`` calls only (reference kernels on a PC: a
   relative measure, and noisy on a shared machine); for the float runs the Keras time.

Example:

>>> from firmware_export.stream import stream_eval, print_table
>>> result = stream_eval("runs/gru", "long.wav", "truth.csv")   # doctest: +SKIP
>>> print_table(result)                                         # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import ghost_keras  # noqa: F401  (selects tf-keras before TensorFlow loads)
import numpy as np

from firmware_export.convert import ExportedModel
from firmware_export.feature_quantizer import FeatureQuantizer
from firmware_export.pipeline import EXPORT_JSON, RECOGNIZER_DEFAULTS, TFLITE_FILE
from firmware_export.recognizer import (
    Detection,
    RecognizeCommands,
    default_ignore_labels,
    probability_to_threshold,
    recognizer_capacity,
)
from firmware_export.tflm import (
    TflmArenaTooSmallError,
    TflmInterpreter,
    quantize,
)
from firmware_export.verify import check_state_quantization
from ghost_keras.data.audio import read_clip
from ghost_keras.data.long_stream import TruthItem, read_truth
from ghost_keras.features import FrontendConfig, to_int16
from ghost_keras.features.stream import frame_times_ms, stream_features
from ghost_keras.fileio import atomic_write_json

#: Default time tolerance after a keyword's end (see :func:`match`).
DEFAULT_TOLERANCE_MS = 1000
#: Detection probabilities of the DET curve.
DEFAULT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
#: Strides between two re-runs of the float windowed baseline (100 ms at a 20 ms stride).
DEFAULT_FLOAT_WINDOW_EVERY = 5
#: The int8 softmax output's quantization: probability = (int8 + 128) / 256.
SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1.0 / 256.0, -128

MATCH_RULE = (
    "a detection hits a truth keyword of its label when its time lies in [start, end + "
    "tolerance]; each truth keyword takes at most one detection and each detection one truth "
    "keyword (hits first, in time order, earliest keyword first; then a detection left takes "
    "the earliest keyword still without a detection as a wrong label); every other detection "
    "is a false accept; unknown words and silence are not targets"
)


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
             frontend: FrontendConfig | None = None) -> ScoreRun:
    """Runs the int8 model on TFLM over the stream's features as the firmware does.

    Step models: one invoke per frame, state carried for the whole stream. Window models: the
    last ``exported.frames`` frames every ``every`` frames (zero-padded at the start).
    ``frontend``: the features' front end, whose outputs are quantized as the device does
    (:class:`~firmware_export.feature_quantizer.FeatureQuantizer`).
    """
    if every < 1:
        raise StreamError(f"every={every}: run the window model every 1 or more strides")
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or features.shape[1] != exported.feature_dim:
        raise StreamError(f"features {features.shape} do not fit the model "
                          f"({exported.feature_dim} features per frame)")
    interp = _interpreter(exported.tflite)
    raw = interp._interp  # the bare wheel calls: the wrapper's checks cost more than a step
    frame_t = interp.inputs[exported.frame_input]
    scores_t = interp.outputs[exported.logits_output]
    quantizer = FeatureQuantizer.for_model(frame_t, frontend)
    if np.dtype(scores_t.dtype) != np.int8:
        raise StreamError(f"the score output is {scores_t.dtype}, expected int8: re-export")
    invoke_s = 0.0
    perf = time.perf_counter

    def invoke() -> None:
        nonlocal invoke_s
        t0 = perf()
        try:
            raw.invoke()
        except RuntimeError:
            interp.invoke()  # raises TflmError with TFLM's log
        invoke_s += perf() - t0

    if exported.kind == "step":
        every = 1
        check_state_quantization(exported, interp)
        fq = quantizer.quantize(features).reshape(len(features), *frame_t.shape)
        fq = np.ascontiguousarray(fq)
        states = [np.ascontiguousarray(quantize(np.zeros(t.shape, np.float32), t))
                  for t in (interp.inputs[i] for i in exported.state_inputs)]
        out = np.empty((len(features), exported.num_labels), np.int8)
        fi, si, so, li = (exported.frame_input, exported.state_inputs, exported.state_outputs,
                          exported.logits_output)
        for t in range(len(fq)):
            raw.set_input(fq[t], fi)
            for s, index in zip(states, si):
                raw.set_input(s, index)
            invoke()
            out[t] = np.asarray(raw.get_output(li)).reshape(-1)
            states = [np.array(raw.get_output(i)) for i in so]
        ends = np.arange(len(features))
    elif exported.kind == "window":
        ends = _result_frames(len(features), every)
        view = _padded_windows(features, exported.frames)
        out = np.empty((len(ends), exported.num_labels), np.int8)
        for n, end in enumerate(ends):
            window = view[end].T  # [frames, F]
            raw.set_input(np.ascontiguousarray(quantizer.quantize(window).reshape(frame_t.shape)),
                          exported.frame_input)
            invoke()
            out[n] = np.asarray(raw.get_output(exported.logits_output)).reshape(-1)
    else:
        raise StreamError(f"unknown model kind {exported.kind!r} (expected step or window)")
    scores = (out.astype(np.int16) + 128).astype(np.uint8)
    return ScoreRun(name, exported.kind, np.asarray(times_ms)[ends], scores, every, len(ends),
                    invoke_s, float(scores_t.scale), int(scores_t.zero_point))


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
                   name: str = "float_step") -> ScoreRun:
    """The float Keras model as a step model (``ghost_keras.streaming.step_model``) over the
    whole stream, its state carried from the first frame to the last (never reset)."""
    import tensorflow as tf

    from ghost_keras.streaming import step_model, zero_states

    step = step_model(model)
    states = [tf.constant(s) for s in zero_states(step, 1)]
    num_states = len(states)

    @tf.function
    def run_chunk(frames, *carry):
        def body(acc, frame):
            out = step([frame[None], *acc[1:]], training=False)
            return (out[0], *out[1:])

        init = (tf.zeros([1, int(step.outputs[0].shape[-1])]), *carry)
        outs = tf.scan(body, frames, initializer=init)
        return outs[0][:, 0], [o[-1] for o in outs[1:]]

    features = np.asarray(features, np.float32)
    logits = []
    t0 = time.perf_counter()
    for start in range(0, len(features), chunk):
        out, states = run_chunk(tf.constant(features[start : start + chunk]), *states)
        logits.append(out.numpy())
        assert len(states) == num_states
    seconds = time.perf_counter() - t0
    logits = np.concatenate(logits) if logits else np.zeros((0, step.outputs[0].shape[-1]))
    p = logits if _outputs_probabilities(model) else _softmax(logits)
    return ScoreRun(name, "step", np.asarray(times_ms), probabilities_to_scores(p), 1,
                    len(features), seconds)


def run_float_window(model, features: np.ndarray, times_ms: np.ndarray,
                     every: int = DEFAULT_FLOAT_WINDOW_EVERY, batch: int = 512,
                     name: str | None = None) -> ScoreRun:
    """The windowed re-run baseline: ``softmax(model(last frames))`` every ``every`` strides
    (any model; zero-padded before the first full window, as the firmware)."""
    if every < 1:
        raise StreamError(f"every={every} must be >= 1")
    frames = int(model.input_shape[1])
    features = np.asarray(features, np.float32)
    ends = _result_frames(len(features), every)
    view = _padded_windows(features, frames)
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False))  # eager Keras RNNs are slow
    outs = []
    t0 = time.perf_counter()
    for start in range(0, len(ends), batch):
        windows = np.ascontiguousarray(view[ends[start : start + batch]].transpose(0, 2, 1))
        n = len(windows)
        if n < batch and start:  # pad the last batch: one traced shape
            windows = np.concatenate([windows, np.zeros((batch - n, *windows.shape[1:]),
                                                        np.float32)])
        outs.append(np.asarray(call(tf.constant(windows)))[:n])
    seconds = time.perf_counter() - t0
    logits = np.concatenate(outs) if outs else np.zeros((0, model.output_shape[-1]), np.float32)
    p = logits if _outputs_probabilities(model) else _softmax(logits)
    return ScoreRun(name or f"float_window_every{every}", "window", np.asarray(times_ms)[ends],
                    probabilities_to_scores(p), every, len(ends), seconds)


# ------------------------------------------------------------------------------------ detection


def recognizer_settings(settings: dict[str, Any] | None = None,
                        score_scale: float = SOFTMAX_SCALE,
                        score_zero_point: int = SOFTMAX_ZERO_POINT) -> dict[str, int]:
    """The firmware's recognizer settings (``RECOGNIZER_DEFAULTS`` + overrides) with the
    threshold in score units 0..255 (from ``detection_probability`` unless
    ``detection_threshold`` is given)."""
    cfg = {**RECOGNIZER_DEFAULTS, **(settings or {})}
    unknown = set(cfg) - {"average_window_ms", "detection_probability", "detection_threshold",
                          "suppression_ms", "minimum_count"}
    if unknown:
        raise StreamError(f"unknown recognizer settings {sorted(unknown)}")
    if settings and "detection_threshold" in settings:
        threshold = int(settings["detection_threshold"])
    else:
        threshold = probability_to_threshold(float(cfg["detection_probability"]), score_scale,
                                             score_zero_point, "int8")
    return {"average_window_ms": int(cfg["average_window_ms"]), "detection_threshold": threshold,
            "suppression_ms": int(cfg["suppression_ms"]),
            "minimum_count": int(cfg["minimum_count"])}


def detect(scores: np.ndarray, times_ms: Sequence[int], labels: Sequence[str],
           settings: dict[str, Any] | None = None, *, period_ms: int | None = None,
           score_scale: float = SOFTMAX_SCALE,
           score_zero_point: int = SOFTMAX_ZERO_POINT) -> list[Detection]:
    """Detections of the firmware's ``RecognizeCommands`` over a stream's scores.

    Args:
        scores: uint8 (or int8) ``[T, labels]``.
        times_ms: ``T`` timestamps (non-decreasing).
        labels: the model's labels; silence and unknown are never reported.
        settings: overrides of ``RECOGNIZER_DEFAULTS`` (``detection_probability`` or
            ``detection_threshold`` in score units, ``average_window_ms``, ``suppression_ms``,
            ``minimum_count``).
        period_ms: time between results, for the firmware's buffer capacity (default: the
            median step of ``times_ms``).
    """
    cfg = recognizer_settings(settings, score_scale, score_zero_point)
    times = np.asarray(times_ms, np.int64)
    if period_ms is None:
        period_ms = int(np.median(np.diff(times))) if len(times) > 1 else cfg["average_window_ms"]
    recognizer = RecognizeCommands(
        labels, capacity=recognizer_capacity(cfg["average_window_ms"], max(1, period_ms)), **cfg)
    return recognizer.detections(np.asarray(scores), times)


# ------------------------------------------------------------------------------------ matching


def _truth_items(truth: str | os.PathLike | Sequence[TruthItem],
                 labels: Sequence[str] | None = None) -> list[TruthItem]:
    if isinstance(truth, (str, os.PathLike)):
        return read_truth(truth, labels)
    items = list(truth)
    if labels is not None:
        bad = sorted({t.label for t in items} - set(labels))
        if bad:
            raise StreamError(f"truth labels {bad} are not among the model's labels {list(labels)}")
    return items


def _rate(num: int, den: int | float) -> float | None:
    return None if not den else num / den


def match(detections: Sequence[Detection], truth: str | os.PathLike | Sequence[TruthItem], *,
          tolerance_ms: int = DEFAULT_TOLERANCE_MS, duration_s: float | None = None,
          parts: int = 2, ignore_labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Scores detections against the ground truth (rule: see the module docstring, step 4).

    Args:
        detections: from :func:`detect` (any order; labels in ``ignore_labels`` are dropped).
        truth: items or a truth CSV.
        tolerance_ms: a detection may come this long after the keyword's end.
        duration_s: stream length for FA/h (default: the last truth end + tolerance, or the
            last detection).
        parts: split the stream into this many equal parts by position for ``by_part``.
        ignore_labels: labels that are not targets (default: silence and unknown).

    Returns:
        A JSON-able dict: ``targets, hits, misses, wrong_label, frr, miss_rate, detections,
        false_accepts, fa_per_hour, false_accepts_on {keyword, unknown, silence, gap}, hours,
        latency_ms {median, max} (detection time - keyword end, hits), per_keyword, by_part,
        events`` (every detection with its outcome) and ``rule``.
    """
    items = _truth_items(truth)
    all_labels = sorted({t.label for t in items} | {d.label for d in detections})
    ignore = set(default_ignore_labels(all_labels) if ignore_labels is None else ignore_labels)
    tol = int(tolerance_ms)
    targets = [i for i, t in enumerate(items) if t.label not in ignore]
    is_target = [t.label not in ignore for t in items]
    is_silence = [t.label in ignore and t.label.strip("_").lower() == "silence" for t in items]
    # Where a detection may fall for each item: [start, end + tolerance]; a silence item is
    # only its own span (it is never matched, only used to say where a false accept fell).
    win = [(t.start * 1000.0, t.end * 1000.0 + (0 if is_silence[i] else tol))
           for i, t in enumerate(items)]
    order = sorted(range(len(items)), key=lambda i: (items[i].start, i))
    starts = [win[i][0] for i in order]
    longest = max((win[i][1] - win[i][0] for i in order), default=0.0)

    def containing(t: float) -> list[int]:
        """Items whose window holds ``t``, earliest start first."""
        found = []
        j = bisect.bisect_right(starts, t) - 1
        while j >= 0 and starts[j] >= t - longest:
            if win[order[j]][1] >= t:
                found.append(order[j])
            j -= 1
        return found[::-1]

    dets = sorted((d for d in detections if d.label not in ignore), key=lambda d: d.time_ms)
    outcome: list[str | None] = [None] * len(dets)
    took: list[int | None] = [None] * len(dets)
    target_state: dict[int, str] = {}
    for n, d in enumerate(dets):  # hits
        for i in containing(d.time_ms):
            if is_target[i] and i not in target_state and items[i].label == d.label:
                target_state[i], outcome[n], took[n] = "hit", "hit", i
                break
    for n, d in enumerate(dets):  # wrong labels
        if outcome[n] is None:
            for i in containing(d.time_ms):
                if is_target[i] and i not in target_state:
                    target_state[i], outcome[n], took[n] = "wrong", "wrong_label", i
                    break
    for n, d in enumerate(dets):  # false accepts, by where they fell
        if outcome[n] is None:
            where = "gap"
            for i in containing(d.time_ms):
                where = "keyword" if is_target[i] else "silence" if is_silence[i] else "unknown"
                took[n] = None if is_silence[i] else i
                break
            outcome[n] = f"false_accept_{where}"

    if duration_s is None:
        ends = [it.end + tol / 1000.0 for it in items] + [d.time_ms / 1000.0 for d in dets]
        duration_s = max(ends) if ends else 0.0
    duration_s = float(duration_s)

    def summary(t_idx: list[int], d_idx: list[int], seconds: float) -> dict[str, Any]:
        hits = sum(target_state.get(i) == "hit" for i in t_idx)
        wrong = sum(target_state.get(i) == "wrong" for i in t_idx)
        misses = len(t_idx) - hits - wrong
        fa = [n for n in d_idx if outcome[n].startswith("false_accept")]
        hours = seconds / 3600.0
        return {
            "targets": len(t_idx), "hits": hits, "misses": misses, "wrong_label": wrong,
            "frr": _rate(misses + wrong, len(t_idx)), "miss_rate": _rate(misses, len(t_idx)),
            "detections": len(d_idx), "false_accepts": len(fa),
            "fa_per_hour": _rate(len(fa), hours), "hours": hours,
            "false_accepts_on": {w: sum(outcome[n] == f"false_accept_{w}" for n in fa)
                                 for w in ("keyword", "unknown", "silence", "gap")},
        }

    result = summary(targets, list(range(len(dets))), duration_s)
    latencies = [dets[n].time_ms - items[took[n]].end * 1000.0
                 for n in range(len(dets)) if outcome[n] == "hit"]
    result["latency_ms"] = ({"median": float(np.median(latencies)), "max": float(max(latencies))}
                            if latencies else None)
    per_keyword = {}
    for label in sorted({items[i].label for i in targets} | {d.label for d in dets}):
        t_idx = [i for i in targets if items[i].label == label]
        d_idx = [n for n, d in enumerate(dets) if d.label == label]
        row = summary(t_idx, d_idx, duration_s)
        per_keyword[label] = {k: row[k] for k in ("targets", "hits", "misses", "wrong_label",
                                                  "frr", "detections", "false_accepts")}
    result["per_keyword"] = per_keyword
    by_part = []
    parts = max(1, int(parts))
    for p in range(parts):
        lo, hi = duration_s * p / parts, duration_s * (p + 1) / parts
        last = p == parts - 1
        t_idx = [i for i in targets if lo <= items[i].start < hi or (last and items[i].start >= hi)]
        d_idx = [n for n, d in enumerate(dets)
                 if lo <= d.time_ms / 1000.0 < hi or (last and d.time_ms / 1000.0 >= hi)]
        row = summary(t_idx, d_idx, hi - lo)
        row.update(start_s=lo, end_s=hi)
        by_part.append(row)
    result["by_part"] = by_part
    result["events"] = [{"time_ms": d.time_ms, "label": d.label, "score": d.score,
                         "outcome": outcome[n], "truth_index": took[n],
                         "truth_label": items[took[n]].label if took[n] is not None else None}
                        for n, d in enumerate(dets)]
    result["tolerance_ms"] = tol
    result["duration_s"] = duration_s
    result["rule"] = MATCH_RULE
    return result


def compare_detections(a: Sequence[Detection], b: Sequence[Detection],
                       within_ms: int = 500) -> dict[str, Any]:
    """How alike two detection lists are: pairs of the same label within ``within_ms``
    (greedy in time order, one to one); ``agreement = both / (both + only_a + only_b)``."""
    used = set()
    both = 0
    for d in sorted(a, key=lambda d: d.time_ms):
        best = None
        for j, e in enumerate(b):
            if j in used or e.label != d.label or abs(e.time_ms - d.time_ms) > within_ms:
                continue
            if best is None or abs(e.time_ms - d.time_ms) < abs(b[best].time_ms - d.time_ms):
                best = j
        if best is not None:
            used.add(best)
            both += 1
    only_a, only_b = len(a) - both, len(b) - both
    total = both + only_a + only_b
    return {"both": both, "only_a": only_a, "only_b": only_b, "within_ms": within_ms,
            "agreement": both / total if total else 1.0}


def argmax_agreement(a: ScoreRun, b: ScoreRun) -> dict[str, Any]:
    """Share of common timestamps where both runs have the same top label."""
    common, ia, ib = np.intersect1d(a.times_ms, b.times_ms, return_indices=True)
    if not len(common):
        return {"frames": 0, "agreement": None}
    same = np.argmax(a.scores[ia], axis=1) == np.argmax(b.scores[ib], axis=1)
    return {"frames": int(len(common)), "agreement": float(same.mean())}


# ------------------------------------------------------------------------------------ DET


def _det_points(scores: np.ndarray, times_ms: Sequence[int], items: list[TruthItem],
                thresholds: Sequence[float], labels: Sequence[str],
                settings: dict[str, Any] | None, tolerance_ms: int, duration_s: float | None,
                period_ms: int | None, score_scale: float, score_zero_point: int,
                parts: int = 1) -> tuple[list[dict[str, Any]], dict[float, list[Detection]]]:
    base = {k: v for k, v in (settings or {}).items()
            if k not in ("detection_probability", "detection_threshold")}
    curve, found = [], {}
    for p in thresholds:
        dets = detect(scores, times_ms, labels, {**base, "detection_probability": float(p)},
                      period_ms=period_ms, score_scale=score_scale,
                      score_zero_point=score_zero_point)
        found[float(p)] = dets
        m = match(dets, items, tolerance_ms=tolerance_ms, duration_s=duration_s, parts=parts)
        point = {"probability": float(p),
                 "threshold": probability_to_threshold(float(p), score_scale,
                                                       score_zero_point, "int8"),
                 **{k: m[k] for k in ("frr", "fa_per_hour", "hits", "misses",
                                      "wrong_label", "false_accepts", "targets")}}
        if parts > 1:  # drift at every threshold, not only at the firmware's
            point["by_part"] = [{k: b[k] for k in ("frr", "fa_per_hour", "targets",
                                                   "false_accepts")} for b in m["by_part"]]
        curve.append(point)
    return curve, found


def det_curve(scores: np.ndarray, times_ms: Sequence[int],
              truth: str | os.PathLike | Sequence[TruthItem], thresholds: Sequence[float] =
              DEFAULT_THRESHOLDS, *, labels: Sequence[str], settings: dict[str, Any] | None = None,
              tolerance_ms: int = DEFAULT_TOLERANCE_MS, duration_s: float | None = None,
              period_ms: int | None = None, score_scale: float = SOFTMAX_SCALE,
              score_zero_point: int = SOFTMAX_ZERO_POINT) -> list[dict[str, Any]]:
    """FRR and FA/h at each detection probability (the recognizer rerun with the rest of
    ``settings`` unchanged). Returns one dict per threshold, in the given order: ``probability,
    threshold`` (score units), ``frr, fa_per_hour, hits, misses, wrong_label, false_accepts,
    targets``."""
    return _det_points(scores, times_ms, _truth_items(truth), thresholds, labels, settings,
                       tolerance_ms, duration_s, period_ms, score_scale, score_zero_point)[0]


def plot_det(curves: dict[str, list[dict[str, Any]]], path: str | os.PathLike,
             title: str = "", mark_probability: float | None = None) -> Path:
    """FRR vs FA/h, one line per run, each threshold labelled; PNG written atomically."""
    from ghost_keras.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name, curve in curves.items():
        pts = [(c["fa_per_hour"], c["frr"], c["probability"]) for c in curve
               if c["fa_per_hour"] is not None and c["frr"] is not None]
        if not pts:
            continue
        xs, ys, ps = zip(*pts)
        (line,) = ax.plot(xs, ys, "o-", label=name, ms=4)
        for x, y, p in zip(xs, ys, ps):
            if mark_probability is not None and abs(p - mark_probability) < 1e-9:
                ax.plot([x], [y], "s", color=line.get_color(), ms=9, mfc="none")
            ax.annotate(f"{p:g}", (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejection rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or "DET over the detection probability")
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------ wrapper


def _cost(run: ScoreRun, macs_per_invoke: int | None, stride_ms: int,
          audio_seconds: float) -> dict[str, Any]:
    invokes_per_s = 1000.0 / (stride_ms * run.every)
    return {
        "invokes_per_s": invokes_per_s,
        "macs_per_invoke": macs_per_invoke,
        "macs_per_s": None if macs_per_invoke is None else macs_per_invoke * invokes_per_s,
        "host_ms_per_s": 1000.0 * run.host_seconds / audio_seconds if audio_seconds else None,
    }


def stream_eval(run_dir: str | os.PathLike, wav: str | os.PathLike | np.ndarray,
                truth: str | os.PathLike | Sequence[TruthItem], *,
                tolerance_ms: int = DEFAULT_TOLERANCE_MS, every: int = 1,
                float_step: bool = True,
                float_window_every: int | None = DEFAULT_FLOAT_WINDOW_EVERY,
                settings: dict[str, Any] | None = None,
                thresholds: Sequence[float] | None = DEFAULT_THRESHOLDS, parts: int = 2,
                out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Streams a long WAV through a run's exported int8 model (TFLM) and its float model, and
    scores the detections against the truth.

    Args:
        run_dir: an exported training run (``ghost-kws export RUN`` first).
        wav: the stream (mono 16-bit PCM at the front end's rate).
        truth: its truth CSV (``label,start,end``) or items.
        tolerance_ms: see :func:`match`.
        every: window models on TFLM: frames between re-runs (1 = every stride).
        float_step: also run the float step model (recurrent models only).
        float_window_every: also run the float windowed baseline every this many strides
            (None: skip).
        settings: recognizer overrides of ``RECOGNIZER_DEFAULTS``.
        thresholds: detection probabilities of the DET curve (None: no curve).
        parts: the stream is split into this many parts by position (drift).
        out_dir: if given, ``stream_eval.json`` and ``det.png`` are written there.

    Returns:
        A JSON-able dict: ``runs`` (name -> ``kind, cost, metrics, det``), ``agreement`` (int8
        vs float: frame argmax and detections), the stream and truth counts, settings, rule.
    """
    from ghost_keras.profile import profile_model
    from ghost_keras.streaming import is_streamable
    from ghost_keras.training import load_run

    loaded = load_export(run_dir)
    model, run_config = load_run(run_dir)
    labels = loaded.labels
    fe = loaded.frontend
    audio = read_stream_audio(wav, fe.sample_rate)
    items = _truth_items(truth, labels)
    audio_seconds = len(audio) / fe.sample_rate
    t0 = time.perf_counter()
    features, times = stream_features(audio, fe)
    frontend_seconds = time.perf_counter() - t0
    profile = profile_model(model)

    runs: list[ScoreRun] = [run_tflm(loaded.exported, features, times, every=every,
                                     frontend=loaded.frontend)]
    if float_step and is_streamable(model):
        runs.append(run_float_step(model, features, times))
    if loaded.exported.kind == "window":
        runs.append(run_float_window(model, features, times, every=runs[0].every,
                                     name=f"float_window_every{runs[0].every}"))
    if float_window_every is not None and not (
            loaded.exported.kind == "window" and float_window_every == runs[0].every):
        runs.append(run_float_window(model, features, times, every=float_window_every))

    main_settings = recognizer_settings(settings, runs[0].score_scale, runs[0].score_zero_point)
    probability = (None if settings and "detection_threshold" in settings else
                   float({**RECOGNIZER_DEFAULTS, **(settings or {})}["detection_probability"]))
    out_runs: dict[str, Any] = {}
    detections: dict[str, list[Detection]] = {}
    for run in runs:
        macs = profile.macs_per_frame if run.kind == "step" else profile.macs_per_decision
        period = fe.stride_ms * run.every
        curve, found = _det_points(run.scores, run.times_ms, items, thresholds or (), labels,
                                   settings, tolerance_ms, audio_seconds, period,
                                   run.score_scale, run.score_zero_point, parts)
        if probability in found:  # the curve already ran the recognizer at this threshold
            dets = found[probability]
        else:
            dets = detect(run.scores, run.times_ms, labels, settings, period_ms=period,
                          score_scale=run.score_scale, score_zero_point=run.score_zero_point)
        detections[run.name] = dets
        entry = {
            "kind": run.kind, "every": run.every, "results": int(len(run.times_ms)),
            "cost": _cost(run, macs, fe.stride_ms, audio_seconds),
            "metrics": match(dets, items, tolerance_ms=tolerance_ms, duration_s=audio_seconds,
                             parts=parts),
        }
        if thresholds:
            entry["det"] = curve
        out_runs[run.name] = entry

    agreement = {}
    for other in runs[1:]:
        if other.kind == runs[0].kind and other.every == runs[0].every:
            agreement[f"{runs[0].name}_vs_{other.name}"] = {
                "argmax": argmax_agreement(runs[0], other),
                "detections": compare_detections(detections[runs[0].name], detections[other.name]),
            }
    counts = {"keywords": 0, "unknown": 0, "silence": 0}
    ignore = set(default_ignore_labels(labels))
    for it in items:
        key = ("silence" if it.label.strip("_").lower() == "silence" else "unknown"
               if it.label in ignore else "keywords")
        counts[key] += 1
    result = {
        "run_dir": str(run_dir), "wav": str(wav) if not isinstance(wav, np.ndarray) else None,
        "audio_seconds": audio_seconds, "labels": labels, "truth_counts": counts,
        "model": {"kind": loaded.exported.kind, "arch": run_config.get("train", {}).get("arch"),
                  "bytes": loaded.exported.size_bytes, "params": profile.params,
                  "macs_per_frame": profile.macs_per_frame,
                  "macs_per_decision": profile.macs_per_decision},
        "frontend": {"kind": fe.kind, "stride_ms": fe.stride_ms, "frames": int(len(features)),
                     "host_ms_per_s": 1000.0 * frontend_seconds / audio_seconds},
        "recognizer": {**main_settings, "detection_probability": probability},
        "tolerance_ms": int(tolerance_ms), "rule": MATCH_RULE,
        "runs": out_runs, "agreement": agreement,
    }
    if out_dir is not None:
        out = Path(out_dir)
        if thresholds:
            plot_det({n: r["det"] for n, r in out_runs.items()}, out / "det.png",
                     title=f"{Path(str(run_dir)).name}: {audio_seconds / 60:.1f} min, "
                           f"{counts['keywords']} keywords", mark_probability=probability)
            result["det_png"] = str(out / "det.png")
        result["json"] = str(atomic_write_json(out / "stream_eval.json", result))
    return result


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if j else str(c).ljust(w)  # noqa: E731
                               for j, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def format_table(result: dict[str, Any]) -> str:
    """The text :func:`print_table` prints."""
    rec = result["recognizer"]
    c = result["truth_counts"]
    lines = [
        f"stream {result.get('wav') or '(array)'}: {result['audio_seconds'] / 60:.1f} min, "
        f"{c['keywords']} keywords, {c['unknown']} unknown words, {c['silence']} silence items",
        f"recognizer: p > {rec['detection_probability']} (score > {rec['detection_threshold']}), "
        f"average {rec['average_window_ms']} ms, suppression {rec['suppression_ms']} ms, "
        f"minimum {rec['minimum_count']}; tolerance {result['tolerance_ms']} ms after the word",
        "",
    ]
    header = ("run", "hits", "miss", "wrong", "FRR", "FA", "FA/h", "1st/2nd FRR", "1st/2nd FA/h",
              "MMAC/s", "host ms/s")
    rows = []
    for name, r in result["runs"].items():
        m, cost = r["metrics"], r["cost"]
        parts = m["by_part"]
        rows.append((
            name, f"{m['hits']}/{m['targets']}", m["misses"], m["wrong_label"], _pct(m["frr"]),
            m["false_accepts"], _num(m["fa_per_hour"]),
            "/".join(_pct(p["frr"]) for p in parts),
            "/".join(_num(p["fa_per_hour"], "{:.0f}") for p in parts),
            _num(None if cost["macs_per_s"] is None else cost["macs_per_s"] / 1e6, "{:.2f}"),
            _num(cost["host_ms_per_s"], "{:.2f}"),
        ))
    lines.append(_table(header, rows))
    for name, agree in result.get("agreement", {}).items():
        a, d = agree["argmax"], agree["detections"]
        lines.append(f"{name}: frame argmax agree {_pct(a['agreement'])} of {a['frames']} frames; "
                     f"detections both {d['both']}, only first {d['only_a']}, only second "
                     f"{d['only_b']} ({_pct(d['agreement'])})")
    first = next(iter(result["runs"]))
    per_kw = result["runs"][first]["metrics"]["per_keyword"]
    if per_kw:
        lines += ["", f"{first} per keyword:"]
        lines.append(_table(("keyword", "hits", "miss", "wrong", "FRR", "FA"), [
            (k, f"{v['hits']}/{v['targets']}", v["misses"], v["wrong_label"], _pct(v["frr"]),
             v["false_accepts"]) for k, v in per_kw.items()]))
    for name, r in result["runs"].items():
        if r.get("det"):
            lines += ["", f"{name} DET: " + ", ".join(
                f"p{d['probability']:g}: FRR {_pct(d['frr'])} FA/h {_num(d['fa_per_hour'])}"
                for d in r["det"])]
    return "\n".join(lines)


def print_table(result: dict[str, Any], file: TextIO | None = None) -> None:
    """Prints the per-run table (hits, misses, wrong labels, FRR, FA, FA/h, first/second half,
    MACs and host time per second of audio), agreement, per-keyword counts and the DET."""
    print(format_table(result), file=file or sys.stdout)


# ------------------------------------------------------------------------------------ CLI helper


def detect_in_wav(run_dir: str | os.PathLike, wav: str | os.PathLike | np.ndarray, *,
                  settings: dict[str, Any] | None = None, every: int = 1,
                  verbose: bool = True, file: TextIO | None = None) -> list[Detection]:
    """Detections of a run's exported int8 model over a WAV (what ``ghost-kws stream`` does):
    front end once over the file, TFLM as the firmware runs it, the firmware's recognizer.
    With ``verbose`` each detection is printed as ``time  label  score``."""
    loaded = load_export(run_dir)
    audio = read_stream_audio(wav, loaded.frontend.sample_rate)
    features, times = stream_features(audio, loaded.frontend)
    run = run_tflm(loaded.exported, features, times, every=every, frontend=loaded.frontend)
    dets = detect(run.scores, run.times_ms, loaded.labels, settings,
                  period_ms=loaded.frontend.stride_ms * run.every,
                  score_scale=run.score_scale, score_zero_point=run.score_zero_point)
    if verbose:
        out = file or sys.stdout
        seconds = len(audio) / loaded.frontend.sample_rate
        print(f"{wav if not isinstance(wav, np.ndarray) else '(array)'}: {seconds:.1f} s, "
              f"{len(dets)} detection(s)", file=out)
        for d in dets:
            print(f"{d.time_ms / 1000.0:9.2f} s  {d.label:<10} {d.score / 256.0:.2f}", file=out)
    return dets


__all__ = [
    "DEFAULT_THRESHOLDS", "DEFAULT_TOLERANCE_MS", "LoadedExport", "MATCH_RULE", "ScoreRun",
    "StreamError", "argmax_agreement", "compare_detections", "det_curve", "detect",
    "detect_in_wav", "format_table", "frame_times_ms", "load_export", "match", "plot_det",
    "print_table", "probabilities_to_scores", "read_stream_audio", "recognizer_settings",
    "run_float_step", "run_float_window", "run_tflm", "stream_eval", "stream_features",
    "stream_scores",
]
