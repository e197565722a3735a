"""The firmware folder: model info, op resolver, settings header, templates, writer."""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest
from test_firmware_helpers import (
    TINY_FRONTEND,
    TINY_SETTINGS,
    TINY_TABLES,
    assert_int8_interface,
    compile_host,
    run,
    tflite_interpreter,
    tflite_ops,
    tiny_model,
)

from firmware_export import write_firmware_folder
from firmware_export.firmware.folder import MANIFEST_NAME, render_firmware_files
from firmware_export.firmware.model_settings import (
    ArenaChoice,
    FirmwareSettings,
    SettingsError,
    build_settings,
    quantize_features,
    render_model_settings_header,
)
from firmware_export.firmware.op_resolver import (
    folder_kernel_ops,
    op_for_method,
    render_model_ops_header,
)
from firmware_export.firmware.tensor_roles import resolve_tensor_roles, tensor_name
from firmware_export.tflite_model import read_tflite
from firmware_export.tflm import TflmInterpreter, find_smallest_arena
from ghost_keras.features.config import FrontendConfig


@pytest.fixture(scope="module")
def model() -> bytes:
    return tiny_model()


@pytest.fixture(scope="module")
def folder(model, tmp_path_factory):
    return write_firmware_folder(model, TINY_SETTINGS, tmp_path_factory.mktemp("fw") / "kws",
                                 frontend_tables=TINY_TABLES)


# -- model info ---------------------------------------------------------------------------------


def test_model_info_matches_tflite_interpreter(model):
    info = assert_int8_interface(model)
    ref = tflite_interpreter(model)
    assert info.size_bytes == len(model)
    assert list(info.ops) == tflite_ops(model)
    signature = ref.get_signature_list()["serving_default"]
    for ours, theirs, names in ((info.inputs, ref.get_input_details(), signature["inputs"]),
                                (info.outputs, ref.get_output_details(), signature["outputs"])):
        assert len(ours) == len(theirs)
        for t, d in zip(ours, theirs):
            assert t.tensor_index == d["index"]
            assert t.shape == tuple(d["shape"])
            assert np.dtype(t.dtype) == d["dtype"]
            assert (np.float32(t.scale), t.zero_point) == (np.float32(d["quantization"][0]),
                                                           d["quantization"][1])
            assert t.signature_name in names
    # The converter orders them state-first, whatever the signature says.
    assert [t.signature_name for t in info.inputs] == ["state", "frame"]


def test_read_tflite_rejects_other_files(tmp_path):
    with pytest.raises(ValueError, match="TFL3"):
        read_tflite(b"\x00" * 64)
    with pytest.raises(FileNotFoundError):
        read_tflite(tmp_path / "missing.tflite")


# -- op resolver --------------------------------------------------------------------------------


def test_model_ops_header_registers_exactly_the_model_ops(folder, model):
    text = (folder.path / "model_ops.h").read_text()
    calls = re.findall(r"resolver\.(Add\w+)\(([^)]*)\)", text)
    methods = [m for m, _ in calls]
    assert [op_for_method(m) for m in methods] == tflite_ops(model)
    # int8 LOGISTIC/TANH/FULLY_CONNECTED get the folder's kernels, every other op TFLM's own.
    own = {"LOGISTIC": "kws::Register_LOGISTIC_INT8_TABLE(",
           "TANH": "kws::Register_TANH_INT8_TABLE(",
           "SOFTMAX": "kws::Register_SOFTMAX_INT8_TABLE(",
           "FULLY_CONNECTED": "kws::Register_FULLY_CONNECTED_INT8(",
           "ADD": "kws::Register_ADD_INT8(", "SUB": "kws::Register_SUB_INT8(",
           "MUL": "kws::Register_MUL_INT8("}
    assert {"TANH", "FULLY_CONNECTED", "SOFTMAX"} <= set(tflite_ops(model))
    assert {op_for_method(m): arg for m, arg in calls if arg} == {
        op: own[op] for op in tflite_ops(model) if op in own}
    assert (folder.path / "kws_activation_tables.cc").is_file()
    assert (folder.path / "kws_fully_connected.cc").is_file()
    count = int(re.search(r"kModelOpCount = (\d+);", text).group(1))
    assert count == len(methods) == len(set(methods))
    assert "using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOpCount>;" in text
    assert '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"' in text


