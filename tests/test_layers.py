"""GhostGRU / GhostLSTM: equivalence with Keras at ratio 1, Keras RNN features, serialization."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from ghost_keras.layers import GhostGRU, GhostGRUCell, GhostLSTM, GhostLSTMCell, GhostMap

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 9, 5)).astype("float32")


def _copy_into(ghost_layer, keras_layer, x):
    ghost_layer(x)
    keras_layer(x)
    ghost_layer.set_weights(keras_layer.get_weights())


@pytest.mark.parametrize("reset_after", [True, False])
def test_ratio_one_equals_keras_gru(reset_after):
    keras.utils.set_random_seed(1)
    ref = keras.layers.GRU(12, reset_after=reset_after, return_sequences=True,
                           bias_initializer="random_normal")
    ghost = GhostGRU(12, ratio=1, reset_after=reset_after, return_sequences=True)
    _copy_into(ghost, ref, X)
    np.testing.assert_allclose(ghost(X).numpy(), ref(X).numpy(), atol=1e-5)


def test_ratio_one_equals_keras_lstm():
    keras.utils.set_random_seed(2)
    ref = keras.layers.LSTM(10, return_sequences=True, bias_initializer="random_normal")
    ghost = GhostLSTM(10, ratio=1, return_sequences=True)
    _copy_into(ghost, ref, X)
    np.testing.assert_allclose(ghost(X).numpy(), ref(X).numpy(), atol=1e-5)


def _numpy_ghost_gru(x, kernel, rec, bias, gk, gb, m):
    """The Ghost GRU cell equations (docs/design.md, "The Ghost cells"), written out in numpy."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    units = rec.shape[0]
    state = np.zeros((x.shape[0], units), np.float32)
    for t in range(x.shape[1]):
        h, g = state[:, :m], state[:, m:]
        xp = x[:, t] @ kernel + bias[0]
        r = sig(xp[:, m:2 * m] + state @ rec[:, m:2 * m] + bias[1, m:2 * m])
        z = sig(xp[:, :m] + state @ rec[:, :m] + bias[1, :m])
        c = np.tanh(xp[:, 2 * m:] + r * (h @ rec[:m, 2 * m:] + bias[1, 2 * m:]) + g @ rec[m:, 2 * m:])
        h = z * h + (1 - z) * c
        state = np.concatenate([h, np.tanh(h @ gk + gb)], axis=1)
    return state


def test_ghost_gru_matches_the_cell_equations():
    keras.utils.set_random_seed(3)
    layer = GhostGRU(12, ratio=3, bias_initializer="random_normal")
    out = layer(X).numpy()
    kernel, rec, bias, gk, gb = layer.get_weights()
    assert kernel.shape == (5, 12) and rec.shape == (12, 12) and gk.shape == (4, 8)
    np.testing.assert_allclose(out, _numpy_ghost_gru(X, kernel, rec, bias, gk, gb, 4), atol=1e-5)


def test_state_is_intrinsic_then_ghost_and_bounded():
    layer = GhostGRU(16, ratio=2, return_state=True)
    out, state = layer(X * 50)
    np.testing.assert_array_equal(out.numpy(), state.numpy())
    assert np.all(np.abs(state.numpy()) <= 1.0)  # tanh of float32 saturates at exactly 1


