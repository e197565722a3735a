"""State redundancy (the GhostRNN paper's Figs. 1-2): statistics on constructed data, hidden
states against the Keras layer, and the PNG plots."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tf_keras as keras

from ghost_keras.models import build_model
from ghost_keras.redundancy import (
    analyse_model,
    best_other_similarity,
    cluster_order,
    cosine_matrix,
    hidden_states,
    most_similar_pairs,
    plot_cosine_matrix,
    plot_state_values,
    redundancy_stats,
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_duplicated_columns_are_fully_redundant_and_independent_ones_are_not():
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(2000, 8))
    # Units 8..11 are copies (scaled, one negated) of units 0..3: |cos| = 1 with their source.
    copies = independent[:, :4] * np.array([2.0, -1.0, 0.5, 3.0])
    states = np.concatenate([independent, copies], axis=1)
    stats = redundancy_stats(cosine_matrix(states), threshold=0.9)
    assert stats.units == 12
    assert stats.redundant_units == 8  # the 4 sources and their 4 copies
    assert stats.redundant_share == pytest.approx(8 / 12)
    assert stats.pairs_above == 4
    best = best_other_similarity(cosine_matrix(states))
    np.testing.assert_allclose(best[[0, 1, 2, 3, 8, 9, 10, 11]], 1.0, atol=1e-9)
    assert np.all(best[4:8] < 0.15)  # independent N(0,1) columns, 2000 samples
    assert {(i, j) for i, j, _ in stats.top_pairs[:4]} == {(0, 8), (1, 9), (2, 10), (3, 11)}
    signs = {(i, j): c for i, j, c in stats.top_pairs[:4]}
    assert signs[(1, 9)] == pytest.approx(-1.0)  # unit 9 = -unit 1: the sign is kept
    assert signs[(0, 8)] == pytest.approx(1.0)

    only_independent = redundancy_stats(cosine_matrix(independent))
    assert only_independent.redundant_units == 0 and only_independent.pairs_above == 0
    assert only_independent.mean_max_abs_cos < 0.15


def test_all_copies_of_one_signal_give_redundancy_one():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(300, 1))
    stats = redundancy_stats(cosine_matrix(signal * np.array([1.0, -2.0, 0.3, 5.0])))
    assert stats.redundant_share == 1.0
    assert stats.mean_max_abs_cos == pytest.approx(1.0)
    assert stats.mean_abs_cos == pytest.approx(1.0)


def test_cosine_matrix_on_clip_frame_unit_arrays_and_by_hand():
    states = np.array([[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]])  # 1 clip, 2 frames, 3 units
    cos = cosine_matrix(states)
    expected = np.array([[1, 0, 1 / np.sqrt(2)], [0, 1, 1 / np.sqrt(2)],
                         [1 / np.sqrt(2), 1 / np.sqrt(2), 1]])
    np.testing.assert_allclose(cos, expected, atol=1e-12)
    np.testing.assert_allclose(cos, cos.T)


def test_centering_removes_a_shared_offset():
    rng = np.random.default_rng(2)
    # Two independent signals riding on the same large offset: cosine sees them as similar,
    # the centred (Pearson) version does not.
    states = 5.0 + rng.normal(size=(4000, 2))
    assert cosine_matrix(states)[0, 1] > 0.9
    assert abs(cosine_matrix(states, center=True)[0, 1]) < 0.1


def test_dead_unit_has_no_similarity():
    rng = np.random.default_rng(3)
    states = np.concatenate([rng.normal(size=(100, 3)), np.zeros((100, 1))], axis=1)
    cos = cosine_matrix(states)
    assert np.all(np.isfinite(cos))
    np.testing.assert_array_equal(cos[3, :3], 0.0)
    assert cos[3, 3] == 1.0


def test_threshold_is_strict_and_validated():
    cos = np.array([[1.0, 0.9], [0.9, 1.0]])
    assert redundancy_stats(cos, threshold=0.9).redundant_units == 0
    assert redundancy_stats(cos, threshold=0.89).redundant_units == 2
    with pytest.raises(ValueError, match="threshold"):
        redundancy_stats(cos, threshold=1.0)
    with pytest.raises(ValueError, match="square"):
        redundancy_stats(np.ones((2, 3)))


def test_most_similar_pairs_and_cluster_order():
    cos = np.array([[1.0, 0.2, -0.95, 0.0],
                    [0.2, 1.0, 0.1, 0.8],
                    [-0.95, 0.1, 1.0, 0.0],
                    [0.0, 0.8, 0.0, 1.0]])
    assert most_similar_pairs(cos, 2) == [(0, 2, -0.95), (1, 3, 0.8)]
    order = list(cluster_order(cos))
    assert sorted(order) == [0, 1, 2, 3]
    assert abs(order.index(0) - order.index(2)) == 1 and abs(order.index(1) - order.index(3)) == 1


@pytest.mark.parametrize("arch", ["gru", "ghost_gru", "lstm"])
def test_hidden_states_match_the_keras_layer(arch):
    model = build_model(arch, "S", input_shape=(12, 6), num_labels=4)
    x = np.random.default_rng(4).normal(size=(5, 12, 6)).astype("float32")
    states = hidden_states(model, x, batch_size=2)  # several batches
    units = model.get_layer("rnn").units
    assert states.shape == (5, 12, units)
    rnn = model.get_layer("rnn")
    sequence = type(rnn).from_config({**rnn.get_config(), "return_sequences": True})
    seq_model = keras.Sequential([keras.Input((12, 6)), sequence])
    sequence.set_weights(rnn.get_weights())
    np.testing.assert_allclose(states, seq_model.predict(x, verbose=0), atol=1e-5)


def test_hidden_states_errors():
    model = build_model("ds_cnn", "S", input_shape=(12, 6), num_labels=4)
    with pytest.raises(ValueError, match="no recurrent layer"):
        hidden_states(model, np.zeros((1, 12, 6), "float32"))
    gru = build_model("gru", "S", input_shape=(12, 6), num_labels=4)
    with pytest.raises(ValueError, match="no recurrent layer 'nope'"):
        hidden_states(gru, np.zeros((1, 12, 6), "float32"), layer="nope")
    with pytest.raises(ValueError, match="state 1 out of range"):
        hidden_states(gru, np.zeros((1, 12, 6), "float32"), state=1)


def test_ghost_states_are_redundant_by_construction_with_a_linear_cheap_op():
    # With a linear (dense) cheap op and no ghost activation, every ghost unit is a linear
    # combination of the intrinsic units: the state spans only `units / ratio` dimensions.
    model = keras.Sequential([keras.Input((20, 6))])
    from ghost_keras.layers import GhostGRU

    model.add(GhostGRU(16, ratio=4, ghost_activation=None, name="rnn"))
    x = np.random.default_rng(5).normal(size=(30, 20, 6)).astype("float32")
    samples = hidden_states(model, x).reshape(-1, 16)
    singular = np.linalg.svd(samples, compute_uv=False)
    assert np.sum(singular > 1e-4 * singular[0]) == 4


def test_plots_and_analysis_files(tmp_path):
    rng = np.random.default_rng(6)
    states = rng.normal(size=(30, 8))
    cos = cosine_matrix(states)
    for order in ("index", "cluster", list(range(7, -1, -1))):
        path = plot_cosine_matrix(cos, tmp_path / f"cos_{len(str(order))}.png", order=order)
        assert path.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="permutation"):
        plot_cosine_matrix(cos, tmp_path / "bad.png", order=[0, 0, 1, 2, 3, 4, 5, 6])
    assert plot_state_values(states, tmp_path / "values.png").read_bytes()[:8] == PNG
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file

    model = build_model("gru", "S", input_shape=(10, 4), num_labels=3)
    result = analyse_model(model, rng.normal(size=(6, 10, 4)).astype("float32"),
                           out_dir=tmp_path / "run")
    assert result.states.shape == (6, 10, 154) and result.cosine.shape == (154, 154)
    for key in ("cosine_matrix", "state_values"):
        assert result.paths[key].read_bytes()[:8] == PNG
    saved = json.loads(result.paths["json"].read_text())
    assert saved["redundant_units"] == result.stats.redundant_units
    assert saved["samples"] == 60 and saved["units"] == 154
