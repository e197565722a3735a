"""The single-step model reproduces the sequence model frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from ghost_keras.layers import GhostGRU
from ghost_keras.models import build_model
from ghost_keras.streaming import NotStreamableError, is_streamable, run_steps, step_model

X = np.random.default_rng(0).standard_normal((3, 20, 6)).astype("float32")


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


def test_window_models_are_refused_with_a_reason():
    model = build_model("ds_cnn", "S", input_shape=(20, 6))
    assert not is_streamable(model)
    with pytest.raises(NotStreamableError, match="window model"):
        step_model(model)
    bidi = keras.Sequential([keras.Input((20, 6)), keras.layers.Bidirectional(GhostGRU(4))])
    with pytest.raises(NotStreamableError, match="Bidirectional"):
        step_model(bidi)
