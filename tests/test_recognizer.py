"""RecognizeCommands: hand-checked behaviour of the Python reference, and the C++ port in
templates/recognize_commands.{h,cc} compiled on the host giving the very same decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_firmware_helpers import ARM_FLAGS, compile_host, require_tool, run

from firmware_export.firmware.folder import template_text
from firmware_export.firmware.model_settings import (
    ArenaChoice,
    build_settings,
    render_model_settings_header,
)
from firmware_export.firmware.recognizer import (
    Detection,
    RecognizeCommands,
    StreamAverages,
    default_ignore_labels,
    probability_to_threshold,
    recognizer_capacity,
)
from firmware_export.tflite_model import TensorInfo, TfliteModelInfo
from ghost_keras.features.config import FrontendConfig

LABELS = ["_silence_", "_unknown_", "yes", "no", "up"]
STRIDE_MS = 20
WINDOW_MS = 1000
CAPACITY = recognizer_capacity(WINDOW_MS, STRIDE_MS)  # the C++ storage limit


def _tensor(index, name, shape, scale, zero_point, dtype="int8"):
    return TensorInfo(index=index, tensor_index=index, name=name, signature_name=name,
                      shape=shape, type_name=dtype.upper(), dtype=dtype, scale=scale,
                      zero_point=zero_point, num_scales=1)


def synthetic_model(num_labels: int = len(LABELS)) -> TfliteModelInfo:
    """Tensor descriptions of a step model, enough for build_settings (no TensorFlow)."""
    return TfliteModelInfo(
        size_bytes=1234, schema_version=3, ops=("FULLY_CONNECTED",),
        inputs=(_tensor(0, "state", (1, 8), 1 / 128, 0), _tensor(1, "frame", (1, 10), 0.25, -3)),
        outputs=(_tensor(0, "new_state", (1, 8), 1 / 128, 0),
                 _tensor(1, "scores", (1, num_labels), 1 / 256, -128)),
        num_subgraphs=1, num_operators=1,
    )


SYNTHETIC_SETTINGS = {
    "labels": LABELS,
    "frontend": FrontendConfig.microfrontend(stride_ms=STRIDE_MS, num_channels=10,
                                             input_scale=0.125),
    "recognizer": {"average_window_ms": WINDOW_MS, "detection_threshold": 200,
                   "suppression_ms": 1500, "minimum_count": 3},
}

# Reads a configuration line, a line of ignore flags, then "time s0 s1 ..." lines; prints one
# "label score is_new reported" line per result (or "error").
DRIVER = r"""
#include <stdio.h>
#include "recognize_commands.h"

