"""Issue acceptance on real speech: the int8 step model on TFLM, driven frame by frame with its
state carried, reproduces the float model (PTQ) on >= 95% and the QAT model on >= 99% of
held-out speakers' clips. Small model, fixed seed, real clips from ../shared/data."""

from __future__ import annotations

import json

import pytest

from firmware_export.pipeline import export_run
from firmware_export.tflite_model import read_tflite
from ghost_keras.quantization import qat_model_path, qat_run
from ghost_keras.training import TrainConfig, train


@pytest.fixture(scope="module")
def real_run(mini_dir, test12_dir, tmp_path_factory):
    # The benchmark's data: mini_speech_commands plus half of test12's speakers for training,
    # 40% of test12's speakers (never trained on) for testing.
    root = tmp_path_factory.mktemp("real")
    config = TrainConfig(arch="ghost_gru", size="S", data_dirs=[str(mini_dir)],
                         split_dirs=[str(test12_dir)], speaker_split=[0.5, 0.1, 0.4],
                         epochs=8, batch_size=100,
                         learning_rates=[3e-3, 1e-3, 3e-4], seed=0, out_dir=str(root / "run"),
                         cache_dir=str(root / "cache"))
    return train(config, verbose=0)


def test_ptq_int8_on_tflm_matches_float(real_run):
    result = export_run(real_run.run_dir)
    report = result.report
    assert result.source == "float"
    assert report.clips > 300
    assert report.agreement_float >= 0.95, report.summary()
    assert report.accuracy > 0.4  # far above the 1/12 of chance: the model learned speech


def test_qat_int8_on_tflm_matches_qat_model(real_run):
    qat_accuracy = qat_run(real_run.run_dir, epochs=2, learning_rate=3e-4, verbose=0)
    assert qat_model_path(real_run.run_dir).is_file()
    result = export_run(real_run.run_dir)
    report = result.report
    assert result.source == "qat"
    assert report.qat_accuracy == pytest.approx(qat_accuracy)
    assert report.agreement_qat >= 0.99, report.summary()
    info = read_tflite(result.tflite_path)
    state_in = info.inputs[result.exported.state_inputs[0]]
    state_out = info.outputs[result.exported.state_outputs[0]]
    assert (state_in.scale, state_in.zero_point) == (state_out.scale, state_out.zero_point)
    assert state_in.scale == pytest.approx(1 / 128) and state_in.zero_point == 0
    assert "QUANTIZE" not in info.ops and "DEQUANTIZE" not in info.ops
    saved = json.loads(result.json_path.read_text())
    assert saved["report"]["arena_bytes"] > 0 and saved["report"]["ops"] == list(info.ops)
