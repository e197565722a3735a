"""The single-step model reproduces the sequence model frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from ghost_keras.layers import GhostGRU
from ghost_keras.models import build_model
from ghost_keras.step_runner import KerasStepRunner
from ghost_keras.streaming import NotStreamableError, is_streamable, step_model

X = np.random.default_rng(0).standard_normal((3, 20, 6)).astype("float32")


def run_steps(step: keras.Model, x: np.ndarray) -> np.ndarray:
    """The step model's output after every frame of ``x``, from zero states."""
    return KerasStepRunner(step, batch=len(x)).run(x).outputs


@pytest.mark.parametrize("arch", ["gru", "ghost_gru", "lstm", "ghost_lstm"])
def test_step_model_reproduces_last_output(arch):
    keras.utils.set_random_seed(0)
    model = build_model(arch, "S", input_shape=(20, 6), num_labels=5)
    step = step_model(model)
    assert len(step.inputs) == (3 if "lstm" in arch else 2)
    np.testing.assert_allclose(run_steps(step, X)[:, -1], model(X).numpy(), atol=1e-5)


def test_per_frame_model_matches_every_frame():
    model = build_model("ghost_gru", "S", input_shape=(20, 6), num_labels=5, per_frame=True)
    np.testing.assert_allclose(run_steps(step_model(model), X), model(X).numpy(), atol=1e-5)


def test_layer_step_model_has_explicit_state():
    layer = GhostGRU(8, ratio=2, return_sequences=True)
    seq = layer(X).numpy()
    step = layer.step_model()
    out, state = step([X[:, 0], np.zeros((3, 8), "float32")])
    np.testing.assert_allclose(out.numpy(), seq[:, 0], atol=1e-6)
    np.testing.assert_allclose(state.numpy(), seq[:, 0], atol=1e-6)
    np.testing.assert_allclose(run_steps(step, X), seq, atol=1e-5)


def test_keras_runner_carries_the_states_across_calls_and_chunks():
    keras.utils.set_random_seed(0)
    step = step_model(build_model("ghost_lstm", "S", input_shape=(20, 6), num_labels=5))
    whole = KerasStepRunner(step, batch=3).run(X, return_states=True)
    sizes = [int(t.shape[-1]) for t in step.inputs[1:]]
    assert len(sizes) == 2  # LSTM: h and c
    assert [s.shape for s in whole.states] == [(3, 20, size) for size in sizes]
    runner = KerasStepRunner(step, batch=3, chunk=3)
    parts = [runner.run(X[:, :7], return_states=True), runner.run(X[:, 7:], return_states=True)]
    np.testing.assert_allclose(np.concatenate([p.outputs for p in parts], axis=1), whole.outputs,
                               atol=1e-6)
    for k in range(2):
        np.testing.assert_allclose(np.concatenate([p.states[k] for p in parts], axis=1),
                                   whole.states[k], atol=1e-6)
        np.testing.assert_allclose(runner.states[k], whole.states[k][:, -1], atol=1e-6)
    runner.reset()
    np.testing.assert_allclose(runner.run(X[:, :7]).outputs, whole.outputs[:, :7], atol=1e-6)
    assert runner.run(X[:, :0]).outputs.shape == (3, 0, 5)
    with pytest.raises(ValueError, match="runner's batch"):
        runner.run(X[:2])


def test_window_models_are_refused_with_a_reason():
    model = build_model("ds_cnn", "S", input_shape=(20, 6))
    assert not is_streamable(model)
    with pytest.raises(NotStreamableError, match="window model"):
        step_model(model)
    bidi = keras.Sequential([keras.Input((20, 6)), keras.layers.Bidirectional(GhostGRU(4))])
    with pytest.raises(NotStreamableError, match="Bidirectional"):
        step_model(bidi)
