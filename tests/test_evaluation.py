"""``ghost-kws evaluate RUN --data DIR`` scores exactly the clips of DIR, with every model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_firmware_helpers import assert_int8_interface

from conftest import SHARED_DATA, copy_prepared_subset

#: Both tests train, fine-tune and export a run.
pytestmark = pytest.mark.slow

#: Held-out clips per label of the prepared folder (12 labels).
HELD_OUT_PER_LABEL = 2


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, test12_dir: Path) -> Path:
    """A ghost_gru trained 2 epochs on 180 real clips, fine-tuned with QAT 1 epoch, exported."""
    from firmware_export.pipeline import export_run
    from ghost_keras.data import LABELS_12
    from ghost_keras.quantization import qat_run
    from ghost_keras.training import TrainConfig, train

    root = tmp_path_factory.mktemp("eval_run")
    data = copy_prepared_subset(test12_dir, root / "data", {label: 15 for label in LABELS_12})
    train(TrainConfig(arch="ghost_gru", epochs=2, split_dirs=[str(data)],
                      speaker_split=[0.6, 0.2, 0.2], batch_size=32, learning_rates=[3e-3],
                      out_dir=str(root / "run")), verbose=0)
    qat_run(root / "run", epochs=1, verbose=0)
    assert_int8_interface(export_run(root / "run", calibration_clips=20).tflite_path)
    return root / "run"


def _held_out(test12_dir: Path, train_data: Path, out: Path) -> Path:
    """Prepared-layout clips of speakers the run never saw (silence: clips it never saw)."""
    from ghost_keras.data import LABELS_12, speaker_of

    seen = {p.name for p in train_data.rglob("*.wav")}
    speakers = {speaker_of(name) for name in seen} - {None}
    for label in LABELS_12:
        (out / label).mkdir(parents=True)
        fresh = [p for p in sorted((test12_dir / label).glob("*.wav"))
                 if p.name not in seen and speaker_of(p) not in speakers]
        for path in fresh[:HELD_OUT_PER_LABEL]:
            shutil.copy(path, out / label / path.name)
    return out


def test_evaluate_data_scores_exactly_the_clips_of_the_folder(eval_run, test12_dir, tmp_path,
                                                              capsys):
    from ghost_keras.cli import main

    held = _held_out(test12_dir, eval_run.parent / "data", tmp_path / "held")
    clips = len(list(held.rglob("*.wav")))
    assert clips == 12 * HELD_OUT_PER_LABEL

    assert main(["evaluate", str(eval_run), "--data", str(held)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{clips} clips", out, re.M), out
    for name in ("float", "qat", "int8 TFLM"):
        assert re.search(rf"^{name} +accuracy +\d+\.\d%", out, re.M), out
    assert "recall" in out and "precision" in out and "confusion" in out


def test_evaluate_folder_counts_labels_of_a_full_layout(eval_run, tmp_path):
    """Full layout: words outside the run's keywords are ``_unknown_``; noise is no clip."""
    from ghost_keras.evaluation import evaluate_folder

    extra = SHARED_DATA / "speech_commands_extra"
    if not extra.is_dir():
        pytest.skip(f"{extra} not found")
    held = tmp_path / "full"
    for word, n in (("yes", 3), ("cat", 2), ("dog", 2)):
        (held / word).mkdir(parents=True)
        for path in sorted((extra / word).glob("*.flac"))[:n]:
            shutil.copy(path, held / word / path.name)
    (held / "_background_noise_").mkdir()
    shutil.copy(extra / "_background_noise_" / "pink_noise.flac", held / "_background_noise_")

    result = evaluate_folder(eval_run, [held])
    assert result.clips == 7
    assert {k: v for k, v in result.counts.items() if v} == {"yes": 3, "_unknown_": 4}
    assert set(result.predictions) == {"float", "qat", "int8 TFLM"}
    assert all(len(p) == 7 for p in result.predictions.values())
    matrix = result.confusion("float")
    assert matrix.sum() == 7 and matrix.sum(axis=1).tolist() == list(result.counts.values())
