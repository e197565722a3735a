"""Per-frame training on long audio (ghost_keras.stream_training; docs/design.md, "Always
listening")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ghost_keras.data import LABELS_12, SILENCE, UNKNOWN
from ghost_keras.data.long_stream import TruthItem, make_long_stream, stream_index
from ghost_keras.features.stream import stream_features
from ghost_keras.features import FrontendConfig
from ghost_keras.stream_training import (
    StreamTrainConfig,
    clip_examples,
    epoch_batches,
    per_frame_twin,
    frame_targets,
    stream_datasets,
    stream_examples,
    stream_train,
)

YES, NO = LABELS_12.index("yes"), LABELS_12.index("no")
SIL, UNK = LABELS_12.index(SILENCE), LABELS_12.index(UNKNOWN)


def test_frame_targets_hold_lead_and_dont_care():
    times = np.arange(0, 6000, 20)  # a frame every 20 ms for 6 s
    truth = [TruthItem("yes", 1.0, 1.5), TruthItem(SILENCE, 3.0, 4.0),
             TruthItem(UNKNOWN, 4.2, 4.6)]
    y, w = frame_targets(truth, times, LABELS_12, hold_ms=500, lead_ms=100)
    t = times / 1000.0
    # while 'yes' is spoken (until 100 ms before its end): no loss
    assert np.all(w[(t >= 1.0) & (t < 1.4)] == 0)
    # from 100 ms before its end to 500 ms after: 'yes'
    held = (t >= 1.4) & (t < 2.0)
    assert np.all(y[held] == YES) and np.all(w[held] == 1)
    assert held.sum() == 30
    # a silence item stays silence; the unknown word gets its label after it
    assert np.all(y[(t >= 3.0) & (t < 4.0)] == SIL)
    assert np.all(y[(t >= 4.5) & (t < 5.1)] == UNK)
    # everything else is silence, with loss
    rest = ~held & ~((t >= 1.0) & (t < 1.4)) & ~((t >= 4.2) & (t < 5.1))
    assert np.all(y[rest] == SIL) and np.all(w[rest] == 1)


def test_whole_unknown_labels_an_unknown_word_while_it_is_spoken():
    times = np.arange(0, 4000, 20)
    truth = [TruthItem("yes", 0.5, 1.0), TruthItem(UNKNOWN, 2.0, 2.6)]
    y, w = frame_targets(truth, times, LABELS_12, hold_ms=500, lead_ms=100,
                         whole_unknown=True)
    t = times / 1000.0
    spoken = (t >= 2.0) & (t < 2.5)
    assert np.all(y[spoken] == UNK) and np.all(w[spoken] == 1)
    assert np.all(y[(t >= 2.5) & (t < 3.1)] == UNK)
    # a keyword's own frames keep no loss while it is spoken
    assert np.all(w[(t >= 0.5) & (t < 0.9)] == 0)
    # without it, the same unknown frames carry no loss
    _, w_plain = frame_targets(truth, times, LABELS_12, hold_ms=500, lead_ms=100)
    assert np.all(w_plain[spoken] == 0)


def test_a_word_inside_the_previous_hold_takes_over_from_its_start():
    times = np.arange(0, 4000, 20)
    truth = [TruthItem("no", 1.6, 2.0), TruthItem("yes", 1.0, 1.4)]  # any order
    y, w = frame_targets(truth, times, LABELS_12, hold_ms=1000, lead_ms=0)
    t = times / 1000.0
    assert np.all(y[(t >= 1.4) & (t < 1.6)] == YES)
    assert np.all(w[(t >= 1.6) & (t < 2.0)] == 0)  # 'no' being spoken: no loss
    assert np.all(y[(t >= 2.0) & (t < 3.0)] == NO)
    assert np.all(y[t >= 3.0] == SIL)


def test_frame_targets_errors():
    times = np.arange(0, 1000, 20)
    with pytest.raises(ValueError, match="'maybe' is not one of the model's"):
        frame_targets([TruthItem("maybe", 0.1, 0.5)], times, LABELS_12)
    with pytest.raises(ValueError, match="no '_silence_'"):
        frame_targets([], times, ["yes", "no"])
    with pytest.raises(ValueError, match="hold_ms"):
        StreamTrainConfig(hold_ms=0)
    with pytest.raises(ValueError, match="sum to at most 1"):
        StreamTrainConfig(keyword_fraction=0.7, unknown_fraction=0.4)


def test_clip_examples_weigh_like_the_clip_loss():
    """A clip sequence is answered at its last frame only, weighted so that the per-frame
    model's mean loss over a batch of them is the clip model's mean clip loss."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GRU(4)(inputs)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 7, 5)).astype(np.float32)
    y = rng.integers(3, size=10)
    xs, ys, ws = clip_examples(x, y, 0.5, seed=1)
    assert xs.shape == (5, 7, 5) and ys.shape == ws.shape == (5, 7)
    assert np.all(ws[:, :-1] == 0) and np.all(ws[:, -1] == 7)
    assert np.all(ys == ys[:, :1])  # the clip's label at every frame (only the last counts)
    drawn = [int(np.flatnonzero(np.all(x == c, axis=(1, 2)))[0]) for c in xs]
    assert len(set(drawn)) == 5 and np.all(y[drawn] == ys[:, 0])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    per_frame = float(loss(ys, per_frame_twin(model)(xs), sample_weight=ws))
    per_clip = float(loss(ys[:, -1], model(xs)))
    assert per_frame == pytest.approx(per_clip, rel=1e-5)
    assert np.array_equal(clip_examples(x, y, 0.5, seed=1)[0], xs)
    assert not np.array_equal(clip_examples(x, y, 0.5, seed=2)[0], xs)