def test_model_ops_header_knows_the_ghostrnn_ops():
    ops = ["FULLY_CONNECTED", "SPLIT", "ADD", "LOGISTIC", "MUL", "SUB", "TANH", "STRIDED_SLICE",
           "CONCATENATION", "QUANTIZE", "DEQUANTIZE", "RESHAPE", "SOFTMAX", "CALL_ONCE",
           "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CONV_2D", "DEPTHWISE_CONV_2D",
           "AVERAGE_POOL_2D", "MEAN"]
    text = render_model_ops_header(ops)
    for method in ("AddFullyConnected", "AddSplit", "AddLogistic", "AddStridedSlice",
                   "AddCallOnce", "AddVarHandle", "AddReadVariable", "AddAssignVariable",
                   "AddDepthwiseConv2D", "AddAveragePool2D", "AddMean"):
        assert f"resolver.{method}()" in text
    assert "kModelOpCount = 21;" in text
    assert "kws_activation_tables.h" not in text  # no folder kernels unless asked
    operators = [("FULLY_CONNECTED", "INT8"), ("LOGISTIC", "INT8"), ("TANH", "INT8"),
                 ("TANH", "INT16"), ("LOGISTIC", "INT8")]
    kernels = folder_kernel_ops(operators)
    assert kernels == ("FULLY_CONNECTED", "LOGISTIC")  # a TANH reading int16 keeps TFLM's
    assert folder_kernel_ops(operators, ("LOGISTIC", "TANH")) == ("LOGISTIC",)
    with pytest.raises(ValueError, match="no folder kernel for \\['CONV_2D'\\]"):
        folder_kernel_ops(operators, ("CONV_2D",))
    # ADD/SUB/MUL: only where every operator's two inputs have one shape (no broadcasting).
    pairs = [("ADD", "INT8"), ("SUB", "INT8"), ("SUB", "INT8"), ("MUL", "INT8")]
    shapes = [((1, 77), (1, 77)), ((1, 77), (1, 77)), ((1, 77), (1,)), ((1, 8), (1, 8))]
    assert folder_kernel_ops(pairs, input_shapes=shapes) == ("ADD", "MUL")
    assert folder_kernel_ops(pairs) == ()  # shapes unknown: TFLM's kernels
    # SOFTMAX: only with an int8 output (TFLM's may write int16).
    softmax = [("SOFTMAX", "INT8")]
    assert folder_kernel_ops(softmax, output_types=["INT8"]) == ("SOFTMAX",)
    assert folder_kernel_ops(softmax, output_types=["INT16"]) == ()
    assert folder_kernel_ops(softmax) == ()
    text = render_model_ops_header(ops, kernels=kernels)
    assert "resolver.AddLogistic(kws::Register_LOGISTIC_INT8_TABLE())" in text
    assert "resolver.AddFullyConnected(kws::Register_FULLY_CONNECTED_INT8())" in text
    assert "resolver.AddTanh()" in text and '#include "kws_activation_tables.h"' in text
    assert '#include "kws_fully_connected.h"' in text
    with pytest.raises(ValueError, match="WHILE_LOOP|not supported"):
        render_model_ops_header(["WHILE_LOOP"])
    with pytest.raises(ValueError, match="CUSTOM:TensorListReserve"):
        render_model_ops_header(["CUSTOM:TensorListReserve"])


# -- settings header ----------------------------------------------------------------------------


def _dump_settings_program(fs: FirmwareSettings) -> str:
    """A program valid as C11 and C++17 that prints every macro of the header."""
    lines = ["#include <stdio.h>", '#include "model_settings.h"', "int main(void) {", "  int i;"]
    for m in fs.macros:
        if m.kind == "int":
            lines.append(f'  printf("{m.name} %lld\\n", (long long)({m.name}));')
        elif m.kind == "float":
            lines.append(f'  printf("{m.name} %.9g\\n", (double)({m.name}));')
        elif m.name == "KWS_LABEL_STRINGS":
            lines.append("  { static const char* const v[KWS_NUM_LABELS] = KWS_LABEL_STRINGS;")
            lines.append('    for (i = 0; i < KWS_NUM_LABELS; ++i) printf("label %s\\n", v[i]); }')
        elif m.kind == "list":
            lines.append(f"  {{ static const long long v[] = {m.name};")
            lines.append(f'    for (i = 0; i < (int)(sizeof v / sizeof v[0]); ++i) '
                         f'printf("{m.name} %lld\\n", v[i]); }}')
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


