"""Train -> run folder -> export (int8 on TFLM) -> firmware folder, on a tiny synthetic set."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_firmware_helpers import assert_int8_interface

from firmware_export.pipeline import export_run, write_run_firmware
from ghost_keras.cli import main as cli_main
from ghost_keras.data.synthetic import generate_dataset
from ghost_keras.training import TrainConfig, evaluate, load_run, train

WORDS = ["yes", "no", "up"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    data = generate_dataset(root / "data", words=WORDS, unknown_words=["cat", "dog"],
                            clips_per_word=24, seed=1)
    config = TrainConfig(arch="ghost_gru", size="S", keywords=WORDS, data_dirs=[str(data)],
                         epochs=3, batch_size=32, learning_rates=[3e-3], seed=0,
                         out_dir=str(root / "run"), cache_dir=str(root / "cache"))
    return train(config, verbose=0), config


def test_run_folder_has_model_history_metrics_and_plots(tiny_run):
    result, config = tiny_run
    run = result.run_dir
    for name in ("model.keras", "config.json", "history.json", "metrics.json",
                 "learning_curves.png", "confusion_matrix.png"):
        assert (run / name).is_file(), name
    assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == config.epochs
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert metrics["profile"]["params"] == result.params
    model, run_config = load_run(run)
    assert run_config["labels"] == ["_silence_", "_unknown_", *WORDS]
    assert model.output_shape == (None, len(WORDS) + 2)


def test_the_run_trains_on_features_normalized_over_its_training_clips(tiny_run):
    """The run's front end (config.json, what export and firmware read) maps the clean
    training clips' features to mean 0 and standard deviation 1."""
    from ghost_keras.training import run_datasets

    result, _ = tiny_run
    _, run_config = load_run(result.run_dir)
    assert run_config["train"]["normalize_features"] is True
    assert run_config["frontend"]["input_offset"] < 0  # log energies are >= 0 before
    x, _ = run_datasets(run_config)[0].as_numpy("train")
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3


def test_evaluate_reproduces_the_test_accuracy(tiny_run):
    result, _ = tiny_run
    assert evaluate(result.run_dir)["accuracy"] == pytest.approx(result.test_accuracy)


def test_evaluate_in_noise_falls_with_the_snr(exported_run):
    # Real words: at 60 dB the noise is inaudible, at -20 dB it buries them.
    clean = evaluate(exported_run)["accuracy"]
    quiet = evaluate(exported_run, snr_db=60.0)
    assert quiet["snr_db"] == 60.0 and quiet["accuracy"] == pytest.approx(clean, abs=0.03)
    assert evaluate(exported_run, snr_db=-20.0)["accuracy"] < clean - 0.05


def test_training_is_deterministic_for_a_seed(tiny_run, tmp_path):
    result, config = tiny_run
    again = train(TrainConfig(**{**config.to_dict(), "out_dir": str(tmp_path / "again")}),
                  verbose=0)
    np.testing.assert_allclose(again.history["loss"], result.history["loss"], rtol=1e-5)


def test_export_and_firmware_from_the_run(tiny_run, tmp_path):
    result, _ = tiny_run
    export = export_run(result.run_dir)
    info = assert_int8_interface(export.tflite_path)
    assert export.exported.kind == "step" and info.size_bytes == export.report.model_bytes
    assert set(info.ops) <= {"FULLY_CONNECTED", "SPLIT", "SPLIT_V", "ADD", "SUB", "MUL",
                             "LOGISTIC", "TANH", "STRIDED_SLICE", "CONCATENATION", "SOFTMAX"}
    assert export.report.arena_bytes > 0 and export.report.invoke_us > 0
    state_in = info.inputs[export.exported.state_inputs[0]]
    state_out = info.outputs[export.exported.state_outputs[0]]
    assert (state_in.scale, state_in.zero_point) == (state_out.scale, state_out.zero_point)
    saved = json.loads(export.json_path.read_text())
    assert saved["report"]["accuracy"] == export.report.accuracy
    folder = write_run_firmware(result.run_dir, tmp_path / "fw")
    names = {f.name for f in folder.files}
    assert {"model_data.cc", "model_data.h", "model_settings.h", "model_ops.h",
            "kws_main.cc"} <= names
    again = write_run_firmware(result.run_dir, tmp_path / "fw")
    assert [f.sha256 for f in again.files] == [f.sha256 for f in folder.files]
    # The operating point picked from a DET curve goes into the firmware's settings.
    assert cli_main(["firmware", str(result.run_dir), "--out", str(tmp_path / "fw6"),
                     "--probability", "0.6"]) == 0
    header = (tmp_path / "fw6" / "model_settings.h").read_text()
    default = (tmp_path / "fw" / "model_settings.h").read_text()
    assert re.search(r"#define KWS_DETECTION_THRESHOLD +154 ", header)  # round(0.6 * 256)
    assert re.search(r"#define KWS_DETECTION_THRESHOLD +205 ", default)  # round(0.8 * 256)


def test_export_names_an_unknown_int8_source_and_the_choices(tmp_path):
    with pytest.raises(ValueError, match="int8_from='ptq': choose one of qat, float, best"):
        export_run(tmp_path, int8_from="ptq")


