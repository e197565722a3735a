"""The command line itself: argument parsing without TensorFlow, defaults, errors."""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ghost_keras import cli

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_help_and_usage_errors_do_not_import_tensorflow():
    code = """
import sys
from ghost_keras.cli import main
for argv in (["--help"], ["trian"], ["train", "--arch", "nope"], ["qat", "--help"]):
    try:
        main(argv)
    except SystemExit as stop:
        print(argv[0], stop.code)
print("tensorflow" in sys.modules)
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"
    assert "invalid choice: 'trian'" in result.stderr


def test_arch_names_are_the_models():
    from ghost_keras.models import ARCHITECTURES

    assert sorted(cli.ARCH_NAMES) == sorted(ARCHITECTURES)


def _commands() -> dict[str, "argparse.ArgumentParser"]:
    return next(a for a in cli.build_parser()._actions if a.dest == "command").choices


def _help_default(subcommand: str, dest: str) -> list[float]:
    """The numbers of the "(default: ...)" an option's help states itself."""
    action = next(a for a in _commands()[subcommand]._actions if a.dest == dest)
    return [float(v) for v in re.search(r"\(default: ([^)]*)\)", action.help).group(1).split()]


def _stream_train_default(name: str):
    from ghost_keras.stream_training import StreamTrainConfig

    return getattr(StreamTrainConfig(), name)


@pytest.mark.parametrize("subcommand, dest, function, parameter", [
    ("qat", "epochs", "ghost_keras.quantization.run:qat_run", "epochs"),
    ("qat", "learning_rate", "ghost_keras.quantization.run:qat_run", "learning_rate"),
    ("demo", "epochs", "ghost_keras.demo:run_demo", "epochs"),
    ("demo", "qat_epochs", "ghost_keras.demo:run_demo", "qat_epochs"),
    *[("stream-train", name, None, name) for name in (
        "epochs", "minutes_per_epoch", "chunk_frames", "batch_size", "learning_rates", "snr_db",
        "gap_s", "gain_db", "hold_ms", "lead_ms", "clip_share", "keyword_fraction",
        "unknown_fraction", "seed")],
])
def test_stated_defaults_are_the_functions(subcommand, dest, function, parameter):
    import importlib

    if function is None:
        default = _stream_train_default(parameter)
    else:
        module, name = function.split(":")
        default = inspect.signature(getattr(importlib.import_module(module), name)) \
            .parameters[parameter].default
    assert _help_default(subcommand, dest) == (list(default) if isinstance(default, list)
                                               else [default])


def test_stream_train_negatives_options_reach_its_config(monkeypatch):
    import ghost_keras.stream_training

    seen = {}

    def fake_stream_train(run_dir, out, config, verbose):
        seen["config"] = config
        raise KeyboardInterrupt  # stop before any work; main() turns it into exit 130

    monkeypatch.setattr(ghost_keras.stream_training, "stream_train", fake_stream_train)
    assert cli.main(["stream-train", "runs/a", "--out", "runs/b", "--keyword-fraction", "0.45",
                     "--unknown-fraction", "0.4", "--whole-unknown"]) == 130
    config = seen["config"]
    assert (config.keyword_fraction, config.unknown_fraction, config.whole_unknown) == (
        0.45, 0.4, True)
    assert cli.main(["stream-train", "runs/a", "--out", "runs/b"]) == 130
    assert seen["config"].whole_unknown is False


def test_train_recipe_options_are_the_train_config_fields_with_its_defaults(monkeypatch):
    import ghost_keras.training
    from ghost_keras.cli import RECIPE_OPTIONS
    from ghost_keras.training import TrainConfig

    train = _commands()["train"]
    defaults = TrainConfig()
    for name in RECIPE_OPTIONS:
        action = next(a for a in train._actions if a.dest == name)
        assert action.default == getattr(defaults, name), name
    seen = {}

    def fake_train(config, verbose):
        seen["config"] = config
        raise KeyboardInterrupt  # stop before any work; main() turns it into exit 130

    monkeypatch.setattr(ghost_keras.training, "train", fake_train)
    assert cli.main(["train", "--balance-classes", "--time-masks", "2", "--time-mask-frames", "10",
                 "--lr-schedule", "cosine", "--warmup-epochs", "1", "--label-smoothing",
                 "0.1", "--weight-decay", "0.05", "--teacher-run", "runs/big",
                 "--distill-alpha", "0.7", "--distill-temperature", "2",
                 "--synthetic-train-clips-per-word", "40", "--noise-snr-db", "0", "20"]) == 130
    config = seen["config"]
    assert (config.balance_classes, config.time_masks, config.time_mask_frames,
            config.lr_schedule, config.warmup_epochs, config.label_smoothing,
            config.weight_decay) == (True, 2, 10, "cosine", 1.0, 0.1, 0.05)
    assert (config.teacher_run, config.distill_alpha, config.distill_temperature) == (
        "runs/big", 0.7, 2.0)
    assert config.synthetic_train_clips_per_word == 40
    assert config.noise_snr_db == [0.0, 20.0]