def _parse_dump(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.strip().split("\n"):
        key, value = line.split(" ", 1)
        values.setdefault(key, []).append(value)
    return values


def test_settings_header_compiles_as_c_and_cxx_and_matches_the_model(folder, model, tmp_path):
    fs = folder.settings
    (tmp_path / "dump.c").write_text(_dump_settings_program(fs))
    (tmp_path / "dump.cc").write_text(_dump_settings_program(fs))
    outs = [run([str(compile_host([tmp_path / src], tmp_path / src.replace(".", "_"),
                                  [folder.path], cxx=cxx))]).decode()
            for src, cxx in (("dump.c", False), ("dump.cc", True))]
    assert outs[0] == outs[1]
    v = _parse_dump(outs[0])

    def num(key):
        return float(v[key][0])

    # Independent source of truth: tf.lite.Interpreter's view of the same model.
    ref = tflite_interpreter(model)
    sig = ref.get_signature_runner("serving_default")
    ins, outs_ = sig.get_input_details(), sig.get_output_details()
    detail_index = {d["index"]: i for i, d in enumerate(ref.get_input_details())}
    out_index = {d["index"]: i for i, d in enumerate(ref.get_output_details())}
    frame, state = ins["frame"], ins["state"]
    scores, new_state = outs_["scores"], outs_["new_state"]

    assert int(num("KWS_FEATURE_INPUT_INDEX")) == detail_index[frame["index"]]
    assert np.float32(num("KWS_FEATURE_INPUT_SCALE")) == np.float32(frame["quantization"][0])
    assert int(num("KWS_FEATURE_INPUT_ZERO_POINT")) == frame["quantization"][1]
    assert int(num("KWS_FEATURE_INPUT_SIZE")) == int(np.prod(frame["shape"]))
    assert int(num("KWS_SCORES_OUTPUT_INDEX")) == out_index[scores["index"]]
    assert np.float32(num("KWS_SCORES_SCALE")) == np.float32(scores["quantization"][0])
    assert int(num("KWS_SCORES_ZERO_POINT")) == scores["quantization"][1]
    assert int(num("KWS_NUM_STATES")) == 1
    assert int(num("KWS_STATE0_INPUT_INDEX")) == detail_index[state["index"]]
    assert int(num("KWS_STATE0_OUTPUT_INDEX")) == out_index[new_state["index"]]
    assert int(num("KWS_STATE0_BYTES")) == int(np.prod(state["shape"])) == 16
    assert np.float32(num("KWS_STATE0_SCALE")) == np.float32(state["quantization"][0]) == 1 / 128
    assert int(num("KWS_STATE0_ZERO_POINT")) == state["quantization"][1] == new_state[
        "quantization"][1] == 0
    assert v["KWS_STATE_INPUT_INDICES"] == [str(detail_index[state["index"]])]
    assert v["label"] == TINY_SETTINGS["labels"]
    assert v["KWS_IGNORED_LABELS"] == ["1", "1", "0", "0"]
    assert int(num("KWS_NUM_LABELS")) == 4
    assert int(num("KWS_MODEL_BYTES")) == len(model)
    # Audio and front end as given.
    assert int(num("KWS_SAMPLE_RATE_HZ")) == 16000
    assert int(num("KWS_WINDOW_SAMPLES")) == 480 and int(num("KWS_STRIDE_SAMPLES")) == 320
    assert int(num("KWS_FRONTEND_KIND")) == int(num("KWS_FRONTEND_MICROFRONTEND"))
    # float feature = raw * input_scale; int8 = feature / s_in + zp -> one multiplier.
    assert np.float32(num("KWS_FEATURE_QUANT_MULT")) == np.float32(
        TINY_FRONTEND.input_scale / float(frame["quantization"][0]))
    # Recognizer: 1000 ms window at 20 ms per result holds 51 results.
    assert int(num("KWS_RECOGNIZER_CAPACITY")) == 51
    assert int(num("KWS_DETECTION_THRESHOLD")) == 200
    # Arena: measured on TFLM, +10 %, a multiple of 16, and it works.
    host_min = int(num("KWS_TENSOR_ARENA_HOST_MIN_BYTES"))
    arena = int(num("KWS_TENSOR_ARENA_BYTES"))
    assert host_min == find_smallest_arena(model)
    assert arena % 16 == 0 and arena * 10 >= host_min * 11
    assert int(num("KWS_TENSOR_ARENA_RECORDED_BYTES")) <= host_min
    TflmInterpreter(model, arena).invoke()


def test_quantize_feature_in_c_equals_python(folder, tmp_path):
    """kws_frontend.h's QuantizeFeature (float32 multiply, lrintf) against the Python
    reference, including exact .5 ties (mult 0.5 below) that must round half to even."""
    from test_recognizer import SYNTHETIC_SETTINGS, synthetic_model

    program = r"""
#include <stdio.h>
#include "kws_frontend.h"
int main() {
  long v;
  while (scanf("%ld", &v) == 1) printf("%d\n", static_cast<int>(kws::QuantizeFeature(v)));
  return 0;
}
"""
    raw = np.concatenate([np.arange(-50, 1200), [65535, -70000, 1, 3, 5, 7]])
    synthetic = build_settings(SYNTHETIC_SETTINGS, synthetic_model(), ArenaChoice(4096))
    assert synthetic.feature_quant_mult == 0.5  # input_scale 0.125 / feature scale 0.25
    # A normalized front end (what training makes): its offset folds into the quantization.
    normalized = build_settings(
        {**SYNTHETIC_SETTINGS,
         "frontend": SYNTHETIC_SETTINGS["frontend"].normalized(mean=4.9, std=7.9)},
        synthetic_model(), ArenaChoice(4096))
    assert normalized.feature_quant_offset != 0
    for name, fs in (("tiny", folder.settings), ("ties", synthetic), ("offset", normalized)):
        include = folder.path
        if fs is not folder.settings:
            include = tmp_path / f"{name}_headers"
            include.mkdir()
            (include / "model_settings.h").write_text(render_model_settings_header(fs))
            (include / "kws_frontend.h").write_text((folder.path / "kws_frontend.h").read_text())
        (tmp_path / f"{name}.cc").write_text(program)
        binary = compile_host([tmp_path / f"{name}.cc"], tmp_path / name, [include], cxx=True,
                              extra=["-ffp-contract=off"])
        out = run([str(binary)], stdin=" ".join(map(str, raw)).encode()).decode().split()
        assert [int(x) for x in out] == quantize_features(raw, fs).tolist(), name
    assert quantize_features(np.array([1, 3]), synthetic).tolist() == [-3, -1]  # 0.5->0, 1.5->2


def _settings(**changes):
    s = copy.deepcopy(TINY_SETTINGS)
    for path, value in changes.items():
        node = s
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is None:
            node.pop(keys[-1])
        else:
            node[keys[-1]] = value
    return s


# A FrontendConfig itself is taken as well as its to_dict().
MFCC_FRONTEND = FrontendConfig.cmsis_mfcc(num_channels=20)
MFCC_SETTINGS = _settings(frontend=MFCC_FRONTEND)


@pytest.mark.parametrize("changes, message", [
    ({"labels": ["a", "b", "c"]}, "cannot tell which output"),
    ({"frontend__kind": "fbank"}, "kind='fbank' is unknown"),
    ({"frontend__stride_ms": 40}, "longer than window_ms"),
    ({"frontend__num_channels": 3}, "whole number"),
    ({"frontend": MFCC_FRONTEND.to_dict() | {"q15": False}}, "arm_mfcc_q15"),
    ({"recognizer__detection_threshold": None}, "exactly one of"),
    ({"recognizer__detection_probability": 0.8}, "exactly one of"),
    ({"frames_per_decision": 2}, "must run on every frame"),
    ({"colour": "blue"}, "unknown settings"),
    ({"frontend__hop_ms": 10}, r"unknown key\(s\) \['hop_ms'\]"),
    ({"tensors": {"features": "frame", "scores": "nope", "states": []}}, "no single model"),
])
def test_settings_errors_are_clear(model, changes, message):
    with pytest.raises(SettingsError, match=message):
        build_settings(_settings(**changes), read_tflite(model), ArenaChoice(4096))


def test_state_quantization_mismatch_is_refused(model):
    info = read_tflite(model)
    state_out = next(t for t in info.outputs if t.signature_name == "new_state")
    drifted = type(state_out)(**{**state_out.__dict__, "scale": 0.01, "zero_point": 3})
    bad = type(info)(**{**info.__dict__, "outputs": tuple(
        drifted if t is state_out else t for t in info.outputs)})
    with pytest.raises(SettingsError, match="quantized differently"):
        build_settings(TINY_SETTINGS, bad, ArenaChoice(4096))


def test_explicit_tensor_names_and_probability_threshold(model):
    fs = build_settings(
        _settings(tensors={"features": "frame", "scores": "scores",
                           "states": [["state", "new_state"]]},
                  recognizer__detection_threshold=None,
                  recognizer__detection_probability=0.8),
        read_tflite(model), ArenaChoice(4096))
    assert fs.roles.features.signature_name == "frame"
    assert fs.recognizer["detection_threshold"] == 205  # round(0.8 * 256) in score units


def test_roles_are_inferred_from_the_signature_names():
    """The converter names every output of a tf.function ``StatefulPartitionedCall:<k>``: only
    the signature names tell the scores from a state output of the same size."""
    from test_recognizer import synthetic_model

    info = synthetic_model(num_labels=8)  # state and scores both have 8 values
    outputs = tuple(dataclasses.replace(t, name=f"StatefulPartitionedCall:{t.index}")
                    for t in info.outputs)
    roles = resolve_tensor_roles(dataclasses.replace(info, outputs=outputs), 8)
    assert tensor_name(roles.scores) == "scores" and tensor_name(roles.features) == "frame"
    assert [(tensor_name(i), tensor_name(o)) for i, o in roles.states] == [("state", "new_state")]


# -- templates (they include TFLM headers, so they are checked by content) ----------------------


def _macros_used(text: str) -> set[str]:
    return set(re.findall(r"\bKWS_[A-Z0-9_]+\b", text))


def _macros_defined(text: str) -> set[str]:
    return set(re.findall(r"#define (KWS_[A-Z0-9_]+)", text))


def test_templates_use_only_defined_settings(folder, model, tmp_path):
    defined = _macros_defined((folder.path / "model_settings.h").read_text()) | _macros_defined(
        (folder.path / "frontend_tables.h").read_text())
    for name in ("kws_main.cc", "kws_frontend.h", "frontend_microfrontend.cc",
                 "recognize_commands.h", "recognize_commands.cc"):
        text = (folder.path / name).read_text()
        missing = _macros_used(text) - defined - _macros_defined(text)
        assert not missing, f"{name} uses undefined {sorted(missing)}"
    main = (folder.path / "kws_main.cc").read_text()
    for needed in ("RegisterModelOps(resolver)", "static ModelOpResolver resolver;",
                   "KWS_MODEL_DATA", "AllocateTensors()", "Invoke()", "ProcessLatestResults",
                   "FrontendProcessStride", '#include "model_data.h"', '#include "model_ops.h"'):
        assert needed in main
    assert "#define KWS_MODEL_DATA                  g_kws_model" in (
        folder.path / "model_settings.h").read_text()
    # The MFCC front end: its settings and its tables' names.
    mfcc = write_firmware_folder(model, MFCC_SETTINGS, tmp_path / "mfcc", arena_bytes=4096,
                                 frontend_tables=mfcc_tables())
    defined = _macros_defined((mfcc.path / "model_settings.h").read_text()) | _macros_defined(
        (mfcc.path / "frontend_tables.h").read_text())
    src = (mfcc.path / "frontend_cmsis_mfcc.cc").read_text()
    assert not _macros_used(src) - defined
    tables = (mfcc.path / "frontend_tables.h").read_text()
    for name in re.findall(r"\b(kws_\w+_coefs|kws_filter_\w+)\b", src):
        assert f" {name}[" in tables


def test_microfrontend_template_sets_each_c_field_from_its_setting(folder):
    """frontend_microfrontend.cc fills the C ``struct FrontendConfig`` with exactly the
    fields and macros of ``FrontendConfig.device_settings()``."""
    src = (folder.path / "frontend_microfrontend.cc").read_text()
    assigned = dict(re.findall(r"^\s*config\.([\w.]+) = (KWS_\w+);", src, re.M))
    rows = [s for s in TINY_FRONTEND.device_settings() if s.c_field]
    assert assigned == {s.c_field: s.macro for s in rows}
    assert TINY_FRONTEND.microfrontend_c_config() == {s.c_field: s.value for s in rows}


def mfcc_tables() -> dict[str, np.ndarray]:
    """Made-up tables of the right shapes (the features module provides the real ones)."""
    lengths = np.full(20, 5, np.uint32)
    return {
        "window_coefs": (np.hanning(1024) * 32767).astype(np.int16),
        "filter_pos": (np.arange(20) * 10).astype(np.uint32),
        "filter_lengths": lengths,
        "filter_coefs": np.full(int(lengths.sum()), 16384, np.int16),
        "dct_coefs": np.ones(10 * 20, np.int16),
    }


# -- folder writer ------------------------------------------------------------------------------


def test_folder_lists_its_files_and_sizes(folder, model):
    names = [f.name for f in folder.files]
    assert names == sorted(names)
    assert set(names) == {
        "README.md", MANIFEST_NAME, "Makefile", "frontend_microfrontend.cc", "frontend_tables.c",
        "frontend_tables.h", "kws_activation_tables.cc", "kws_activation_tables.h",
        "kws_fully_connected.cc", "kws_fully_connected.h", "kws_requantize.h", "kws_frontend.h", "kws_main.cc", "kws_main.h", "model_data.cc",
        "model_data.h", "model_ops.h", "model_settings.h", "recognize_commands.cc",
        "recognize_commands.h", "tflm.mk"}
    for f in folder.files:
        assert (folder.path / f.name).stat().st_size == f.size_bytes
    print("\ntiny model firmware folder:")
    for f in folder.files:
        print(f"  {f.name:28s} {f.size_bytes:7d} bytes")
    readme = (folder.path / "README.md").read_text()
    assert "{{" not in readme and "Arduino" in readme and "Zephyr" in readme
    assert "make TFLM_TREE=" in readme and "-DTF_LITE_STATIC_MEMORY" in readme
    assert str(folder.arena_bytes) in readme


def test_rewriting_is_byte_identical_and_leaves_files_alone(folder, model):
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.path.iterdir()}
    again = write_firmware_folder(model, TINY_SETTINGS, folder.path, frontend_tables=TINY_TABLES)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.path.iterdir()}
    assert after == before  # same bytes, not even rewritten
    assert again.files == folder.files
    files, _, _ = render_firmware_files(model, TINY_SETTINGS, frontend_tables=TINY_TABLES)
    assert {k: v for k, v in files.items()} == {k: v[0] for k, v in before.items()}


