"""The training-recipe options (issue 14): SpecAugment masks, class-balanced sampling, the
schedules, optimizer and loss, the TrainConfig fields, and the default real-data assembly.
Fast: no training; the data test only indexes file names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ghost_keras  # noqa: F401  (tf-keras before tensorflow)
import tf_keras as keras
from ghost_keras.data import (AugmentConfig, NoisePool, SpecAugmentConfig, balanced_order,
                              mask_features)
from ghost_keras.recipe import (SmoothedSparseCrossentropy, learning_rate_schedule, make_loss,
                                make_optimizer)
from ghost_keras.training import TrainConfig, load_index


# ---------------------------------------------------------------- SpecAugment masks


def _bands(changed: np.ndarray) -> list[tuple[int, int]]:
    """(start, width) of each run of True."""
    runs, start = [], None
    for i, flag in enumerate(list(changed) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def test_masks_cover_whole_frames_and_channels_within_the_widths():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 1.0, (49, 40)).astype(np.float32)
    config = SpecAugmentConfig(time_masks=1, time_mask_frames=10)
    for seed in range(50):
        y = mask_features(x, config, np.random.default_rng(seed))
        assert y.shape == x.shape and y.dtype == x.dtype
        changed = (y != x)
        rows = changed.all(axis=1)
        # Only whole frames change, in one band of at most 10, set to the clip's mean.
        assert (changed.any(axis=1) == rows).all()
        bands = _bands(rows)
        assert len(bands) <= 1 and all(w <= 10 for _, w in bands)
        np.testing.assert_allclose(y[rows], np.float32(x.mean()))
    freq = SpecAugmentConfig(freq_masks=2, freq_mask_bins=8)
    widths = []
    for seed in range(50):
        y = mask_features(x, freq, np.random.default_rng(seed))
        cols = (y != x).all(axis=0)
        assert ((y != x).any(axis=0) == cols).all()
        widths += [w for _, w in _bands(cols)]
        assert cols.sum() <= 16
    assert max(widths) > 4  # widths are drawn up to the maximum, not stuck at small values


def test_masks_are_deterministic_per_seed_and_differ_between_seeds():
    x = np.arange(49 * 40, dtype=np.float32).reshape(49, 40)
    config = SpecAugmentConfig(2, 10, 2, 8)
    a = mask_features(x, config, np.random.default_rng([0, 4, 1, 7]))
    b = mask_features(x, config, np.random.default_rng([0, 4, 1, 7]))
    c = mask_features(x, config, np.random.default_rng([0, 4, 2, 7]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, x)  # the input is not masked in place
    assert np.array_equal(x, np.arange(49 * 40, dtype=np.float32).reshape(49, 40))


def test_no_masks_leave_features_and_generator_untouched():
    x = np.ones((49, 40), np.float32)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    for config in (SpecAugmentConfig(), SpecAugmentConfig(time_masks=2),
                   SpecAugmentConfig(freq_mask_bins=8)):
        assert not config.enabled
        assert mask_features(x, config, rng) is x
    assert rng.bit_generator.state == state


@pytest.mark.parametrize("field", ["time_masks", "time_mask_frames", "freq_masks",
                                   "freq_mask_bins"])
def test_bad_mask_settings_are_refused(field):
    with pytest.raises(ValueError, match=field):
        SpecAugmentConfig(**{field: -1})
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: 1.5})


# ---------------------------------------------------------------- class balancing


def test_balanced_order_gives_equal_shares_and_spreads_repeats():
    labels = np.array([0] * 100 + [1] * 10 + [2] * 3)
    order = balanced_order(labels, len(labels), np.random.default_rng(0))
    assert order.shape == (113,)
    counts = np.bincount(labels[order])
    assert counts.max() - counts.min() <= 1 and counts.sum() == 113
    uses = np.bincount(order, minlength=len(labels))
    # Class 0 (100 clips, ~38 wanted): no clip twice. Class 2 (3 clips, ~38): 12 or 13 each.
    assert uses[:100].max() == 1
    assert set(uses[110:].tolist()) <= {12, 13}
    again = balanced_order(labels, len(labels), np.random.default_rng(0))
    np.testing.assert_array_equal(order, again)
    assert not np.array_equal(order, balanced_order(labels, 113, np.random.default_rng(1)))


def test_balanced_order_refuses_empty_input():
    with pytest.raises(ValueError, match="balanced_order"):
        balanced_order([], 10, np.random.default_rng(0))


# ---------------------------------------------------------------- schedule, optimizer, loss


def test_cosine_schedule_warms_up_then_decays_to_the_last_rate():
    schedule = learning_rate_schedule([3e-3, 1e-3, 3e-4], 1000, kind="cosine", warmup_steps=100)
    lr = [float(schedule(s)) for s in (0, 50, 100, 550, 1000)]
    assert lr[0] == pytest.approx(0.0, abs=1e-9) and lr[1] == pytest.approx(1.5e-3)
    assert lr[2] == pytest.approx(3e-3) and lr[4] == pytest.approx(3e-4)
    assert lr[3] == pytest.approx(3e-4 + (3e-3 - 3e-4) / 2, rel=1e-3)  # the cosine's midpoint
    no_warmup = learning_rate_schedule([1e-3], 10, kind="cosine")
    assert float(no_warmup(0)) == pytest.approx(1e-3) and float(no_warmup(10)) == 0.0


def test_piecewise_schedule_is_the_old_one():
    schedule = learning_rate_schedule([3e-3, 1e-3, 3e-4], 90)
    assert [float(schedule(s)) for s in (0, 30, 31, 61, 89)] == pytest.approx(
        [3e-3, 3e-3, 1e-3, 3e-4, 3e-4])
    assert learning_rate_schedule([1e-3], 90) == 1e-3
    with pytest.raises(ValueError, match="warmup"):
        learning_rate_schedule([1e-3], 90, warmup_steps=5)
    with pytest.raises(ValueError, match="lr_schedule"):
        learning_rate_schedule([1e-3], 90, kind="step")


def test_optimizer_is_adam_or_adamw_with_the_decay():
    assert type(make_optimizer(1e-3)) is keras.optimizers.Adam
    adamw = make_optimizer(1e-3, weight_decay=0.05)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.05


def test_label_smoothing_loss_matches_the_formula_and_survives_saving(tmp_path: Path):
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], np.float32)
    labels = np.array([0, 2], np.int32)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.full((2, 3), 0.1 / 3) + 0.9 * np.eye(3)[labels]
    expected = float(np.mean(-(target * np.log(p)).sum(axis=1)))
    assert float(make_loss(0.1)(labels, logits)) == pytest.approx(expected, rel=1e-5)
    plain = make_loss(0.0)
    assert isinstance(plain, keras.losses.SparseCategoricalCrossentropy)
    assert float(plain(labels, logits)) == pytest.approx(
        float(np.mean(-np.log(p[[0, 1], labels]))), rel=1e-5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(loss=make_loss(0.2), optimizer="adam")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, SmoothedSparseCrossentropy)
    assert loaded.loss.label_smoothing == pytest.approx(0.2)


# ---------------------------------------------------------------- TrainConfig


NEW_FIELDS = {"balance_classes": True, "time_masks": 2, "time_mask_frames": 10,
              "freq_masks": 2, "freq_mask_bins": 8, "label_smoothing": 0.1,
              "weight_decay": 0.05, "lr_schedule": "cosine", "warmup_epochs": 1.0,
              "noise_snr_db": [0.0, 20.0]}


def test_config_round_trips_the_new_fields_through_json():
    config = TrainConfig(**NEW_FIELDS)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert {k: again.to_dict()[k] for k in NEW_FIELDS} == NEW_FIELDS
    assert again.spec_augment() == SpecAugmentConfig(2, 10, 2, 8)


def test_an_old_config_loads_with_the_old_behaviour():
    old = TrainConfig().to_dict()
    for key in NEW_FIELDS:
        del old[key]
    del old["normalize_features"]
    config = TrainConfig.from_dict(old)
    assert not config.normalize_features and TrainConfig().normalize_features
    assert not config.balance_classes and not config.spec_augment().enabled
    assert (config.label_smoothing, config.weight_decay) == (0.0, 0.0)
    assert (config.lr_schedule, config.warmup_epochs) == ("piecewise", 0.0)
    assert config.augment() == AugmentConfig()  # Hello Edge's noise volumes


def test_noise_snr_reaches_training_and_qat_data(monkeypatch):
    """The run's augmentation (noise SNR, masks, class balance) is what QAT fine-tunes on,
    and only the per-epoch training examples get masks and balancing."""
    import ghost_keras.training as training

    config = TrainConfig(noise_snr_db=[0.0, 20.0], balance_classes=True, time_masks=1,
                         time_mask_frames=5)
    assert config.augment() == AugmentConfig(snr_db=(0.0, 20.0))
    seen = []
    monkeypatch.setattr(training, "load_index", lambda config: type("I", (), {"labels": ["a"]}))
    monkeypatch.setattr(training.kws_data, "make_datasets",
                        lambda *args, **kwargs: seen.append(kwargs) or "datasets")
    run_config = {"train": config.to_dict(), "labels": ["a"],
                  "frontend": training.frontend_config("microfrontend").to_dict()}
    training.run_datasets(run_config, augment=True)
    training.run_datasets(run_config)
    assert seen[0]["augment_config"] == seen[1]["augment_config"] == config.augment()
    assert seen[0]["balance_classes"] and seen[0]["spec_augment"] == config.spec_augment()
    assert "balance_classes" not in seen[1] and "spec_augment" not in seen[1]


@pytest.mark.parametrize("values, message", [
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"weight_decay": -1e-4}, "weight_decay"),
    ({"lr_schedule": "step"}, "lr_schedule"),
    ({"warmup_epochs": 1.0}, "warmup_epochs"),
    ({"lr_schedule": "cosine", "warmup_epochs": -1.0}, "warmup_epochs"),
    ({"noise_snr_db": [20.0, 0.0]}, "noise_snr_db"),
    ({"noise_snr_db": [10.0]}, "noise_snr_db"),
])
def test_bad_recipe_values_are_refused_with_the_field_named(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


# ---------------------------------------------------------------- default real-data assembly


def test_default_real_data_includes_the_extra_folder_and_its_noise(extra_dir, mini_dir,
                                                                   test12_dir):
    from benchmarks.common import data_choice, real_data

    data = data_choice("real")
    assert str(extra_dir) in data.data_dirs and str(mini_dir) in data.data_dirs
    assert data.split_dirs == [str(test12_dir)]
    assert str(extra_dir) not in real_data(extra=False).data_dirs
    config = TrainConfig(data_dirs=data.data_dirs, split_dirs=data.split_dirs,
                         speaker_split=data.speaker_split)
    index = load_index(config)
    assert extra_dir in index.sources
    extra = [c for c in index.clips if extra_dir in c.path.parents]
    counts = {s: sum(c.split == s for c in extra) for s in ("train", "validation", "test")}
    # The folder holds no test-split speaker (its README): it adds training data only.
    assert counts["train"] > 400 and counts["test"] == 0
    assert sum(c.label == "_unknown_" for c in extra if c.split == "train") > 300
    assert sorted(p.name for p in index.noise_paths) == sorted(
        p.name for p in (extra_dir / "_background_noise_").iterdir())
    pool = NoisePool(index.background_noise())
    assert not pool.synthetic and len(pool.recordings) == 6  # real noise, not the stand-in


def test_synthetic_clips_join_the_training_split_only(extra_dir):
    import dataclasses

    from benchmarks.common import TINY_CLIPS_PER_WORD, data_choice
    from ghost_keras.data import scan
    from ghost_keras.data.synthetic import ensure_dataset

    data = data_choice("real")
    real = TrainConfig(data_dirs=data.data_dirs, split_dirs=data.split_dirs,
                       speaker_split=data.speaker_split)
    mixed = dataclasses.replace(real, synthetic_train_clips_per_word=TINY_CLIPS_PER_WORD)
    without, with_synthetic = load_index(real), load_index(mixed)
    # Scores stay on real speech: validation and test are the same clips.
    for split in ("validation", "test"):
        assert with_synthetic.split(split) == without.split(split)
    root = ensure_dataset(clips_per_word=TINY_CLIPS_PER_WORD, seed=0)
    added = set(with_synthetic.split("train")) - set(without.split("train"))
    assert {c.path for c in added} == {c.path for c in scan(root, split="none").clips}
    assert {c.label for c in added} >= {"_unknown_", "yes", "off"}
    assert with_synthetic.noise_paths == without.noise_paths  # no generated noise joins
    with pytest.raises(ValueError, match="synthetic_train_clips_per_word"):
        TrainConfig(synthetic_train_clips_per_word=-1)