def test_every_default_is_shown_in_help():
    absent_is_none = {("train", "split_data"), ("demo", "split_data"), ("evaluate", "data")}
    for name, command in _commands().items():
        text = " ".join(command.format_help().split())
        for action in command._actions:
            if isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)):
                continue
            if action.default is not None:
                assert f"(default: {action.default})" in text, (name, action.dest)
            elif not action.required and (name, action.dest) not in absent_is_none:
                # None: the called function's default, stated in the help itself.
                assert "default" in action.help, (name, action.dest)


def test_the_run_is_the_first_argument_of_every_command_that_takes_one():
    takes_a_run = {"evaluate", "qat", "stream-train", "export", "firmware", "stream",
                   "stream-eval", "operating-point"}
    for name, command in _commands().items():
        positionals = [a.dest for a in command._actions if not a.option_strings]
        assert positionals == (["run_dir"] if name in takes_a_run else []), name
        assert "--run" not in command._option_string_actions, name


def test_lr_is_one_thing_everywhere():
    for name, command in _commands().items():
        action = command._option_string_actions.get("--lr")
        if action is not None:  # a piecewise-constant schedule: one or more rates
            assert action.nargs == "+" and action.help.startswith(cli.LR_HELP), name
    assert "--lr" not in _commands()["qat"]._option_string_actions
    assert _commands()["qat"]._option_string_actions["--learning-rate"].nargs is None


def test_every_command_has_verbose():
    for name, command in _commands().items():
        assert command._option_string_actions["--verbose"].choices == [0, 1, 2], name


def test_help_mistyped_command_and_bad_arguments_answer_at_once(capsys):
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seconds = {}
    for argv in (["--help"], ["trian"], ["stream", "run"], ["demo", "--arch", "resnet"],
                 ["stream-eval", "--help"]):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ghost_keras.cli", *argv],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        seconds[" ".join(argv)] = time.perf_counter() - start
        assert done.returncode in (0, 2), done.stderr
        assert seconds[" ".join(argv)] < 2.0, argv
    with capsys.disabled():  # the figure on the machine that runs the suite (CI's in its log)
        print("\nghost-kws answer times: "
              + ", ".join(f"{argv} {s:.2f} s" for argv, s in seconds.items()))
    assert "the following arguments are required: --wav" in subprocess.run(
        [sys.executable, "-m", "ghost_keras.cli", "stream", "run"], capture_output=True,
        text=True, env=env, cwd=ROOT, timeout=60).stderr


def test_demo_takes_the_model_options(monkeypatch):
    import types

    import ghost_keras.demo

    seen = {}
    parameters = inspect.signature(ghost_keras.demo.run_demo).parameters

    def fake_demo(out, **kwargs):
        seen.update(kwargs)
        return types.SimpleNamespace(summary="", seconds=0.0)

    monkeypatch.setattr(ghost_keras.demo, "run_demo", fake_demo)
    assert cli.main(["demo", "--arch", "ghost_lstm", "--size", "M", "--ratio", "4",
                     "--verbose", "0"]) == 0
    assert {k: seen[k] for k in ("arch", "size", "ratio", "cheap_op", "verbose")} == {
        "arch": "ghost_lstm", "size": "M", "ratio": 4, "cheap_op": "dense", "verbose": 0}
    assert set(seen) <= set(parameters)


@pytest.mark.parametrize("probability, expected", [
    ("0", {"detection_probability": 0.0}),
    ("0.5", {"detection_probability": 0.5}),
    (None, None),
])
def test_probability_zero_is_honoured(monkeypatch, tmp_path, capsys, probability, expected):
    import types

    import firmware_export.pipeline
    import firmware_export.evaluate

    seen = {}

    def fake_firmware(run_dir, out, array_name, recognizer, tflm_tree, folder_kernels, verbose):
        assert folder_kernels == ("LOGISTIC", "TANH", "SOFTMAX", "FULLY_CONNECTED", "ADD", "SUB",
                                  "MUL")
        seen["firmware"] = recognizer
        arena = types.SimpleNamespace(arena_bytes=4096, measured_on="host", measured_bytes=3712,
                                      margin=0.1, table_bytes=0)
        return types.SimpleNamespace(path=out, files=[], settings=types.SimpleNamespace(arena=arena))

    def fake_stream_eval(*args, settings, out_dir, **kwargs):
        seen["stream-eval"] = settings
        return {"json": f"{out_dir}/stream_eval.json"}

    monkeypatch.setattr(firmware_export.pipeline, "write_run_firmware", fake_firmware)
    monkeypatch.setattr(firmware_export.evaluate, "detect_in_wav",
                        lambda run, audio, settings, every, progress: seen.update(stream=settings))
    monkeypatch.setattr(firmware_export.evaluate, "stream_eval", fake_stream_eval)
    monkeypatch.setattr(firmware_export.evaluate, "print_table", lambda result: None)
    given = [] if probability is None else ["--probability", probability]
    assert cli.main(["firmware", "run", "--out", str(tmp_path / "fw"), *given]) == 0
    assert cli.main(["stream", "run", "--wav", "a.wav", *given]) == 0
    capsys.readouterr()
    assert cli.main(["stream-eval", "run", "--wav", "a.wav", "--truth", "t.csv", *given]) == 0
    assert seen == {"firmware": expected, "stream": expected, "stream-eval": expected}
    assert capsys.readouterr().out == f"wrote {Path('run') / 'stream_eval'}/stream_eval.json\n"


