"""Shared by the firmware tests: a tiny int8 step model, compilers, small C programs.

Holds no tests itself. Other test modules import it by name (``from test_firmware_helpers
import ...``): pytest's default "prepend" import mode puts ``tests/`` on ``sys.path`` and
registers this module once, so the ``lru_cache`` below converts the model once per session.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import ghost_keras  # noqa: F401  (selects tf-keras before TensorFlow is imported)
from firmware_export.tflite_model import TfliteModelInfo, read_tflite
from ghost_keras.features.config import FrontendConfig
from ghost_keras.features.microfrontend_tables import microfrontend_tables

HOST_CXXFLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"]
HOST_CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-Os", "-Wall", "-Wextra", "-Werror"]

LABELS = ["_silence_", "_unknown_", "yes", "no"]

TINY_FRONTEND = FrontendConfig.microfrontend(num_channels=10)
TINY_TABLES = microfrontend_tables(TINY_FRONTEND)

TINY_SETTINGS = {
    "labels": LABELS,
    "frontend": TINY_FRONTEND.to_dict(),  # as a run's config.json holds it
    "recognizer": {
        "average_window_ms": 1000,
        "detection_threshold": 200,
        "suppression_ms": 1500,
        "minimum_count": 3,
    },
}


def require_tool(name: str) -> str:
    """Path of a compiler/binutil; a missing one skips the test, or fails it when
    GHOST_KERAS_REQUIRE_TOOLS=1 (CI), so that CI can never pass by skipping."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not found on PATH"
    if os.environ.get("GHOST_KERAS_REQUIRE_TOOLS") == "1":
        pytest.fail(reason + " (GHOST_KERAS_REQUIRE_TOOLS=1)")
    pytest.skip(reason)


def run(cmd: list[str], stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    """Runs ``cmd``; on failure the assertion shows the compiler's/program's output."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
        f"{proc.stdout.decode(errors='replace')[-3000:]}\n{proc.stderr.decode(errors='replace')}"
    )
    return proc.stdout


def compile_host(sources: list[Path], out: Path, include_dirs: list[Path], *, cxx: bool,
                 extra: list[str] = ()) -> Path:
    """Compiles and links a host program with -Wall -Wextra -Werror."""
    compiler = require_tool("g++" if cxx else "gcc")
    flags = HOST_CXXFLAGS if cxx else HOST_CFLAGS
    run([compiler, *flags, *extra, *[f"-I{d}" for d in include_dirs],
         *map(str, sources), "-o", str(out), "-lm"])
    return out


@functools.lru_cache(maxsize=None)
def tiny_model() -> bytes:
    """A GRU-like int8 step model: inputs ``frame`` [1,10] and ``state`` [1,16]; outputs
    ``scores`` [1,4] (softmax) and ``new_state`` [1,16]. The state is wrapped in a fixed
    fake-quant range [-1, 127/128] going in and out, so both ends get scale 1/128, zero point 0
    (docs/design.md, "The state in a fixed int8 range"). The converter orders the tensors state-first."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    frame = keras.Input(shape=(10,), batch_size=1, name="frame")
    state = keras.Input(shape=(16,), batch_size=1, name="state")
    a = keras.layers.Dense(8, activation="tanh")(frame)
    b = keras.layers.Dense(8, activation="tanh")(state)
    new_state = keras.layers.Dense(16, activation="tanh")(keras.layers.Concatenate()([a, b]))
    probs = keras.layers.Softmax()(keras.layers.Dense(4)(new_state))
    model = keras.Model([frame, state], [probs, new_state])

    spec = [tf.TensorSpec([1, 10], tf.float32, name="frame"),
            tf.TensorSpec([1, 16], tf.float32, name="state")]

    @tf.function(input_signature=spec)
    def step(frame, state):
        fq = functools.partial(tf.quantization.fake_quant_with_min_max_args,
                               min=-1.0, max=127 / 128, num_bits=8)
        scores, new = model([frame, fq(state)])
        return {"scores": scores, "new_state": fq(new)}

    rng = np.random.default_rng(0)

    def representative():
        # Order of the converted model's inputs (state, frame), not of the signature.
        for _ in range(64):
            yield [rng.uniform(-1, 1, (1, 16)).astype(np.float32),
                   rng.normal(size=(1, 10)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [step.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def assert_int8_interface(model: bytes | str | os.PathLike) -> TfliteModelInfo:
    """Asserts what the firmware needs of an exported model: int8 inputs and outputs, and no
    QUANTIZE or DEQUANTIZE operator (the firmware feeds its int8 features and states directly;
    a float edge would make it convert every frame). Returns the model's ``TfliteModelInfo``.

    Args:
        model: The .tflite bytes or path.
    """
    info = read_tflite(model)
    converting = sorted({"QUANTIZE", "DEQUANTIZE"} & set(info.ops))
    assert not converting, f"the model has {converting} operators; its ops: {info.ops}"
    for tensor in (*info.inputs, *info.outputs):
        assert tensor.dtype == "int8", f"{tensor.signature_name or tensor.name}: {tensor.type_name}"
    return info


@functools.lru_cache(maxsize=None)
def unsupported_op_model() -> bytes:
    """A float model whose only op, TOPK_V2, has no TFLM kernel."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def top2(x):
        return tf.math.top_k(x, k=2).values

    converter = tf.lite.TFLiteConverter.from_concrete_functions([top2.get_concrete_function()])
    return bytes(converter.convert())


def tflite_interpreter(model: bytes, *, preserve_all_tensors: bool = False):
    """``tf.lite.Interpreter`` on ``model`` with TFLite's *reference* kernels (BUILTIN_REF, the
    ones TFLM's kernels were ported from; the default would use XNNPACK, which rounds
    differently), allocated, without its deprecation warning."""
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(
            model_content=model,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=preserve_all_tensors,
        )
    interp.allocate_tensors()
    return interp


def tflite_ops(model: bytes) -> list[str]:
    """Op names in order of first use, read through tf.lite.Interpreter (independently of
    firmware_export.tflite_model)."""
    ops: list[str] = []
    for op in tflite_interpreter(model)._get_ops_details():
        if op["op_name"] not in ops:
            ops.append(op["op_name"])
    return ops