int main() {
  long window, threshold, suppression, minimum, capacity, is_int8;
  if (scanf("%ld %ld %ld %ld %ld %ld", &window, &threshold, &suppression, &minimum,
            &capacity, &is_int8) != 6) return 2;
  uint8_t ignored[KWS_NUM_LABELS];
  for (int i = 0; i < KWS_NUM_LABELS; ++i) {
    int flag;
    if (scanf("%d", &flag) != 1) return 2;
    ignored[i] = static_cast<uint8_t>(flag);
  }
  kws::RecognizeCommands rec(static_cast<int32_t>(window), static_cast<uint8_t>(threshold),
                             static_cast<int32_t>(suppression), static_cast<int32_t>(minimum),
                             static_cast<int>(capacity), ignored);
  long long t;
  while (scanf("%lld", &t) == 1) {
    int8_t s8[KWS_NUM_LABELS];
    uint8_t u8[KWS_NUM_LABELS];
    for (int i = 0; i < KWS_NUM_LABELS; ++i) {
      int v;
      if (scanf("%d", &v) != 1) return 2;
      s8[i] = static_cast<int8_t>(v);
      u8[i] = static_cast<uint8_t>(v);
    }
    kws::RecognitionResult r;
    const bool ok = is_int8 ? rec.ProcessLatestResults(s8, t, &r)
                            : rec.ProcessLatestResults(u8, t, &r);
    if (!ok) { printf("error\n"); continue; }
    printf("%d %d %d %d\n", r.label_index, static_cast<int>(r.score),
           r.is_new_command ? 1 : 0, r.reported ? 1 : 0);
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def cpp_recognizer(tmp_path_factory) -> Path:
    """The template recognizer + DRIVER, built against a generated model_settings.h."""
    d = tmp_path_factory.mktemp("recognizer")
    fs = build_settings(SYNTHETIC_SETTINGS, synthetic_model(), ArenaChoice(arena_bytes=4096))
    (d / "model_settings.h").write_text(render_model_settings_header(fs))
    for name in ("recognize_commands.h", "recognize_commands.cc"):
        (d / name).write_text(template_text(name))
    (d / "driver.cc").write_text(DRIVER)
    return compile_host([d / "driver.cc", d / "recognize_commands.cc"], d / "driver", [d],
                        cxx=True)


def run_cpp(binary: Path, config: dict, ignored: list[bool], times, scores, is_int8=True):
    lines = [" ".join(str(config[k]) for k in ("average_window_ms", "detection_threshold",
                                                "suppression_ms", "minimum_count", "capacity"))
             + f" {int(is_int8)}",
             " ".join(str(int(f)) for f in ignored)]
    lines += [f"{t} " + " ".join(str(int(v)) for v in row) for t, row in zip(times, scores)]
    out = run([str(binary)], stdin=("\n".join(lines) + "\n").encode()).decode().split("\n")
    return [line for line in out if line]


def run_python(config: dict, ignored: list[bool], times, scores):
    rec = RecognizeCommands(LABELS, ignore_labels=[l for l, f in zip(LABELS, ignored) if f],
                            **config)
    out = []
    for t, row in zip(times, scores):
        try:
            r = rec.process(row, t)
        except ValueError:
            out.append("error")
            continue
        out.append(f"{r.label_index} {r.score} {int(r.is_new_command)} {int(r.reported)}")
    return out


def keyword_stream(rng, n: int, dtype=np.int8, max_step_ms: int = 60):
    """Scores with stretches where one label dominates, noise, and irregular (sometimes equal)
    timestamps, so that detections, suppression and label changes all happen."""
    low, high = (-128, 127) if dtype == np.int8 else (0, 255)
    scores = rng.integers(low, low + 60, (n, len(LABELS)))
    label = 0
    for i in range(n):
        if rng.random() < 0.05:
            label = int(rng.integers(len(LABELS)))
        scores[i, label] = rng.integers(high - 90, high + 1)
    times = np.cumsum(rng.integers(0, max_step_ms + 1, n))
    return times.tolist(), scores.astype(dtype)


def test_python_and_cpp_agree_on_random_streams(cpp_recognizer):
    rng = np.random.default_rng(7)
    total_reported = 0
    for trial in range(24):
        config = {
            "average_window_ms": int(rng.integers(100, WINDOW_MS + 1)),
            "detection_threshold": int(rng.integers(120, 250)),
            "suppression_ms": int(rng.integers(0, 2000)),
            "minimum_count": int(rng.integers(1, 6)),
            # Sometimes smaller than the window needs: the oldest results get dropped.
            "capacity": int(rng.integers(2, CAPACITY + 1)),
        }
        ignored = [bool(f) for f in rng.integers(0, 2, len(LABELS))]
        dtype = np.int8 if trial % 3 else np.uint8
        times, scores = keyword_stream(rng, 400, dtype)
        py = run_python(config, ignored, times, scores)
        cpp = run_cpp(cpp_recognizer, config, ignored, times, scores, dtype == np.int8)
        assert cpp == py, f"trial {trial}: first difference at step " + str(
            next(i for i, (a, b) in enumerate(zip(cpp, py)) if a != b))
        total_reported += sum(line.endswith(" 1") for line in py)
    assert total_reported > 20  # the streams really exercise detections


def test_stream_averages_equal_the_reference_for_every_setting():
    """The vectorized sweep (one averaging per window, a replay per threshold) reports exactly
    the reference's detections: random windows, capacities, minimum counts, thresholds,
    suppressions and ignore sets, irregular and repeated timestamps, int8 and uint8."""
    rng = np.random.default_rng(11)
    reported = 0
    for trial in range(40):
        window = int(rng.integers(100, WINDOW_MS + 1))
        averaged = {"average_window_ms": window, "minimum_count": int(rng.integers(1, 6)),
                    "capacity": int(rng.integers(2, CAPACITY + 1))}
        ignore = [l for l, f in zip(LABELS, rng.integers(0, 2, len(LABELS))) if f]
        times, scores = keyword_stream(rng, 600, np.int8 if trial % 3 else np.uint8)
        sweep = StreamAverages(scores, times, LABELS, ignore_labels=ignore, **averaged)
        for _ in range(5):
            decision = {"detection_threshold": int(rng.integers(100, 250)),
                        "suppression_ms": int(rng.integers(0, 3000))}
            want = RecognizeCommands(LABELS, ignore_labels=ignore, **averaged,
                                     **decision).detections(scores, times)
            assert sweep.detections(**decision) == want, (trial, averaged, decision)
            reported += len(want)
    assert reported > 200  # the streams really exercise detections and suppression


def test_hand_made_sequence_detections_and_suppression(cpp_recognizer):
    """'yes' at full score every 20 ms from t=0: too few results at 0 and 20 ms (minimum 2,
    span >= 100/4 ms), detected at 40 ms, suppressed while <= 300 ms passed, again at 360."""
    config = dict(average_window_ms=100, detection_threshold=200, suppression_ms=300,
                  minimum_count=2, capacity=CAPACITY)
    times = list(range(0, 401, 20))
    row = np.full(len(LABELS), -128, np.int8)
    row[2] = 127
    scores = np.tile(row, (len(times), 1))
    rec = RecognizeCommands(LABELS, **config)
    assert rec.detections(scores, times) == [Detection("yes", 40, 255), Detection("yes", 360, 255)]
    ignored = [True, True, False, False, False]
    assert run_cpp(cpp_recognizer, config, ignored, times, scores) == run_python(
        config, ignored, times, scores)


def test_other_command_and_silence_lift_suppression(cpp_recognizer):
    """A different command is reported at once; silence winning in between resets the
    suppression of the same command (as TFLM's special case of label 0)."""
    config = dict(average_window_ms=60, detection_threshold=200, suppression_ms=10_000,
                  minimum_count=1, capacity=CAPACITY)

    def rows(label, n):
        r = np.full((n, len(LABELS)), -128, np.int8)
        r[:, LABELS.index(label)] = 127
        return r

    scores = np.concatenate([rows("yes", 6), rows("no", 6), rows("_silence_", 6), rows("no", 6)])
    times = list(range(0, 20 * len(scores), 20))
    found = RecognizeCommands(LABELS, **config).detections(scores, times)
    # Window 60 ms: a new label wins once its results fill the window's majority.
    assert [d.label for d in found] == ["yes", "no", "no"]
    assert found[0].time_ms == 20  # span 20 ms >= 60/4 at the second result
    ignored = [True, True, False, False, False]
    assert run_cpp(cpp_recognizer, config, ignored, times, scores) == run_python(
        config, ignored, times, scores)


def test_time_order_and_input_errors(cpp_recognizer):
    rec = RecognizeCommands(LABELS)
    rec.process(np.zeros(len(LABELS), np.int8), 100)
    with pytest.raises(ValueError, match="time order"):
        rec.process(np.zeros(len(LABELS), np.int8), 99)
    with pytest.raises(TypeError, match="int8 or uint8"):
        rec.process(np.zeros(len(LABELS), np.float32), 200)
    with pytest.raises(ValueError, match="expected 5 scores"):
        rec.process(np.zeros(3, np.int8), 200)
    with pytest.raises(ValueError, match="ignore_labels"):
        RecognizeCommands(LABELS, ignore_labels=["nope"])
    # The C++ port rejects the same out-of-order time, and goes on afterwards.
    config = dict(average_window_ms=1000, detection_threshold=200, suppression_ms=1500,
                  minimum_count=3, capacity=CAPACITY)
    zeros = np.zeros((3, len(LABELS)), np.int8)
    assert run_cpp(cpp_recognizer, config, [False] * 5, [100, 99, 120], zeros)[1] == "error"
    assert run_python(config, [False] * 5, [100, 99, 120], zeros)[1] == "error"


def test_cpp_recognizer_cross_compiles_without_heap(tmp_path):
    """On a Cortex-M4 the recognizer links no allocator and needs no initialized RAM."""
    cxx = require_tool("arm-none-eabi-g++")
    fs = build_settings(SYNTHETIC_SETTINGS, synthetic_model(), ArenaChoice(arena_bytes=4096))
    (tmp_path / "model_settings.h").write_text(render_model_settings_header(fs))
    for name in ("recognize_commands.h", "recognize_commands.cc"):
        (tmp_path / name).write_text(template_text(name))
    obj = tmp_path / "recognize_commands.o"
    run([cxx, *ARM_FLAGS, "-std=c++17", "-fno-exceptions", "-fno-rtti", f"-I{tmp_path}", "-c",
         str(tmp_path / "recognize_commands.cc"), "-o", str(obj)])
    undefined = run([require_tool("arm-none-eabi-nm"), "-u", str(obj)]).decode().split()
    assert not {"malloc", "free", "calloc", "realloc", "_Znwj", "_Znaj", "_ZdlPv",
                "_ZdaPv"} & set(undefined), undefined
    sizes = run([require_tool("arm-none-eabi-size"), str(obj)]).decode().split("\n")[1].split()
    text, data = int(sizes[0]), int(sizes[1])
    print(f"\ncortex-m4 recognize_commands.o: text {text} bytes, data {data}")
    assert data == 0 and 0 < text < 4096


def test_helpers():
    assert default_ignore_labels(["_silence_", "Unknown", "yes", "silence_x"]) == (
        "_silence_", "Unknown")
    assert recognizer_capacity(1000, 20) == 51
    assert probability_to_threshold(0.8, 1 / 256, -128, "int8") == 205
    assert probability_to_threshold(1.0, 1 / 256, -128, "int8") == 255
    assert probability_to_threshold(0.5, 1 / 255, 0, "uint8") == 128