@pytest.mark.parametrize("cheap_op,ghost_activation", [("dense", None), ("depthwise", "tanh")])
def test_cheap_op_options(cheap_op, ghost_activation):
    layer = GhostGRU(10, ratio=3, cheap_op=cheap_op, ghost_activation=ghost_activation)
    assert layer(X).shape == (4, 10)
    ghost_weights = layer.cell.ghost_map.get_weights()
    expected = (3, 7) if cheap_op == "dense" else (7,)
    assert ghost_weights[0].shape == expected
    if cheap_op == "depthwise":  # ghost i copies intrinsic unit i mod m, scaled and shifted
        h = layer.cell.ghost_map(tf.constant([[0.1, -0.2, 0.3]])).numpy()
        np.testing.assert_allclose(h[0, :4], np.tanh([0.1, -0.2, 0.3, 0.1]), atol=1e-6)


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="cheap_op"):
        GhostGRU(8, cheap_op="fft")
    with pytest.raises(ValueError, match="ratio"):
        GhostGRU(4, ratio=8)
    with pytest.raises(ValueError, match="ratio"):
        GhostLSTM(4, ratio=0)
    with pytest.raises(ValueError, match="cheap_op"):
        GhostMap("conv", 2, 2)


@pytest.mark.parametrize("layer_class", [GhostGRU, GhostLSTM])
@pytest.mark.parametrize("options, message", [
    ({"units": 8.5}, r"units must be an integer, got 8\.5; pass a whole number"),
    ({"units": 8, "ratio": 2.5}, r"ratio must be an integer, got 2\.5; pass a whole number"),
    ({"units": 8, "ratio": "2"}, r"ratio must be an integer, got '2'"),
])
def test_fractional_units_or_ratio_are_refused_not_truncated(layer_class, options, message):
    with pytest.raises(ValueError, match=message):
        layer_class(**options)


def test_integral_floats_are_accepted_as_integers():
    assert GhostGRU(8.0, ratio=2.0).cell.intrinsic_units == 4


def test_return_sequences_state_initial_state_and_backwards():
    layer = GhostGRU(8, ratio=2, return_sequences=True, return_state=True)
    seq, state = layer(X)
    assert seq.shape == (4, 9, 8) and state.shape == (4, 8)
    np.testing.assert_allclose(seq[:, -1].numpy(), state.numpy(), atol=1e-6)
    init = tf.fill([4, 8], 0.5)
    seq2, _ = layer(X, initial_state=init)
    assert not np.allclose(seq2.numpy(), seq.numpy())
    back = GhostGRU(8, ratio=2, go_backwards=True)
    back(X)
    back.set_weights(layer.get_weights())
    fwd_on_reversed = layer(X[:, ::-1])[1]
    np.testing.assert_allclose(back(X).numpy(), fwd_on_reversed.numpy(), atol=1e-5)


def test_masking_skips_padded_steps():
    x = X.copy()
    x[:, 6:] = 0.0
    inputs = keras.Input((9, 5))
    masked = keras.layers.Masking(0.0)(inputs)
    layer = GhostGRU(8, ratio=2)
    model = keras.Model(inputs, layer(masked))
    np.testing.assert_allclose(model(x).numpy(), layer(X[:, :6]).numpy(), atol=1e-5)


def test_stateful_carries_state_between_calls():
    layer = GhostGRU(6, ratio=2, stateful=True)
    model = keras.Sequential([keras.Input((9, 5), batch_size=4), layer])
    first = model(X).numpy()
    second = model(X).numpy()
    assert not np.allclose(first, second)
    layer.reset_states()
    np.testing.assert_allclose(model(X).numpy(), first, atol=1e-6)


def test_dropout_only_in_training():
    layer = GhostGRU(8, ratio=2, dropout=0.5, recurrent_dropout=0.5)
    a = layer(X, training=False).numpy()
    np.testing.assert_allclose(layer(X, training=False).numpy(), a)
    assert not np.allclose(layer(X, training=True).numpy(), a)


def test_bidirectional_and_stacked_lstm():
    model = keras.Sequential([
        keras.Input((9, 5)),
        keras.layers.Bidirectional(GhostGRU(8, ratio=2, return_sequences=True)),
        GhostLSTM(6, ratio=2),
    ])
    assert model(X).shape == (4, 6)


def _model(layer):
    inputs = keras.Input((9, 5))
    return keras.Model(inputs, keras.layers.Dense(3)(layer(inputs)))