def test_epoch_batches_hold_every_sequence_once_in_batches_of_both_kinds():
    rng = np.random.default_rng(0)
    streams = (rng.normal(size=(10, 40, 3)).astype(np.float32), np.zeros((10, 40), np.int32),
               np.ones((10, 40), np.float32))
    clips = (rng.normal(size=(25, 10, 3)).astype(np.float32), np.ones((25, 10), np.int32),
             np.ones((25, 10), np.float32))
    batches, count = epoch_batches(streams, clips, batch_size=4, seed=0)
    shapes = [tuple(x.shape) for x, _, _ in batches.as_numpy_iterator()]
    assert count == len(shapes) == 3 + 2  # 4+4+2 stream sequences, 16+9 clips (same frames)
    assert sorted(s[0] for s in shapes if s[1] == 40) == [2, 4, 4]
    assert sorted(s[0] for s in shapes if s[1] == 10) == [9, 16]
    orders = [[tuple(x.shape) for x, _, _ in epoch_batches(streams, clips, 4, seed)[0]
               .as_numpy_iterator()] for seed in range(6)]
    assert len({tuple(o) for o in orders}) > 1  # the kinds are interleaved, in a seeded order
    only, n = epoch_batches(streams, None, batch_size=4, seed=0)
    assert n == 3 and [x.shape[1] for x, _, _ in only.as_numpy_iterator()] == [40] * 3


def test_per_frame_twin_is_built_from_the_layers_own_configs():
    """A model no run config describes (two recurrent layers, a GRU without reset_after, a
    hidden Dense): the twin's output at frame t is the clip model's on the first t frames."""
    import tf_keras as keras

    from ghost_keras.layers import GhostGRU

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 6))
    h = GhostGRU(8, ratio=2, return_sequences=True)(inputs)
    h = keras.layers.GRU(5, reset_after=False)(h)
    logits = keras.layers.Dense(3)(keras.layers.Dense(4, activation="relu")(h))
    model = keras.Model(inputs, logits)
    twin = per_frame_twin(model)
    x = np.random.default_rng(1).normal(size=(2, 12, 6)).astype(np.float32)
    per_frame = twin(x).numpy()
    assert per_frame.shape == (2, 12, 3)
    for t in (1, 7, 12):
        np.testing.assert_allclose(per_frame[:, t - 1], model(x[:, :t]).numpy(), atol=1e-5)
    # A copy of the weights, not the same variables: training the twin leaves the model as is.
    twin.layers[-1].kernel.assign_add(np.ones((4, 3), np.float32))
    np.testing.assert_allclose(per_frame[:, -1], model(x).numpy(), atol=1e-5)