def _tiny_run(run: Path) -> Path:
    import tf_keras as keras

    run.mkdir(parents=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(run / "model.keras")
    (run / "config.json").write_text("{}")
    return run


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_truncated_run_model_is_one_clear_line(tmp_path, capsys):
    run = _tiny_run(tmp_path / "run")
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:200])
    assert cli.main(["evaluate", str(run)]) == 2
    err = _one_error_line(capsys)
    assert f"{model} cannot be read, it is truncated or corrupted" in err
    assert f"retrain the run (`ghost-kws train --out {run}`)" in err


def test_corrupted_qat_model_is_one_clear_line(tmp_path, capsys):
    run = _tiny_run(tmp_path / "run")
    (run / "qat").mkdir()
    (run / "qat" / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert cli.main(["export", str(run)]) == 2
    err = _one_error_line(capsys)
    assert f"{run / 'qat' / 'model.h5'} cannot be read" in err
    assert "re-run `ghost-kws qat RUN_DIR`" in err


def test_evaluate_data_with_split_is_one_clear_line(tmp_path, capsys):
    # --data scores every clip of the folders; a split of them would be a different question.
    assert cli.main(["evaluate", str(tmp_path), "--data", str(tmp_path), "--split", "test"]) == 2
    assert "drop one of them" in _one_error_line(capsys)
    assert cli.main(["evaluate", str(tmp_path), "--data", str(tmp_path), "--snr-db", "10"]) == 2
    assert "drop one of them" in _one_error_line(capsys)


def test_evaluate_data_of_a_folder_without_clips_is_one_clear_line(tmp_path, capsys):
    run = _tiny_run(tmp_path / "run")
    (run / "config.json").write_text('{"train": {"keywords": ["yes"]}, "labels": []}')
    (tmp_path / "empty" / "yes").mkdir(parents=True)
    assert cli.main(["evaluate", str(run), "--data", str(tmp_path / "empty")]) == 2
    assert "no .wav/.flac clips found" in _one_error_line(capsys)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_evaluate", interrupted)
    assert cli.main(["evaluate", "run"]) == 130
    assert _one_error_line(capsys) == "ghost-kws evaluate: interrupted, no partial file written"


def test_interrupted_qat_leaves_no_partial_model(tmp_path, monkeypatch):
    from ghost_keras.quantization import run as qat_module

    run = _tiny_run(tmp_path / "run")
    (run / "config.json").write_text('{"train": {"batch_size": 4, "seed": 0}}')

    def interrupted_fine_tune(qat, train, validation, callbacks, **kwargs):
        Path(callbacks[0].filepath).write_bytes(b"half")  # the checkpoint, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(qat_module, "run_datasets",
                        lambda config, augment, batch_size: ({"train": 0, "validation": 0}, 0))
    monkeypatch.setattr(qat_module, "quantize_model", lambda model, **_: model)
    monkeypatch.setattr(qat_module, "fine_tune", interrupted_fine_tune)
    with pytest.raises(KeyboardInterrupt):
        qat_module.qat_run(run)
    assert not (run / "qat").exists()


def test_operating_point_defaults_are_the_function():
    from firmware_export.evaluate import tune_operating_point

    params = inspect.signature(tune_operating_point).parameters
    args = cli.build_parser().parse_args(["operating-point", "run"])
    assert args.target_fa_h == params["target_fa_per_hour"].default
    assert (args.minutes, args.seed) == (params["minutes"].default, params["seed"].default)


def test_export_int8_choices_are_the_pipeline_ones():
    """The CLI spells export_run's choices out (to start without TensorFlow): they must be
    the pipeline's, default included."""
    from firmware_export.pipeline import INT8_FROM, export_run

    action = next(a for a in _commands()["export"]._actions if a.dest == "int8_from")
    assert tuple(action.choices) == INT8_FROM
    assert action.default == inspect.signature(export_run).parameters["int8_from"].default