def test_switching_front_end_removes_only_our_stale_files(model, tmp_path):
    out = tmp_path / "fw"
    write_firmware_folder(model, MFCC_SETTINGS, out, arena_bytes=4096,
                          frontend_tables=mfcc_tables())
    assert (out / "frontend_tables.c").is_file() and (out / "frontend_cmsis_mfcc.cc").is_file()
    (out / "my_board.cc").write_text("// the user's own file\n")
    write_firmware_folder(model, TINY_SETTINGS, out, arena_bytes=4096,
                          frontend_tables=TINY_TABLES)
    assert "kws_window_coefficients" in (out / "frontend_tables.h").read_text()  # rewritten
    assert not (out / "frontend_cmsis_mfcc.cc").exists()
    assert (out / "frontend_microfrontend.cc").is_file()
    assert (out / "my_board.cc").is_file()


def test_folder_argument_errors(model, tmp_path):
    with pytest.raises(SettingsError, match="multiple of 16"):
        write_firmware_folder(model, TINY_SETTINGS, tmp_path / "a", arena_bytes=1000,
                              frontend_tables=TINY_TABLES)
    with pytest.raises(SettingsError, match="needs frontend_tables"):
        write_firmware_folder(model, MFCC_SETTINGS, tmp_path / "b", arena_bytes=4096)
    bad = mfcc_tables()
    bad["dct_coefs"] = bad["dct_coefs"][:-1]
    with pytest.raises(SettingsError, match="dct_coefs must have 200"):
        write_firmware_folder(model, MFCC_SETTINGS, tmp_path / "c", arena_bytes=4096,
                              frontend_tables=bad)
    with pytest.raises(ValueError, match="C identifier"):
        write_firmware_folder(model, TINY_SETTINGS, tmp_path / "d", array_name="9x",
                              arena_bytes=4096, frontend_tables=TINY_TABLES)
    assert not any((tmp_path / d).exists() for d in "abcd")  # nothing written on error