def test_demo_command_trains_exports_and_writes_the_firmware(tmp_path, capsys):
    """`ghost-kws demo` at tiny settings (a small synthetic set, one epoch, post-training
    quantization: QAT fine-tuning alone would double the time; test_quantization covers it):
    the run folder, its int8 export, the firmware folder, and a summary whose figures are the
    ones those files hold."""
    data = generate_dataset(tmp_path / "data", unknown_words=["cat", "dog"], clips_per_word=10,
                            seed=1)
    out = tmp_path / "demo"
    assert cli_main(["demo", "--data", str(data), "--arch", "gru", "--epochs", "1",
                     "--qat-epochs", "0", "--out", str(out), "--verbose", "0"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()

    for name in ("model.keras", "config.json", "metrics.json", "history.json",
                 "export/export.json", "export/model_int8.tflite"):
        assert (out / name).is_file(), name
    assert not (out / "qat").exists()
    train_config = json.loads((out / "config.json").read_text())["train"]
    assert (train_config["arch"], train_config["epochs"]) == ("gru", 1)
    info = assert_int8_interface(out / "export" / "model_int8.tflite")
    export = json.loads((out / "export" / "export.json").read_text())
    report, metrics = export["report"], json.loads((out / "metrics.json").read_text())
    assert export["source"] == "float" and report["model_bytes"] == info.size_bytes
    assert {"model_data.cc", "model_data.h", "model_settings.h", "model_ops.h", "kws_main.cc",
            "Makefile"} <= {f.name for f in (out / "firmware").iterdir()}

    assert printed[-6:-1] == [
        f"gru-S on Speech Commands, {report['clips']} test clips",
        f"float test accuracy {metrics['test_accuracy']:.1%} | QAT - | int8 on TFLM "
        f"{report['accuracy']:.1%} (top-1 agreement with the float model "
        f"{report['agreement_float']:.1%})",
        f"model {info.size_bytes:,} B flash | TFLM arena {report['arena_bytes']:,} B (header "
        f"{report['arena_recommended']:,} B) | {metrics['profile']['params']:,} params | "
        f"{metrics['profile']['macs_per_frame']:,} MACs per frame | {report['invoke_us']:.0f} us "
        "per invoke on this host",
        f"plots: {out / 'learning_curves.png'}, {out / 'confusion_matrix.png'}",
        f"firmware folder: {out / 'firmware'}",
    ]
    assert (out / "learning_curves.png").is_file() and (out / "confusion_matrix.png").is_file()
    assert re.fullmatch(r"wall time \d+\.\d min", printed[-1])


def test_cli_reports_missing_run_clearly(tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "nothing")]) == 2
    assert "not a finished training run" in capsys.readouterr().err


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError, match="unknown arch"):
        TrainConfig(arch="resnet")
    with pytest.raises(ValueError, match="learning_rates"):
        TrainConfig(learning_rates=[])


def _tiny_config(tmp_path, out_dir, data_dirs):
    return TrainConfig(arch="gru", keywords=["yes", "no"], data_dirs=[str(d) for d in data_dirs],
                       epochs=1, batch_size=4, out_dir=str(out_dir),
                       cache_dir=str(tmp_path / "cache"))


def test_failed_train_leaves_no_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        train(_tiny_config(tmp_path, tmp_path / "run", [tmp_path / "missing"]), verbose=0)
    assert not (tmp_path / "run").exists()


def test_interrupted_train_keeps_the_earlier_run_unchanged(tmp_path, monkeypatch):
    import tf_keras as keras

    data = generate_dataset(tmp_path / "data", words=["yes", "no"], unknown_words=["cat"],
                            clips_per_word=4, seed=1)
    run = tmp_path / "run"
    (run / "qat").mkdir(parents=True)
    earlier = {"config.json": '{"old": true}', "model.keras": "old", "qat/model.h5": "old"}
    for name, text in earlier.items():
        (run / name).write_text(text)

    def interrupted_fit(self, *args, callbacks=(), **kwargs):
        callbacks[0].set_model(self)  # the checkpoint writes .best.keras, then Ctrl-C
        callbacks[0].on_epoch_end(0, {"val_accuracy": 0.5})
        assert (run / ".best.keras").is_file()
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_config(tmp_path, run, [data]), verbose=0)
    files = {str(p.relative_to(run)): p.read_text() for p in run.rglob("*") if p.is_file()}
    assert files == earlier


def test_retraining_removes_what_the_earlier_model_made(tmp_path, monkeypatch):
    import types

    import tf_keras as keras

    derived = ("qat", "export", "firmware", "stream_eval", "redundancy")
    data = generate_dataset(tmp_path / "data", words=["yes", "no"], unknown_words=["cat"],
                            clips_per_word=4, seed=1)
    run = tmp_path / "run"
    for name in derived:
        (run / name).mkdir(parents=True)
        (run / name / "old.json").write_text("{}")

    def one_epoch_fit(self, *args, callbacks=(), **kwargs):
        for callback in callbacks:  # the checkpoint writes .best.keras; no real training
            callback.set_model(self)
            callback.on_train_begin()
            callback.on_epoch_begin(0)
            callback.on_epoch_end(0, {"val_accuracy": 0.5})
        return types.SimpleNamespace(history={"loss": [1.0], "accuracy": [0.5],
                                              "val_loss": [1.0], "val_accuracy": [0.5]})

    monkeypatch.setattr(keras.Model, "fit", one_epoch_fit)
    train(_tiny_config(tmp_path, run, [data]), verbose=0)
    assert not [name for name in derived if (run / name).exists()]
    assert (run / "model.keras").is_file()