def test_stream_examples_are_cut_from_the_truth_and_deterministic(exported_run: Path):
    config = json.loads((exported_run / "config.json").read_text())
    index = stream_index(config["train"]["split_dirs"][0], run_dir=exported_run)
    fe = FrontendConfig.from_dict(config["frontend"])
    cfg = StreamTrainConfig(chunk_frames=100, segment_minutes=0.5)
    x, y, w = stream_examples(index, fe, LABELS_12, "train", 1.0, seed=3, config=cfg)
    assert x.shape[1:] == (100, fe.feature_dim) and y.shape == w.shape == x.shape[:2]
    # two 30-s segments of 1,499 frames, each cut at a random offset into 100-frame chunks
    assert 2 * 13 <= len(x) <= 2 * 14
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert set(np.unique(w)) == {0.0, 1.0}
    keyword_frames = np.isin(y, [LABELS_12.index(k) for k in LABELS_12[2:]]).mean()
    assert 0.1 < keyword_frames < 0.8  # words held for 1 s among gaps of 0.3-2 s
    again = stream_examples(index, fe, LABELS_12, "train", 1.0, seed=3, config=cfg)
    for a, b in zip((x, y, w), again):
        np.testing.assert_array_equal(a, b)
    other = stream_examples(index, fe, LABELS_12, "train", 1.0, seed=4, config=cfg)
    assert not np.array_equal(other[1][: min(len(y), len(other[1]))], y[: len(other[1])])


@pytest.fixture(scope="module")
def stream_run(exported_run: Path, tmp_path_factory) -> tuple[Path, dict]:
    """The real exported run fine-tuned per frame for two short epochs."""
    out = tmp_path_factory.mktemp("stream") / "stream_run"
    cfg = StreamTrainConfig(epochs=2, minutes_per_epoch=4, segment_minutes=2,
                            validation_minutes=1, chunk_frames=150, seed=0)
    return out, stream_train(exported_run, out, cfg, verbose=0)


def test_stream_training_lowers_the_per_frame_loss_and_keeps_a_clip_model(
        exported_run: Path, stream_run):
    out, metrics = stream_run
    losses = metrics["stream_val_loss"]
    assert len(losses) == 3  # epoch 0 (the clip-trained model) and two epochs
    # A clip-trained model read at every frame is far from per-frame targets; two short
    # epochs of per-frame training must close part of that gap on the validation stream.
    assert metrics["kept_epoch"] >= 1 and min(losses) < 0.9 * losses[0]
    # Still a clip model: clearly above chance (1/12) on the clip test split.
    assert metrics["test_clips"] > 0 and metrics["test_accuracy"] > 2 / 12
    config = json.loads((out / "config.json").read_text())
    assert config["stream_training"]["epochs"] == 2
    assert config["source_run"] == str(exported_run)
    assert config["train"]["out_dir"] == str(out)
    assert not (out / "export").exists()

    # model.keras is the clip-shaped model whose head reads the last state: the per-frame twin
    # built from it gives the same logits at a clip's last frame.
    import tf_keras as keras

    model = keras.models.load_model(out / "model.keras")
    assert model.output_shape == (None, len(LABELS_12))
    twin = per_frame_twin(model)
    x = np.random.default_rng(0).normal(size=(3, 49, 40)).astype(np.float32)
    np.testing.assert_allclose(twin(x).numpy()[:, -1], model(x).numpy(), atol=1e-5)