def test_run_firmware_names_states_from_the_export_roles():
    """An LSTM's two states have one shape: the pairing comes from the converter's roles."""
    from types import SimpleNamespace

    from firmware_export.pipeline import _tensor_names

    def t(name):
        return SimpleNamespace(signature_name=name, name=f"serving_default_{name}:0")

    tflite = SimpleNamespace(inputs=[t("state_0"), t("state_1"), t("frame")],
                             outputs=[t("output_0"), t("output_1"), t("output_2")])
    model = {"input_roles": [1, 2, 0], "output_roles": [2, 0, 1], "state_sizes": [133, 133]}
    assert _tensor_names(model, tflite) == {
        "features": "frame", "scores": "output_1",
        "states": [["state_0", "output_2"], ["state_1", "output_0"]]}


def test_folder_with_tflm_kernels_has_no_tables(model):
    files, _, fs = render_firmware_files(model, TINY_SETTINGS, frontend_tables=TINY_TABLES,
                                         folder_kernels=())
    assert "kws_activation_tables.cc" not in files and fs.arena.table_bytes == 0
    assert "kws_fully_connected.cc" not in files and "kws_requantize.h" not in files
    assert b"kws::" not in files["model_ops.h"] and b"resolver.AddTanh()" in files["model_ops.h"]
    fc_only, _, fs_fc = render_firmware_files(model, TINY_SETTINGS, frontend_tables=TINY_TABLES,
                                              folder_kernels=("FULLY_CONNECTED",))
    assert "kws_fully_connected.cc" in fc_only and "kws_requantize.h" in fc_only
    assert "kws_activation_tables.cc" not in fc_only and "kws_elementwise.cc" not in fc_only
    assert fs_fc.arena.table_bytes == 0
    assert b"AddFullyConnected(kws::Register_FULLY_CONNECTED_INT8())" in fc_only["model_ops.h"]
    with_tables, _, fs_tables = render_firmware_files(model, TINY_SETTINGS,
                                                      frontend_tables=TINY_TABLES)
    # The host-measured arena grows by the tables: 256 B per LOGISTIC/TANH (TANH: two ops in
    # this model), 1 KiB per SOFTMAX.
    assert fs_tables.arena.table_bytes == sum(
        {"LOGISTIC": 256, "TANH": 256, "SOFTMAX": 1024}.get(op, 0)
        for op, _ in read_tflite(model).operator_inputs)
    assert fs_tables.arena.arena_bytes > fs.arena.arena_bytes
    assert b"tables" in with_tables["model_settings.h"]


def test_feature_quantizer_recovers_the_raw_outputs_of_a_normalized_front_end(test12_dir):
    """Python figures quantize float features: with a normalized front end they must still
    give the int8 values the device computes from the raw front-end outputs."""
    from ghost_keras.data import read_clip
    from ghost_keras.features import make_frontend

    from firmware_export.feature_quantizer import FeatureQuantizer

    clip = read_clip(sorted((test12_dir / "yes").glob("*"))[0])
    for config in (FrontendConfig.microfrontend().normalized(mean=4.9, std=7.9),
                   FrontendConfig.cmsis_mfcc().normalized(mean=-3.1, std=5.2)):
        fe = make_frontend(config)
        raw, features = fe.compute_raw(clip), fe.compute(clip)
        q = FeatureQuantizer.for_tensor(scale=float(np.ptp(features)) / 255, zero_point=-7,
                                        input_scale=config.input_scale,
                                        input_offset=config.input_offset)
        np.testing.assert_array_equal(q.raw_from_features(features), raw)
        np.testing.assert_array_equal(q.quantize(features), q.quantize_raw(raw))