@pytest.mark.parametrize("fmt", ["keras", "h5", "tf"])
def test_save_and_reload_identical(tmp_path, fmt):
    keras.utils.set_random_seed(4)
    model = _model(GhostGRU(8, ratio=2, cheap_op="depthwise", reset_after=False))
    path = tmp_path / ("m.keras" if fmt == "keras" else "m.h5" if fmt == "h5" else "saved")
    model.save(path) if fmt != "tf" else model.save(path, save_format="tf")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(X).numpy(), model(X).numpy(), atol=1e-6)


def test_lstm_save_and_reload(tmp_path):
    model = _model(GhostLSTM(8, ratio=2))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(X).numpy(), model(X).numpy(), atol=1e-6)


@pytest.mark.parametrize("layer_class", [GhostGRU, GhostLSTM])
def test_config_round_trip_every_option(layer_class):
    options = dict(
        units=9, ratio=3, cheap_op="depthwise", ghost_activation=None, activation="relu",
        recurrent_activation="hard_sigmoid", use_bias=False,
        kernel_initializer="he_normal", recurrent_initializer="glorot_normal",
        bias_initializer="ones", ghost_initializer="lecun_normal",
        kernel_regularizer="l2", recurrent_regularizer="l1", bias_regularizer="l1_l2",
        ghost_regularizer="l2", activity_regularizer="l1",
        kernel_constraint="max_norm", recurrent_constraint="non_neg",
        bias_constraint="unit_norm", ghost_constraint="max_norm",
        dropout=0.25, recurrent_dropout=0.125, return_sequences=True, return_state=True,
        go_backwards=True, stateful=False, unroll=True, name="my_rnn",
    )
    if layer_class is GhostGRU:
        options["reset_after"] = False
    else:
        options["unit_forget_bias"] = False
    layer = layer_class(**options)
    config = layer.get_config()
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    for key in ("units", "ratio", "cheap_op", "dropout", "recurrent_dropout", "use_bias"):
        assert getattr(clone, key) == options[key], key
    assert config["ghost_activation"] == "linear"
    assert clone.return_state and clone.go_backwards and clone.unroll
    revived = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(revived) is layer_class and revived.get_config() == config


def test_cells_work_in_plain_keras_rnn():
    assert keras.layers.RNN(GhostGRUCell(8))(X).shape == (4, 8)
    assert keras.layers.RNN(GhostLSTMCell(8, ratio=4))(X).shape == (4, 8)


def test_mixed_precision_runs():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model(GhostGRU(8, ratio=2))
        model.compile("adam", keras.losses.MeanSquaredError())
        model.fit(X, np.zeros((4, 3), "float32"), epochs=1, verbose=0)
        assert model.layers[1].compute_dtype == "float16"
        assert np.all(np.isfinite(model(X).numpy()))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_fit_reduces_loss_on_a_sequence_task():
    """Classify whether the running sum of a noisy sequence ends above zero."""
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((512, 12, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((12, 3)), GhostGRU(16, ratio=2), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0]
    assert history.history["accuracy"][-1] > 0.85


def test_first_cells_get_the_plain_names_in_a_fresh_process():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = """
import ghost_keras
import ghost_keras.quantization  # decorates the quantized layers too
from ghost_keras.layers import GhostGRUCell, GhostLSTMCell
print(GhostGRUCell(8).name, GhostLSTMCell(8).name)
"""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ghost_gru_cell", "ghost_lstm_cell"]


@pytest.mark.parametrize("layer_class", [GhostGRU, GhostLSTM])
def test_every_cell_option_is_a_layer_property(layer_class):
    layer = layer_class(6, ratio=3)
    options = set(layer.cell.get_config()) - {"name", "trainable", "dtype"}
    assert {option: getattr(layer, option) for option in options} == {
        option: getattr(layer.cell, option) for option in options}
    assert all(isinstance(getattr(layer_class, option), property) for option in options)