def test_stream_training_with_clips_mixes_them_into_training_and_qat(exported_run: Path,
                                                                    tmp_path: Path):
    cfg = StreamTrainConfig(epochs=1, minutes_per_epoch=2, segment_minutes=1,
                            validation_minutes=1, chunk_frames=150, clip_share=0.2, seed=0)
    metrics = stream_train(exported_run, tmp_path / "run", cfg, verbose=0)
    assert metrics["test_accuracy"] > 2 / 12
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["stream_training"]["clip_share"] == 0.2
    # QAT of such a run trains on the same mix: stream and clip sequences.
    train, _ = stream_datasets(config, seed=0)
    frames = {x.shape[1] for x, _, _ in train.as_numpy_iterator()}
    assert frames == {150, 49}
    with pytest.raises(ValueError, match="clip_share"):
        StreamTrainConfig(clip_share=1.5)


def test_stream_training_refuses_window_models_and_its_own_folder(exported_run: Path,
                                                                  tmp_path: Path):
    from ghost_keras.models import build_model

    with pytest.raises(ValueError, match="out_dir must differ"):
        stream_train(exported_run, exported_run)
    run = tmp_path / "ds_cnn_run"
    run.mkdir()
    config = json.loads((exported_run / "config.json").read_text())
    config["train"]["arch"] = "ds_cnn"
    (run / "config.json").write_text(json.dumps(config))
    build_model("ds_cnn", "S", (49, 40), 12).save(run / "model.keras")
    with pytest.raises(ValueError, match="window model"):
        stream_train(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_stream_train_reports_errors_cleanly(exported_run: Path, capsys):
    from ghost_keras.cli import main

    assert main(["stream-train", str(exported_run), "--out", str(exported_run)]) == 2
    assert "out_dir must differ" in capsys.readouterr().err


def test_qat_of_a_stream_trained_run_is_per_frame_and_its_int8_model_follows_it(
        stream_run, tmp_path: Path, capsys):
    """``qat`` on a stream-trained run fine-tunes per frame on new training streams and saves
    the clip-shaped QAT model export reads; the int8 step model exported from it, run on TFLM
    over a validation stream, gives the per-frame answers of the float model it came from (a
    garbled weight or range transfer would not)."""
    import shutil

    from firmware_export.evaluate import argmax_agreement, load_export, run_float_step, run_tflm
    from firmware_export.pipeline import export_run
    from ghost_keras.quantization import qat_model_path, qat_run
    from ghost_keras.training import load_run

    run = tmp_path / "run"
    shutil.copytree(stream_run[0], run)
    accuracy = qat_run(run, epochs=1, verbose=0)
    metrics = json.loads((run / "qat" / "metrics.json").read_text())
    assert metrics["per_frame"] and len(metrics["val_loss_by_epoch"]) == 1
    assert accuracy > 2 / 12 and metrics["test_accuracy"] == accuracy
    from ghost_keras.quantization import load_qat_model

    assert load_qat_model(qat_model_path(run)).output_shape == (None, len(LABELS_12))
    assert export_run(run).source == "qat"
    with pytest.raises(ValueError, match="stream-trained"):  # clips cannot judge it
        export_run(run, int8_from="best")
    config = json.loads((run / "config.json").read_text())
    index = stream_index(config["train"]["split_dirs"][0], run_dir=run)
    audio, _ = make_long_stream(index, 60.0, seed=5, split="validation")
    loaded = load_export(run)
    features, times = stream_features(audio, loaded.frontend)
    int8 = run_tflm(loaded.exported, features, times)
    model, _ = load_run(run)
    agree = argmax_agreement(int8, run_float_step(model, features, times))["agreement"]
    with capsys.disabled():
        print(f"\nper-frame QAT int8 (TFLM) vs float step: frame argmax agreement {agree:.1%}")
    assert agree >= 0.9
