"""Issue acceptance on real speech: the int8 step model on TFLM, driven frame by frame with its
state carried, reproduces the float model (PTQ) on >= 95% and the QAT model on >= 99% of
held-out speakers' clips. Small model, fixed seed, real clips from ../shared/data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_firmware_helpers import assert_int8_interface

from firmware_export.pipeline import export_run
from ghost_keras.quantization import qat_model_path, qat_run
from ghost_keras.training import TrainConfig, train


@pytest.fixture(scope="module")
def real_run(mini_dir, extra_dir, test12_dir, tmp_path_factory):
    # The benchmarks' default real data: mini_speech_commands and speech_commands_extra (its
    # other words and real background noise) plus half of test12's speakers for training, 40%
    # of test12's speakers (never trained on) for testing.
    root = tmp_path_factory.mktemp("real")
    config = TrainConfig(arch="ghost_gru", size="S", data_dirs=[str(mini_dir), str(extra_dir)],
                         split_dirs=[str(test12_dir)], speaker_split=[0.5, 0.1, 0.4],
                         epochs=12, batch_size=100,
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
    info = assert_int8_interface(result.tflite_path)
    state_in = info.inputs[result.exported.state_inputs[0]]
    state_out = info.outputs[result.exported.state_outputs[0]]
    assert (state_in.scale, state_in.zero_point) == (state_out.scale, state_out.zero_point)
    assert state_in.scale == pytest.approx(1 / 128) and state_in.zero_point == 0
    saved = json.loads(result.json_path.read_text())
    assert saved["report"]["arena_bytes"] > 0 and saved["report"]["ops"] == list(info.ops)


def _chance_hits(detections, truth, duration_s: float) -> float:
    """Mean hits of the same detections moved along the stream by 19 circular shifts."""
    from firmware_export.evaluate import match

    ms = duration_s * 1000
    return float(np.mean([
        match([dataclasses.replace(d, time_ms=int((d.time_ms + k * ms / 20) % ms))
               for d in detections], truth, duration_s=duration_s)["hits"]
        for k in range(1, 20)]))


def test_recognizer_on_tflm_finds_keywords_in_a_long_real_stream(real_run, tmp_path):
    """Test-speaker keywords with quiet gaps (noise 30 dB below the words), streamed through
    the int8 model on TFLM (state carried across the whole stream) and the firmware's
    recognizer with its default settings."""
    from firmware_export.evaluate import detect_in_wav, match
    from ghost_keras.data import write_wav
    from ghost_keras.data.long_stream import make_long_stream, stream_index

    if not (real_run.run_dir / "export" / "export.json").is_file():
        export_run(real_run.run_dir)
    config = json.loads((real_run.run_dir / "config.json").read_text())["train"]
    index = stream_index(config["split_dirs"][0], speaker_split=config["speaker_split"],
                         split_seed=config["seed"])
    audio, truth = make_long_stream(index, 90.0, seed=3, snr_db=30.0, gap_s=(1.0, 2.0),
                                    keyword_fraction=1.0, unknown_fraction=0.0)
    wav = tmp_path / "stream.wav"
    write_wav(wav, audio, 16000)
    detections = detect_in_wav(real_run.run_dir, wav, verbose=False)
    result = match(detections, truth, duration_s=len(audio) / 16000)
    keywords = [t for t in truth if t.label not in ("_silence_", "_unknown_")]
    assert result["targets"] == len(keywords) >= 20
    # The detections are locked to the keywords' times and labels: the same detections moved
    # along the stream (19 circular shifts) hit by chance only (measured: 15 hits, chance 1.2).
    chance = _chance_hits(detections, truth, len(audio) / 16000)
    assert result["hits"] >= 5 * max(chance, 1.0), (result["hits"], chance)
    # Most detections are hits (measured 15 of 18), and at least a third of the keywords are
    # found with the right label within [start, end + 1 s] (measured 15 of 35 for this
    # 12-epoch model, 74% on clips: a clip-trained model read at every frame with its state
    # never reset misses more than on clips, and false-accepts in gaps; docs/design.md,
    # "Always listening"), so this is no claim of a low FRR or FA rate.
    assert result["hits"] > 0.5 * result["detections"], result
    assert result["hits"] >= len(keywords) / 3, result


def test_best_int8_is_the_candidate_more_accurate_on_the_validation_split(real_run):
    """``int8_from="best"`` scores QAT and post-training int8 on the validation split on TFLM
    and ships the better (QAT on a tie): the kept model's test figures are that candidate's
    own export's, and export.json records both validation scores."""
    if not qat_model_path(real_run.run_dir).is_file():
        qat_run(real_run.run_dir, epochs=2, learning_rate=3e-4, verbose=0)
    alone = {name: export_run(real_run.run_dir, int8_from=name).report.accuracy
             for name in ("qat", "float")}
    best = export_run(real_run.run_dir, int8_from="best")
    scores = best.validation_accuracy
    assert set(scores) == {"qat", "float"} and all(0.2 < v <= 1 for v in scores.values())
    assert best.source == ("qat" if scores["qat"] >= scores["float"] else "float")
    assert best.report.accuracy == alone[best.source]
    assert json.loads(best.json_path.read_text())["validation_accuracy"] == scores
    assert "picked on the validation split" in best.summary()
