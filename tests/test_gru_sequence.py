"""GhostGRU's fused sequence path computes what its cell computes step by step."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from ghost_keras.layers import GhostGRU, GhostGRUCell

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 9, 5)).astype("float32")
INIT = RNG.uniform(-1, 1, (4, 12)).astype("float32")
# Padded ends, a padded start and an all-valid row.
MASK = np.ones((4, 9), bool)
MASK[0, 6:] = False
MASK[1, :3] = False
MASK[2, 1::2] = False

OPTIONS = [
    {"ratio": 1},
    {"ratio": 2},
    {"ratio": 3, "reset_after": False},
    {"ratio": 2, "cheap_op": "depthwise"},
    {"ratio": 3, "ghost_activation": None, "use_bias": False},
    {"ratio": 2, "reset_after": False, "use_bias": False},
]


def _pair(options, **layer_options):
    """The fast layer and Keras' generic RNN around the same cell, sharing weights."""
    keras.utils.set_random_seed(4)
    fast = GhostGRU(12, bias_initializer="random_normal", **options, **layer_options)
    slow = keras.layers.RNN(
        GhostGRUCell(12, bias_initializer="random_normal", **options), **layer_options
    )
    fast(X)
    slow(X)
    slow.set_weights(fast.get_weights())
    return fast, slow


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("unroll", [None, False])
def test_sequence_path_equals_cell_steps(options, go_backwards, unroll):
    fast, slow = _pair(
        options, return_sequences=True, return_state=True, go_backwards=go_backwards,
        unroll=unroll,
    )
    for mask in (None, MASK):
        for got, want in zip(fast(X, mask=mask, initial_state=tf.constant(INIT)),
                             slow(X, mask=mask, initial_state=tf.constant(INIT))):
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("options", OPTIONS[1:3])
def test_sequence_path_gradients_equal_cell_steps(options):
    fast, slow = _pair(options, return_sequences=True)
    target = RNG.standard_normal((4, 9, 12)).astype("float32")
    grads = []
    for layer in (fast, slow):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((layer(X, mask=MASK) - target) ** 2)
        grads.append(tape.gradient(loss, layer.trainable_weights))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


def test_loop_of_unknown_length_equals_cell_steps():
    fast, slow = _pair({"ratio": 2}, return_sequences=True)
    inputs = keras.Input((None, 5))
    np.testing.assert_allclose(keras.Model(inputs, fast(inputs))(X).numpy(),
                               slow(X).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="unroll"):
        GhostGRU(8, unroll=True)(keras.Input((None, 5)))


def test_zero_output_for_mask_and_recurrent_dropout_fallback():
    fast, slow = _pair({"ratio": 2}, return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_allclose(fast(X, mask=MASK).numpy(), slow(X, mask=MASK).numpy(), atol=1e-5)
    # Recurrent dropout goes through the cell; outside training it drops nothing.
    fast, slow = _pair({"ratio": 2, "recurrent_dropout": 0.5, "dropout": 0.3})
    np.testing.assert_allclose(fast(X).numpy(), slow(X).numpy(), atol=1e-5)
    assert fast(X, training=True).shape == (4, 12)
    # Input dropout alone stays on the sequence path: one mask for the whole clip.
    same = np.repeat(X[:1], 4, axis=0)
    for layer in (GhostGRU(12, dropout=0.5), GhostGRU(12, recurrent_dropout=0.5)):
        out = layer(same, training=True).numpy()
        assert not np.allclose(out, layer(same).numpy())
        assert not np.allclose(out[0], out[1])  # each example has its own dropout mask


@pytest.mark.parametrize("unroll", [None, False])
def test_time_major_equals_cell_steps(unroll):
    fast, slow = _pair({"ratio": 2}, return_sequences=True, time_major=True, unroll=unroll)
    x = tf.constant(np.transpose(X, [1, 0, 2]))
    mask = tf.constant(MASK.T)
    np.testing.assert_allclose(fast(x, mask=mask).numpy(), slow(x, mask=mask).numpy(), atol=1e-5)
