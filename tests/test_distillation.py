"""Knowledge distillation (ghost_keras.distillation): the soft term's weight, the student
learning the teacher, and a run distilled from another run through TrainConfig."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ghost_keras  # noqa: F401  (tf-keras before tensorflow)
import tf_keras as keras
from ghost_keras.distillation import BestStudentCheckpoint, Distiller
from ghost_keras.layers import GhostGRU
from ghost_keras.recipe import make_loss
from ghost_keras.training import TrainConfig

FRAMES, FEATURES, CLASSES = 12, 6, 5


def _model(seed: int, units: int = 8) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((FRAMES, FEATURES))
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(GhostGRU(units, ratio=2)(inputs)))


def _data(n: int = 256):
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, n)
    x = rng.normal(size=(n, FRAMES, FEATURES)).astype(np.float32)
    x[np.arange(n), :, y] += 1.5  # learnable: the class shows in one channel
    return x, y


def test_alpha_zero_is_plain_training():
    x, y = _data()
    plain, student = _model(1), _model(1)
    teacher = _model(2)
    plain.compile(keras.optimizers.Adam(1e-2), loss=make_loss())
    plain.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    distiller = Distiller(student, teacher, alpha=0.0)
    distiller.compile(keras.optimizers.Adam(1e-2), loss=make_loss())
    distiller.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), student.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # ... although the teacher answers otherwise: its soft term weighs nothing.
    assert np.abs(teacher.predict(x, verbose=0) - plain.predict(x, verbose=0)).max() > 0.1


def test_alpha_one_learns_the_teacher_and_never_changes_it(tmp_path: Path):
    x, y = _data()
    teacher = _model(3, units=16)
    teacher.compile(keras.optimizers.Adam(1e-2), loss=make_loss(), metrics=["accuracy"])
    teacher.fit(x, y, batch_size=32, epochs=5, verbose=0)
    frozen = [w.copy() for w in teacher.get_weights()]
    # The student sees random labels: all it can learn is the teacher's answers. Measured:
    # 94% agreement with the teacher after 20 epochs at alpha 1, ~20% (chance) at alpha 0.
    wrong = np.random.default_rng(9).integers(0, CLASSES, len(y))
    best = tmp_path / "best.keras"
    agreement = {}
    for alpha in (1.0, 0.0):
        student = _model(4)
        distiller = Distiller(student, teacher, alpha=alpha, temperature=2.0)
        distiller.compile(keras.optimizers.Adam(1e-2), loss=make_loss(), metrics=["accuracy"])
        distiller.fit(x, wrong, batch_size=32, epochs=20, verbose=0, validation_data=(x, y),
                      callbacks=[BestStudentCheckpoint(student, str(best),
                                                       monitor="val_accuracy",
                                                       save_best_only=True)])
        agreement[alpha] = np.mean(np.argmax(student.predict(x, verbose=0), 1)
                                   == np.argmax(teacher.predict(x, verbose=0), 1))
    assert agreement[1.0] > 0.85 and agreement[0.0] < 0.4, agreement
    for a, b in zip(frozen, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    saved = keras.models.load_model(best)  # a plain model: the student, not the distiller
    assert not isinstance(saved, Distiller) and saved.output_shape == (None, CLASSES)


def test_bad_distillation_settings_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        Distiller(_model(0), _model(1), alpha=1.5)
    inputs = keras.Input((FRAMES, FEATURES))
    other = keras.Model(inputs, keras.layers.Dense(CLASSES + 1)(GhostGRU(4)(inputs)))
    with pytest.raises(ValueError, match="same labels"):
        Distiller(_model(0), other)
    with pytest.raises(ValueError, match="distill_alpha"):
        TrainConfig(distill_alpha=-0.1)


@pytest.mark.slow
def test_a_run_distilled_from_another_run(exported_run: Path, tmp_path: Path):
    """``TrainConfig.teacher_run``: a run trained from another run's soft targets is a normal
    run folder; a teacher with other labels or features is refused by name."""
    from ghost_keras.training import load_run, train

    config = json.loads((exported_run / "config.json").read_text())["train"]
    student = TrainConfig(**{**config, "arch": "gru", "epochs": 1, "out_dir": str(
        tmp_path / "student"), "teacher_run": str(exported_run), "distill_alpha": 0.5})
    result = train(student, verbose=0)
    model, saved = load_run(result.run_dir)
    assert saved["train"]["teacher_run"] == str(exported_run)
    # The student reads the teacher's features, normalization included.
    assert saved["frontend"] == json.loads((exported_run / "config.json").read_text())["frontend"]
    assert model.output_shape == (None, 12) and 0 <= result.test_accuracy <= 1
    assert model.name != "distiller"
    mismatched = tmp_path / "teacher"
    shutil.copytree(exported_run, mismatched)
    run_config = json.loads((mismatched / "config.json").read_text())
    run_config["labels"] = list(reversed(run_config["labels"]))
    (mismatched / "config.json").write_text(json.dumps(run_config))
    with pytest.raises(ValueError, match="same labels"):
        train(TrainConfig(**{**student.to_dict(), "teacher_run": str(mismatched),
                             "out_dir": str(tmp_path / "other")}), verbose=0)
