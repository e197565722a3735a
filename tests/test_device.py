"""The firmware folder built with its own Makefile against the real TFLite Micro library and run
on real speech: on the host and on a Cortex-M4 (QEMU), for both front ends.

What must hold, value for value, on more than a minute of real Speech Commands audio:
- the features the firmware computes == the features the project trains and evaluates on,
  quantized by the one feature quantizer;
- every invoke's scores and new state == the Python tflite-micro interpreter's, fed the same
  input and state;
- the firmware's detections (time, label, score) == ``ghost-kws stream``'s;
- the Cortex-M4 build (CMSIS-NN kernels) computes exactly what the host build computes.

The TFLM library is built once per tree and target into a cache outside the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_firmware_helpers import assert_int8_interface, require_tool

from firmware_export.device.build import (
    ELEMENTWISE_CHECK,
    FC_CHECK,
    TABLES_CHECK,
    build_app,
    cmsis_dsp_sources,
)
from firmware_export.device.run import DeviceRun, qemu_command, run_harness
from firmware_export.feature_quantizer import FeatureQuantizer
from firmware_export.pipeline import export_run, write_run_firmware
from firmware_export.evaluate import detect_in_wav, load_export, read_stream_audio, run_tflm
from firmware_export.tflm import TflmInterpreter, find_smallest_arena
from ghost_keras.features.stream import stream_features

pytestmark = pytest.mark.slow  # trains two runs and builds TFLM (cached after the first run)

TFLM_ROOT = Path(os.environ.get(
    "GHOST_KERAS_TFLM_TREES",
    Path(__file__).resolve().parents[2] / "shared" / "third_party" / "tflite-micro"))
RECOGNIZER = {"detection_probability": 0.3}  # low enough for a briefly trained model to fire


def _require(path: Path | None, what: str) -> Path:
    if path is not None and path.is_dir():
        return path
    reason = f"{what} not found (at {path})"
    if os.environ.get("GHOST_KERAS_REQUIRE_TOOLS") == "1":
        pytest.fail(reason + " (GHOST_KERAS_REQUIRE_TOOLS=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def trees() -> dict[str, Path]:
    """TFLM trees: the host reference kernels and the Cortex-M4 CMSIS-NN tree."""
    return {"host": _require(TFLM_ROOT / "reference", "TFLM reference tree"),
            "cortex-m4": _require(TFLM_ROOT / "cortex_m4_cmsis_nn", "TFLM Cortex-M4 tree")}


@pytest.fixture(scope="module")
def cmsis_dsp() -> Path:
    return _require(cmsis_dsp_sources(), "CMSIS-DSP sources of the cmsisdsp package "
                    "(.ci/setup unpacks them)")


@pytest.fixture(scope="module")
def speech_wav(test12_dir: Path, tmp_path_factory) -> Path:
    """75 s of real speech: test12 clips of every label, back to back, as one 16-bit WAV."""
    files = sorted(test12_dir.glob("*/*.wav"))[::40][:75]
    audio = np.concatenate([sf.read(f, dtype="int16")[0] for f in files])
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(audio.tobytes())
    assert len(audio) >= 60 * 16000
    return path


@pytest.fixture(scope="module")
def mfcc_run(tmp_path_factory, test12_dir: Path) -> Path:
    """A ghost_gru on CMSIS-DSP q15 MFCC features, trained briefly on real clips, exported."""
    from conftest import copy_prepared_subset

    from ghost_keras.data import LABELS_12
    from ghost_keras.training import TrainConfig, train

    root = tmp_path_factory.mktemp("mfcc_run")
    data = copy_prepared_subset(test12_dir, root / "data", {label: 50 for label in LABELS_12})
    train(TrainConfig(arch="ghost_gru", frontend="cmsis_mfcc", epochs=8,
                      split_dirs=[str(data)], speaker_split=[0.7, 0.15, 0.15], batch_size=32,
                      learning_rates=[5e-3, 2e-3, 5e-4], out_dir=str(root / "run")), verbose=0)
    assert_int8_interface(export_run(root / "run", calibration_clips=100).tflite_path)
    return root / "run"


def _build_and_run(folder: Path, run_dir: Path, wav: Path, tree: Path, target: str, work: Path,
                   cmsis: Path | None) -> DeviceRun:
    exported = load_export(run_dir).exported
    # The header's arena is the M4's; 64-bit pointers need more on the host.
    arena = 2 * find_smallest_arena(exported.tflite) if target == "host" else None
    exe = build_app(folder, tree, work / f"build-{target}", target, cmsis_dsp=cmsis,
                    arena_bytes=arena)
    return run_harness(exe, wav, exported, target=target)


def _check_against_python(run_dir: Path, wav: Path, device: DeviceRun) -> None:
    loaded = load_export(run_dir)
    e = loaded.exported
    audio = read_stream_audio(wav, loaded.frontend.sample_rate)
    features, times = stream_features(audio, loaded.frontend)
    assert len(device.times_ms) == len(features) > 3000  # one invoke per 20 ms frame
    np.testing.assert_array_equal(device.times_ms, times)

    # (b) Features: the device's == the training front end's, through the one quantizer.
    interp = TflmInterpreter(e.tflite, find_smallest_arena(e.tflite) * 2)
    quantizer = FeatureQuantizer.for_model(interp.inputs[e.frame_input], loaded.frontend)
    expected = quantizer.quantize(features).reshape(len(features), -1)
    assert np.count_nonzero(device.features != expected) == 0

    # (a) Every invoke: the Python TFLM interpreter fed the device's input and previous state
    # gives the device's scores and new state.
    sizes = np.cumsum([0, *e.state_sizes])
    state = [np.full(n, interp.inputs[i].zero_point, np.int8)
             for n, i in zip(e.state_sizes, e.state_inputs)]
    for k in range(len(device.times_ms)):
        interp.set_input(e.frame_input, device.features[k].reshape(interp.inputs[e.frame_input].shape))
        for s, i in zip(state, e.state_inputs):
            interp.set_input(i, s.reshape(interp.inputs[i].shape))
        interp.invoke()
        scores = np.asarray(interp.get_output(e.logits_output)).reshape(-1)
        new = np.concatenate([np.asarray(interp.get_output(o)).reshape(-1) for o in e.state_outputs])
        assert np.array_equal(scores, device.scores[k]), f"scores differ at invoke {k}"
        assert np.array_equal(new, device.states[k]), f"state differs at invoke {k}"
        state = [device.states[k][a:b] for a, b in zip(sizes[:-1], sizes[1:])]

    # The Python stream path (front end once, TFLM, state carried) gives the same scores...
    run = run_tflm(e, features, times, frontend=loaded.frontend)
    np.testing.assert_array_equal(run.scores, device.scores.astype(np.int16) + 128)
    # (d) ...and `ghost-kws stream` the same detections.
    python = [(d.time_ms, d.label, d.score)
              for d in detect_in_wav(run_dir, wav, settings=RECOGNIZER, verbose=False)]
    assert [(d.time_ms, d.label, d.score) for d in device.detections] == python
    assert python, "no detection at all: the comparison would prove nothing"


@pytest.fixture(scope="module")
def tools() -> None:
    for tool in ("make", "g++", "arm-none-eabi-g++", "qemu-system-arm"):
        require_tool(tool)


@pytest.mark.parametrize("frontend", ["microfrontend", "cmsis_mfcc"])
def test_firmware_on_host_and_cortex_m4_is_bit_exact_with_python(
        frontend, request, tools, trees, cmsis_dsp, speech_wav, tmp_path):
    run_dir = request.getfixturevalue("exported_run" if frontend == "microfrontend" else "mfcc_run")
    cmsis = cmsis_dsp if frontend == "cmsis_mfcc" else None
    # The folder as `ghost-kws firmware --tflm-tree` writes it: arena measured on the M4.
    folder = write_run_firmware(run_dir, tmp_path / "fw", recognizer=RECOGNIZER,
                                tflm_tree=trees["cortex-m4"])
    arena = folder.settings.arena
    assert arena.measured_on == "cortex-m4" and arena.arena_bytes >= arena.measured_bytes
    settings = (folder.path / "model_settings.h").read_text()
    assert re.search(rf"#define KWS_TENSOR_ARENA_M4_MIN_BYTES\s+{arena.measured_bytes}\b",
                     settings)

    host = _build_and_run(folder.path, run_dir, speech_wav, trees["host"], "host", tmp_path,
                          cmsis)
    _check_against_python(run_dir, speech_wav, host)
    # The Cortex-M4 build (CMSIS-NN kernels, 32-bit, the M4-sized arena) == the host build.
    m4 = _build_and_run(folder.path, run_dir, speech_wav, trees["cortex-m4"], "cortex-m4",
                        tmp_path, cmsis)
    for name in ("times_ms", "features", "scores", "states"):
        np.testing.assert_array_equal(getattr(m4, name), getattr(host, name), err_msg=name)
    assert m4.detections == host.detections
    # Instructions per Invoke() from QEMU's instruction count (icount) read through SysTick.
    # (-icount shift=0: one instruction per ns; SysTick at AN386's 25 MHz: 40 per tick)
    per_tick = m4.profile["calibration_instructions"] / m4.profile["calibration_ticks"]
    assert 39.9 < per_tick < 40.1
    assert len(m4.invoke_instructions) == len(m4.scores)
    assert np.all(m4.stride_instructions[-len(m4.invoke_instructions):] > 0)
    assert 10_000 < np.median(m4.invoke_instructions) < np.median(m4.stride_instructions)


def test_folder_without_tf_lite_static_memory_stops_with_an_error(exported_run, trees, tmp_path):
    """Built without TFLM's define, the folder would read tensors at the wrong offset."""
    folder = write_run_firmware(exported_run, tmp_path / "fw").path
    tree = trees["host"]
    includes = [f"-I{tree}", f"-I{tree}/third_party/flatbuffers/include",
                f"-I{tree}/third_party/gemmlowp", f"-I{tree}/third_party/ruy", f"-I{folder}"]
    result = subprocess.run([require_tool("g++"), "-std=c++17", "-fsyntax-only", *includes,
                             str(folder / "kws_main.cc")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "Compile this folder with -DTF_LITE_STATIC_MEMORY" in result.stderr


# The folder's own kernels, each checked against TFLM's on the host (TFLM's reference kernels,
# the kernels' portable code) and on the Cortex-M4 (CMSIS-NN's where it has one, the DSP code):
# check program -> (its kernel source, summary lines that must appear, a one-term mutation that
# the check must catch).
KERNEL_CHECKS = {
    # LOGISTIC/TANH: all 256 inputs at 550 input quantizations each; SOFTMAX: 366 sets of
    # random score rows; mutations: one wrong LOGISTIC entry, one wrong SOFTMAX exp.
    TABLES_CHECK: ("kws_activation_tables.cc",
                   (r"cases 1100 values 281600 mismatches 0",
                    r"softmax cases 366 values 91500 mismatches 0"),
                   [("      static_cast<Table*>(node->user_data)->values);\n  return kTfLiteOk;",
                     "      static_cast<Table*>(node->user_data)->values);\n"
                     "  static_cast<Table*>(node->user_data)->values[200] ^= 1;\n"
                     "  return kTfLiteOk;"),
                    ("FixedPointScaledDiff::FromRaw(rescaled)).raw();",
                     "FixedPointScaledDiff::FromRaw(rescaled)).raw() + (d == 5) * (1 << 28);")]),
    # FULLY_CONNECTED: 300 random cases (shapes around the 4-row/4-column blocks and the step
    # models', per-tensor and per-channel weights, bias or none, RELU or none).
    FC_CHECK: ("kws_fully_connected.cc", (r"cases 300 outputs \d+ failed 0",),
               [("  int32_t v = MultiplyByScale(acc, scale) + p.output_zero_point;",
                 "  int32_t v = MultiplyByScale(acc, scale) + p.output_zero_point + (acc & 1);")]),
    # ADD/SUB/MUL: 200 random cases each (sizes 1-320, scales, zero points, RELU or none).
    ELEMENTWISE_CHECK: ("kws_elementwise.cc", (r"cases 600 outputs \d+ failed 0",),
                        [("a_offset,\n                                                        d.input1);",
                          "a_offset,\n                                                        d.input2);")]),
}


def test_folder_kernels_give_tflm_bytes_on_host_and_cortex_m4(exported_run, trees, tools,
                                                              tmp_path):
    """Every kernel of the folder's own gives TFLM's kernel's bytes on random and exhaustive
    cases, on both targets; the same folder with one wrong term per kernel fails every check."""
    folder = write_run_firmware(exported_run, tmp_path / "fw").path
    ops = (folder / "model_ops.h").read_text()
    for registration in ("AddLogistic(kws::Register_LOGISTIC_INT8_TABLE())",
                         "AddTanh(kws::Register_TANH_INT8_TABLE())",
                         "AddSoftmax(kws::Register_SOFTMAX_INT8_TABLE())",
                         "AddFullyConnected(kws::Register_FULLY_CONNECTED_INT8())",
                         "AddAdd(kws::Register_ADD_INT8())", "AddMul(kws::Register_MUL_INT8())",
                         "AddSub(kws::Register_SUB_INT8())"):
        assert registration in ops

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)

    def run(checked: Path, target: str, app: str) -> subprocess.CompletedProcess:
        # One build folder per target and folder: the apps share its objects.
        exe = build_app(checked, trees[target], tmp_path / f"{checked.name}-{target}", target,
                        app=app)
        cmd = qemu_command(exe, []) if target == "cortex-m4" else [str(exe)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    for target in ("host", "cortex-m4"):
        for app, (_, expected, _) in KERNEL_CHECKS.items():
            result = run(folder, target, app)
            assert result.returncode == 0, (target, app, result.stdout[-2000:])
            for line in expected:
                assert re.search(line, result.stdout), (target, app, line)
        # The broken folder starts from these objects: make recompiles the mutated files only.
        shutil.copytree(tmp_path / f"{folder.name}-{target}", tmp_path / f"broken-{target}")
    for source, _, mutations in KERNEL_CHECKS.values():
        text = (broken / source).read_text()
        for old, new in mutations:  # the first occurrence
            assert old in text, old
            text = text.replace(old, new, 1)
        (broken / source).write_text(text)
    for target in ("host", "cortex-m4"):
        for app, (_, expected, _) in KERNEL_CHECKS.items():
            result = run(broken, target, app)
            assert result.returncode == 1, (target, app, result.stdout[-500:])
            assert not any(re.search(line, result.stdout) for line in expected), (target, app)
