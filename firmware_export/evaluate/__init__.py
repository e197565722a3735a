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
3. **Detections**: TFLM micro_speech's ``RecognizeCommands``
   (:mod:`firmware_export.firmware.recognizer`)
   with the run's deployed settings and the firmware's buffer capacity: its operating point
   (:mod:`.operating_point`) when it has one, else ``RECOGNIZER_DEFAULTS`` (1 s average,
   p > 0.8, 1.5 s suppression, at least 3 results).
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
   An **operating point** for a false-accept budget is searched on a validation stream
   (:func:`tune_operating_point`: threshold, averaging window, suppression and minimum count
   jointly) and written into ``export.json``.
6. **Cost per second of audio**: MACs (``profile_model(model).macs_per_frame`` x frames per
   second for a step model; window MACs x re-runs per second otherwise) and host time per
   second of audio: for the TFLM run the ``Invoke()`` calls only (reference kernels on a PC: a
   relative measure, and noisy on a shared machine); for the float runs the Keras time.

Example:

>>> from firmware_export.evaluate import stream_eval, print_table
>>> result = stream_eval("runs/gru", "long.wav", "truth.csv")   # doctest: +SKIP
>>> print_table(result)                                         # doctest: +SKIP

The work is split into modules of one job each, all re-exported here:
:mod:`.runners` (loading an export, TFLM and float runs over the stream),
:mod:`.detect` (the recognizer, :func:`detect_in_wav`), :mod:`.match`
(matching with the truth, agreement), :mod:`.det` (DET curve and plot),
:mod:`.stream_eval` (the whole evaluation), :mod:`.operating_point` (the deployed settings
for a target FA/h) and :mod:`.report` (tables).
"""

from __future__ import annotations

import ghost_keras  # noqa: F401  (selects tf-keras before TensorFlow loads)

from firmware_export.evaluate.det import DEFAULT_THRESHOLDS, det_curve, plot_det
from firmware_export.evaluate.detect import detect, detect_in_wav, recognizer_settings
from firmware_export.evaluate.stream_eval import stream_eval
from firmware_export.evaluate.match import (
    DEFAULT_TOLERANCE_MS,
    MATCH_RULE,
    argmax_agreement,
    compare_detections,
    match,
)
from firmware_export.evaluate.operating_point import (
    choose_operating_point,
    describe_operating_point,
    fa_rate_interval,
    tune_operating_point,
)
from firmware_export.evaluate.report import format_table, print_table
from firmware_export.evaluate.runners import (  # noqa: F401  (the constants are public names too)
    DEFAULT_FLOAT_WINDOW_EVERY,
    SOFTMAX_SCALE,
    SOFTMAX_ZERO_POINT,
    LoadedExport,
    ScoreRun,
    StreamError,
    load_export,
    probabilities_to_scores,
    read_stream_audio,
    run_float_step,
    run_float_window,
    run_tflm,
    stream_scores,
)
from ghost_keras.features.stream import frame_times_ms, stream_features


__all__ = [
    "DEFAULT_THRESHOLDS", "DEFAULT_TOLERANCE_MS", "LoadedExport", "MATCH_RULE", "ScoreRun",
    "StreamError", "argmax_agreement", "choose_operating_point", "compare_detections",
    "describe_operating_point", "det_curve", "detect", "detect_in_wav", "fa_rate_interval",
    "format_table", "frame_times_ms", "load_export", "match", "plot_det",
    "print_table", "probabilities_to_scores", "read_stream_audio", "recognizer_settings",
    "run_float_step", "run_float_window", "run_tflm", "stream_eval", "stream_features",
    "stream_scores", "tune_operating_point",
]
