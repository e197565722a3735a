"""``benchmarks`` is an installed package that runs from any folder, and reports progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[1]


def test_benchmarks_is_one_of_the_installed_packages():
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = setuptools.find_packages(where=str(REPO), include=find["find"]["include"])
    assert "benchmarks" in packages, packages


@pytest.mark.parametrize("module", ["benchmarks.run", "benchmarks.report"])
def test_benchmarks_help_works_from_any_folder(tmp_path, module):
    # PYTHONPATH: the editable install may point at another checkout than this one.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
    assert list(tmp_path.iterdir()) == []  # nothing written to the current folder


def _fake_pipeline(monkeypatch) -> None:
    """Training, QAT and export that take no time: what the suite prints is under test."""
    import firmware_export.pipeline
    import ghost_keras.quantization
    import ghost_keras.training

    def train(config, verbose):
        profile = {"params": 1000, "int8_bytes": 1000, "macs_per_frame": 10,
                   "macs_per_decision": 490, "state_bytes": 64}
        Path(config.out_dir).mkdir(parents=True)
        (Path(config.out_dir) / "metrics.json").write_text(json.dumps(
            {"test_accuracy": 0.5, "profile": profile, "epoch_seconds": 1.0}))
        (Path(config.out_dir) / "config.json").write_text(json.dumps(
            {"labels": ["_silence_", "_unknown_", "yes"]}))

    report = types.SimpleNamespace(model_bytes=2000, arena_bytes=3000, accuracy=0.4,
                                   agreement_float=0.9, agreement_qat=0.95, invoke_us=10.0,
                                   recall=[1.0, 0.25, 0.5])
    monkeypatch.setattr(ghost_keras.training, "train", train)
    monkeypatch.setattr(firmware_export.pipeline, "export_run",
                        lambda run_dir, int8_from="qat": types.SimpleNamespace(
                            report=report, source="qat", validation_accuracy=None))
    monkeypatch.setattr(ghost_keras.quantization, "qat_run", lambda run_dir, epochs, verbose: 0.45)


def test_paper_suite_prints_a_progress_line_as_each_run_starts_and_ends(tmp_path, monkeypatch,
                                                                          capsys):
    import benchmarks.paper as bench_paper
    from benchmarks.common import data_choice, spec_name

    _fake_pipeline(monkeypatch)
    bench_paper.suite_paper(tmp_path, quick=True, data=data_choice("synthetic"),
                            seeds=1)
    err = capsys.readouterr().err.splitlines()
    total = len(bench_paper.PAPER_QUICK)
    for i, (arch, size, ratio) in enumerate(bench_paper.PAPER_QUICK, 1):
        name = spec_name(arch, size, ratio)
        mine = [line for line in err if f"paper {i}/{total} {name} seed 0" in line]
        assert any("training" in line for line in mine), err
        assert any("QAT" in line for line in mine), err
        assert any("done in" in line and "int8 TFLM 40.0%" in line for line in mine), err


def test_ml_seeds_give_gru_and_ghost_gru_r2_more_seeds_at_m_and_l(tmp_path, monkeypatch):
    import benchmarks.paper as bench_paper
    from benchmarks.common import data_choice

    _fake_pipeline(monkeypatch)
    result = bench_paper.suite_paper(tmp_path, quick=True, data=data_choice("synthetic"),
                                     seeds=1, models=["gru_S", "gru_M", "ghost_gru_L_r4"],
                                     ml_seeds=2)
    assert [(r["model"], r["seed"]) for r in result["runs"]] == [
        ("gru_S", 0), ("gru_M", 0), ("gru_M", 1), ("ghost_gru_L_r4", 0)]


def test_resume_from_takes_rows_recorded_before_int8_from_as_qat_ones(tmp_path, monkeypatch,
                                                                     capsys):
    """A row recorded before the suite chose its int8 model shipped QAT: ``--int8-from qat``
    takes it, ``best`` trains the run again."""
    import benchmarks.paper as bench_paper
    from benchmarks.common import data_choice

    _fake_pipeline(monkeypatch)
    data = data_choice("synthetic")
    first = bench_paper.suite_paper(tmp_path / "a", quick=True, data=data, seeds=1,
                                    models=["gru_S"], int8_from="qat")["runs"][0]
    assert first["settings"].pop("int8_from") == "qat"
    recorded = tmp_path / "paper.json"
    recorded.write_text(json.dumps({"runs": [first]}))
    capsys.readouterr()
    for int8_from, taken in (("qat", True), ("best", False)):
        bench_paper.suite_paper(tmp_path / int8_from, quick=True, data=data, seeds=1,
                                models=["gru_S"], resume_from=[recorded], int8_from=int8_from)
        assert ("taken from" in capsys.readouterr().err) is taken, int8_from
    # of several files the first that has the run gives it; a file without it is passed over
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"runs": []}))
    bench_paper.suite_paper(tmp_path / "both", quick=True, data=data, seeds=1,
                            models=["gru_S"], resume_from=[other, recorded], int8_from="qat")
    assert f"taken from {recorded}" in capsys.readouterr().err


def test_streaming_seed_summary_is_each_recipe_over_its_stream_training_seeds():
    """Seed 0 is the row named by its recipe, seed s > 0 ``"<recipe> seed s"``; the summary
    takes int8-on-TFLM rows only and says how many seeds reached a budget."""
    from benchmarks.report import SEED_COLUMNS, markdown_table
    from benchmarks.stream_seeds import seed_label, seed_summary

    def step(training, frr1, frr5, scorer="tflm_int8"):
        return {"model": "m", "training": training, "scorer": scorer,
                "frr_at_1fa_h": frr1, "frr_at_5fa_h": frr5, "frr_at_20fa_h": 0.3}

    rows = [step("clip", None, None), step("r", 0.6, 0.5), step("r", 0.1, 0.1, "float_step"),
            step("r seed 1", 0.8, 0.4), step("r seed 2", None, 0.6)]
    points = [{"model": "m", "training": t, "stream": s, "frr": f, "fa_h": a}
              for t, f in (("r", 0.7), ("r seed 1", 0.8), ("r seed 2", 0.9))
              for s, a in (("test", 1.0), ("negatives", 2.0))]
    assert seed_label("r", 0) == "r" and seed_label("r", 2) == "r seed 2"
    (summary,) = seed_summary(rows, points)
    assert summary["training"] == "r" and summary["seeds"] == 3
    assert summary["frr_at_1fa_h"] == "0.700 ± 0.141 (2 of 3)"
    assert summary["frr_at_5fa_h"] == "0.500 ± 0.100"
    assert summary["point_frr"] == "0.800 ± 0.100"
    assert summary["negatives_fa_h"] == "2.000 ± 0.000"
    assert "0.700 ± 0.141 (2 of 3)" in markdown_table([summary], SEED_COLUMNS)
