"""Benchmark suites end to end on tiny settings, and the generated results page.

Runs ``python -m benchmarks.run paper deploy redundancy train_speed streaming --quick --data
synthetic``
with ``GHOST_KWS_BENCH_TINY=1`` (1 epoch, a 20-clips-per-word synthetic set, 16 clips for the
redundancy analysis: well under a minute of work on 2 cores), then ``python -m
benchmarks.report`` on its results, and checks the files, the tables' columns and that the
numbers are the ones the models and the TFLM exports imply.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_firmware_helpers import assert_int8_interface

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # this checkout's benchmarks, whichever copy is installed
    sys.path.insert(0, str(REPO))

bench_report = importlib.import_module("benchmarks.report")
bench_common = importlib.import_module("benchmarks.common")
bench_deploy = importlib.import_module("benchmarks.deploy")
bench_redundancy = importlib.import_module("benchmarks.redundancy")
PNG = b"\x89PNG\r\n\x1a\n"
SUITES = ["paper", "deploy", "redundancy", "train_speed", "streaming"]
FRAMES, FRAMES_PER_S = 49, 50

#: The paper table's columns this test relies on (the suite may add more between them).
PAPER_COLUMNS = ["model", "seeds", "params", "params_vs_base", "tflite_bytes", "flash_vs_base",
                 "macs_per_frame", "macs_per_decision", "macs_vs_base", "state_bytes",
                 "arena_bytes", "float_acc", "int8_tflm_acc", "int8_from", "published"]
DEPLOY_COLUMNS = ["model", "kind", "tflite_bytes", "int8_weight_bytes", "tflite_vs_weights",
                  "arena_bytes", "operators", "ops", "invoke_us", "decision_invokes",
                  "decision_macs", "decision_host_us", "stream_macs_per_s", "window_macs_per_s",
                  "window_vs_stream", "run"]
REDUNDANCY_COLUMNS = ["model", "units", "intrinsic_units", "clips", "samples", "redundant_units",
                      "redundant_share", "mean_best_abs_cos", "median_best_abs_cos",
                      "pairs_above", "mean_abs_cos", "pearson_redundant_share",
                      "pearson_mean_best_abs_r", "intrinsic_redundant_share"]
TRAIN_SPEED_COLUMNS = ["layer", "step_ms", "vs_GRU_same_width"]
STREAMING_COLUMNS = ["model", "training", "scorer", "frr_at_1fa_h", "frr_at_5fa_h",
                     "frr_at_20fa_h", "frr_p08", "fa_h_p08", "drift_probability",
                     "first_tenth_frr",
                     "first_tenth_fa_h", "last_tenth_frr", "last_tenth_fa_h", "mmacs_per_s",
                     "host_ms_per_s"]


def _run(args: list[str], timeout: int = 1200, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GHOST_KWS_BENCH_TINY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0 or not check, (
        f"{' '.join(args)} failed ({done.returncode})\nstdout:\n{done.stdout[-4000:]}\n"
        f"stderr:\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One tiny run of all four suites, and the report generated from it."""
    root = tmp_path_factory.mktemp("bench")
    out = root / "results"
    run = _run(["benchmarks.run", *SUITES, "--quick", "--data", "synthetic", "--out", str(out)])
    page = root / "doc" / "results.md"
    _run(["benchmarks.report", str(out), "--out", str(page)])
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in SUITES}
    return {"out": out, "page": page, "results": results, "stdout": run.stdout}


def _rows(result: dict) -> dict[str, dict]:
    return {row["model"]: row for row in result["summary"]}


def _in_order(wanted: list[str], columns: list[str]) -> bool:
    """Every wanted column is present, in the same relative order."""
    return [c for c in columns if c in wanted] == wanted


def _markdown_header(text: str, first: str) -> list[str]:
    """The columns of the first Markdown table whose header starts with ``first``."""
    for line in text.splitlines():
        if line.startswith(f"| {first} |"):
            return [c.strip() for c in line.strip().strip("|").split("|")]
    raise AssertionError(f"no table starting with column {first!r}")


# -- the run ---------------------------------------------------------------------------------


def test_every_suite_writes_json_and_markdown_with_its_provenance(bench):
    out = bench["out"]
    for name in SUITES:
        result = bench["results"][name]
        assert result["suite"] == name and result["quick"] is True and result["tiny"] is True
        assert result["command"].startswith("python -m benchmarks.run paper deploy redundancy")
        assert "synthetic" in result["data"] and result["machine"] and result["date"]
        assert 0 < result["wall_seconds"] < 1200
        assert result["summary"], name
        md = (out / f"{name}.md").read_text()
        assert md.startswith(f"# {name}") and result["command"] in md
        assert f"== {name} (" in bench["stdout"]  # each suite prints its table


def test_paper_table_columns_and_ghost_savings(bench):
    result = bench["results"]["paper"]
    assert _in_order(PAPER_COLUMNS, result["columns"])
    rows = _rows(result)
    assert list(rows) == ["gru_S", "ghost_gru_S_r2"]
    gru, ghost = rows["gru_S"], rows["ghost_gru_S_r2"]
    assert ghost["params"] < 0.65 * gru["params"]
    assert ghost["params_vs_base"] == pytest.approx(ghost["params"] / gru["params"])
    assert ghost["macs_per_decision"] < 0.65 * gru["macs_per_decision"]
    assert ghost["tflite_bytes"] < gru["tflite_bytes"]
    assert gru["params_vs_base"] == 1.0 and gru["state_bytes"] == ghost["state_bytes"] == 154
    for row in rows.values():
        assert row["seeds"] == 1 and row["int8_from"] == "qat"
        for key in ("float_acc", "int8_tflm_acc", "int8_unknown_recall"):
            mean = float(row[key].split("±")[0])
            assert 0.0 <= mean <= 100.0
    assert rows["gru_S"]["published"].startswith("Hello Edge GRU-S")
    assert (bench["out"] / "paper_pareto.png").read_bytes()[:8] == PNG
    assert result["epochs"] == 1 and result["plots"] == ["paper_pareto.png"]
    # The paper recipe: normalized features, class-balanced epochs.
    saved = json.loads(next((bench["out"] / "runs").glob("gru_S_*/config.json")).read_text())
    assert saved["train"]["balance_classes"] and saved["train"]["normalize_features"]


def test_paper_resume_reuses_the_float_and_qat_models_and_redoes_the_exports(tmp_path):
    out = tmp_path / "results"
    args = ["benchmarks.run", "paper", "--quick", "--data", "synthetic", "--models", "gru_S",
            "--out", str(out)]
    _run(args)
    first = json.loads((out / "paper.json").read_text())["runs"]
    export = out / "runs" / "gru_S_r1_seed0" / "export" / "export.json"
    export.unlink()
    run = _run([*args, "--resume"])
    assert "reusing the float model and the QAT model" in run.stderr
    assert "QAT 1 epochs" not in run.stderr and export.is_file()
    again = json.loads((out / "paper.json").read_text())["runs"]
    assert [r["model"] for r in first] == [r["model"] for r in again] == ["gru_S"]
    assert not first[0]["qat_reused"] and again[0]["float_training_reused"]
    assert again[0]["qat_reused"] and 0.0 <= first[0]["int8_unknown_recall"] <= 1.0
    # The same float and QAT models: the same int8 models, so the same TFLM answers.
    for key in ("float_accuracy", "qat_accuracy", "ptq_tflm_accuracy", "int8_tflm_accuracy",
                "int8_unknown_recall"):
        assert again[0][key] == first[0][key], key
    # Another session, another folder: the recorded run is taken as it is, nothing retrained;
    # other settings (2 epochs) are not.
    elsewhere = tmp_path / "elsewhere"
    partial = out / "paper.partial.json"
    assert json.loads(partial.read_text())["runs"] == again
    run = _run([*args[:-1], str(elsewhere), "--resume-from", str(partial)])
    assert "taken from" in run.stderr and "training 1 epochs" not in run.stderr
    assert json.loads((elsewhere / "paper.json").read_text())["runs"] == again
    assert not (elsewhere / "runs").exists()
    run = _run([*args[:-1], str(elsewhere), "--resume-from", str(partial), "--epochs", "2"])
    assert "taken from" not in run.stderr and "training 2 epochs" in run.stderr
    bad = _run([*args, "--resume-from", str(export.parent)], check=False)
    assert bad.returncode != 0 and "not a paper suite's JSON" in bad.stderr


def test_deploy_measures_the_exports_and_streaming_beats_recomputing_the_window(bench):
    out, result = bench["out"], bench["results"]["deploy"]
    assert result["columns"] == DEPLOY_COLUMNS
    # The firmware of each run on the Cortex-M4 (tiny mode: CMSIS-NN kernels only), with the
    # folder's kernels (LOGISTIC/TANH/SOFTMAX tables, FULLY_CONNECTED, ADD/SUB/MUL) and with
    # TFLM's and CMSIS-NN's kernels only: the folder's remove instructions, the tables take arena.
    device = {(r["model"], r["kernels"]): r for r in result["device"]}
    assert set(device) == {(m, k) for m in ("gru_S", "ghost_gru_S_r2")
                           for k in ("cmsis_nn", "cmsis_nn_tflm_kernels")}
    for model in ("gru_S", "ghost_gru_S_r2"):
        own, tflm = device[(model, "cmsis_nn")], device[(model, "cmsis_nn_tflm_kernels")]
        assert own["instructions_per_invoke"] < tflm["instructions_per_invoke"]
        assert own["arena_bytes"] > tflm["arena_bytes"]
    for row in device.values():
        assert 0 < row["arena_bytes"] and 0 < row["instructions_per_invoke"]
        assert row["instructions_per_invoke"] < row["instructions_per_stride"]
        assert row["flash_bytes"] > 0 and row["static_ram_bytes"] > 0
    # Fewer MACs, fewer instructions on the device.
    assert (device[("ghost_gru_S_r2", "cmsis_nn")]["instructions_per_invoke"]
            < device[("gru_S", "cmsis_nn")]["instructions_per_invoke"])
    rows, paper = _rows(result), _rows(bench["results"]["paper"])
    assert set(rows) == {"gru_S", "ghost_gru_S_r2"}  # reuses the paper suite's runs
    for model, row in rows.items():
        run_dir = out / "runs" / row["run"]
        export = json.loads((run_dir / "export" / "export.json").read_text())
        assert row["kind"] == "step" and row["decision_invokes"] == FRAMES
        assert row["tflite_bytes"] == (run_dir / "export" / "model_int8.tflite").stat().st_size
        assert_int8_interface(run_dir / "export" / "model_int8.tflite")
        assert row["tflite_bytes"] == paper[model]["tflite_bytes"]
        # The .tflite holds the int8 weights plus graph, quantization parameters and metadata.
        assert row["int8_weight_bytes"] < row["tflite_bytes"] < 1.5 * row["int8_weight_bytes"]
        # The smallest arena is deterministic: the export's own measurement agrees.
        assert row["arena_bytes"] == export["report"]["arena_bytes"] == paper[model]["arena_bytes"]
        assert 1024 <= row["arena_bytes"] < 64 * 1024 and row["arena_bytes"] % 16 == 0
        ops = row["ops"].split(", ")
        assert "FULLY_CONNECTED" in ops and "TANH" in ops and row["operators"] >= len(ops)
        assert 0 < row["invoke_us"] < 100_000
        assert row["decision_host_us"] == pytest.approx(FRAMES * row["invoke_us"])
        per_frame, per_window = paper[model]["macs_per_frame"], paper[model]["macs_per_decision"]
        assert row["decision_macs"] == FRAMES * per_frame
        assert row["stream_macs_per_s"] == FRAMES_PER_S * per_frame
        assert row["window_macs_per_s"] == FRAMES_PER_S * per_window
        assert row["stream_macs_per_s"] < row["window_macs_per_s"]
        # Recomputing 49 frames at every stride costs ~49x one step (less the shared head).
        assert 40 < row["window_vs_stream"] < FRAMES
    assert rows["ghost_gru_S_r2"]["stream_macs_per_s"] < 0.65 * rows["gru_S"]["stream_macs_per_s"]
    assert "CONCATENATION" in rows["ghost_gru_S_r2"]["ops"]  # [intrinsic, ghost] state


def test_redundancy_writes_both_figures_per_model_and_sane_statistics(bench):
    out, result = bench["out"], bench["results"]["redundancy"]
    assert result["columns"] == REDUNDANCY_COLUMNS
    rows = _rows(result)
    assert list(rows) == ["gru_S", "ghost_gru_S_r2"]
    assert rows["gru_S"]["intrinsic_units"] == rows["gru_S"]["units"] == 154
    assert rows["ghost_gru_S_r2"]["intrinsic_units"] == 77
    assert rows["gru_S"]["intrinsic_redundant_share"] is None
    for model, row in rows.items():
        assert row["clips"] == 16 and row["samples"] == 16 * FRAMES
        assert 0 <= row["redundant_units"] <= row["units"]
        assert row["redundant_share"] == pytest.approx(row["redundant_units"] / row["units"])
        for key in ("redundant_share", "pearson_redundant_share", "mean_abs_cos"):
            assert 0.0 <= row[key] <= 1.0
        assert row["mean_abs_cos"] <= row["mean_best_abs_cos"] <= 1.0
        for suffix in ("cosine", "states"):
            png = out / f"redundancy_{model}_{suffix}.png"
            assert png.read_bytes()[:8] == PNG and png.name in result["plots"]
        stats = json.loads((out / "redundancy" / model / "redundancy.json").read_text())
        assert stats["redundant_units"] == row["redundant_units"] and stats["clips"] == 16


def test_train_speed_table(bench):
    result = bench["results"]["train_speed"]
    assert result["columns"] == TRAIN_SPEED_COLUMNS
    layers = {row["layer"]: row for row in result["summary"]}
    assert set(layers) == {"GRU(154)", "GhostGRU(154, r2)", "GhostGRU(154, r2, unroll=False)",
                           "RNN(GhostGRUCell(154, r2)) (per-step cell)",
                           "GRU(77) (intrinsic width)"}
    assert layers["GRU(154)"]["vs_GRU_same_width"] == 1.0
    assert all(row["step_ms"] > 0 for row in layers.values())


def test_streaming_scores_every_model_and_scorer_on_one_stream(bench):
    out, result = bench["out"], bench["results"]["streaming"]
    assert result["columns"] == STREAMING_COLUMNS
    got = {(r["model"], r["training"], r["scorer"]): r for r in result["summary"]}
    recurrent = [(m, t) for m in ("gru_S", "ghost_gru_S_r2") for t in ("clip", "stream")]
    wanted = {(m, t, s) for m, t in recurrent
              for s in ("tflm_int8", "float_step", "float_window_every1")}
    wanted |= {("ds_cnn_S", "clip", s)
               for s in ("tflm_int8", "float_window_every5", "float_window_every1")}
    assert set(got) == wanted
    paper = _rows(bench["results"]["paper"])
    for (model, training, scorer), row in got.items():
        frr = [row[f"frr_at_{x}fa_h"] for x in (1, 5, 20)]
        # more false accepts allowed can only lower the best FRR
        known = [f for f in frr if f is not None]
        assert known == sorted(known, reverse=True) and all(0 <= f <= 1 for f in known)
        assert 0 <= row["frr_p08"] <= 1 and row["fa_h_p08"] >= 0
        if model in paper and scorer != "float_window_every1":  # one step per 20 ms frame
            assert row["mmacs_per_s"] == pytest.approx(
                FRAMES_PER_S * paper[model]["macs_per_frame"] / 1e6)
        if scorer == "float_window_every1":  # the whole window at every stride
            step = got.get((model, training, "tflm_int8"))
            if model in paper:
                assert row["mmacs_per_s"] == pytest.approx(
                    FRAMES_PER_S * paper[model]["macs_per_decision"] / 1e6)
                assert 40 < row["mmacs_per_s"] / step["mmacs_per_s"] < FRAMES
    # the stream-trained run is a new run folder, exported, beside the clip-trained one
    for model in ("gru_S_r1", "ghost_gru_S_r2"):
        stream_run = out / "runs" / f"{model}_seed0_stream"
        config = json.loads((stream_run / "config.json").read_text())
        assert config["source_run"] == str(out / "runs" / f"{model}_seed0")
        assert (stream_run / "export" / "model_int8.tflite").is_file()
    # deploy and redundancy read clip-trained runs only: a stream-trained copy is not a seed
    found = bench_common.find_runs(out)
    assert {r.model for r in found} == {"gru_S", "ghost_gru_S_r2", "ds_cnn_S"}
    assert not any(r.path.name.endswith("_stream") for r in found)
    checks = result["checks"]
    assert checks["training"] == "stream"  # the recipe asked for last (the only one here)
    assert checks["compute_ratio_vs_window_clip"] < 1 / 40
    assert len(checks["step_frr_le_window_stream_at_1_5_20_fa_h"]) == 3
    assert (out / "streaming_det.png").read_bytes()[:8] == PNG
    assert Path(result["stream"]["wav"]).is_file() and result["stream"]["minutes"] == 1.0
    assert (out / "streaming" / "ghost_gru_S_r2_stream" / "stream_eval.json").is_file()
    # Every run at its operating point (chosen on a validation stream twice the stream's
    # length, kept in its export.json) on the three streams; the negatives have no target.
    assert set(result["streams"]) == {"test", "real_noise", "negatives"}
    assert result["streams"]["negatives"]["keywords"] == 0
    assert result["streams"]["negatives"]["unknown"] > 0
    points = {(r["model"], r["training"], r["stream"]): r for r in result["operating_point"]}
    assert set(points) == {(m, t, s) for m, t, _ in wanted
                           for s in ("test", "real_noise", "negatives")}
    for (model, training, stream), row in points.items():
        assert row["fa_h_low"] <= row["fa_h"] <= row["fa_h_high"]
        assert row["hours"] == pytest.approx((2 if stream == "negatives" else 1) / 60)
        assert (row["frr"] is None) == (stream == "negatives") == (row["targets"] == 0)
        spec = {"gru_S": ("gru", "S", 1), "ghost_gru_S_r2": ("ghost_gru", "S", 2),
                "ds_cnn_S": ("ds_cnn", "S", 1)}[model]
        run = bench_common.run_folder(out, *spec, 0)
        run = run.with_name(run.name + "_stream") if training == "stream" else run
        point = json.loads((run / "export" / "export.json").read_text())["operating_point"]
        assert point["validation_stream"]["minutes"] == 2.0
        assert (row["probability"], row["window_ms"], row["val_fa_h"]) == (
            point["recognizer"]["detection_probability"],
            point["recognizer"]["average_window_ms"], point["fa_per_hour"])


# -- the report ------------------------------------------------------------------------------


def test_report_page_has_every_suite_table_and_its_plots(bench):
    page, out = bench["page"], bench["out"]
    text = page.read_text()
    first = text.splitlines()[2]
    assert first.startswith(f"Generated by `python -m benchmarks.report {out} --out {page}`")
    assert "do not edit" in first
    for name in SUITES:
        result = bench["results"][name]
        assert f"## {name}: " in text
        assert f"- Command: `{result['command']}`" in text
        assert f"- Date: {result['date']}" in text and f"- Machine: {result['machine']}" in text
        assert "- Wall time: " in text and "- Data: synthetic" in text
        # The figures beside the page, as the suite wrote them (what --resume-from reads).
        assert json.loads((page.parent / "results" / f"{name}.json").read_text()) == result
    paper_header = _markdown_header(text, "model")  # the first "model" table is paper's
    assert sorted(paper_header) == sorted(bench["results"]["paper"]["columns"])  # none dropped
    assert _in_order(PAPER_COLUMNS, paper_header)
    assert _markdown_header(text, "layer") == TRAIN_SPEED_COLUMNS
    headers = [line for line in text.splitlines() if line.startswith("| model |")]
    assert "| " + " | ".join(DEPLOY_COLUMNS) + " |" in headers
    assert "| " + " | ".join(REDUNDANCY_COLUMNS) + " |" in headers
    assert "| " + " | ".join(STREAMING_COLUMNS) + " |" in headers
    assert "Stream: 1.0 min" in text and "- `compute_ratio_vs_window_clip`: " in text
    assert "Hello Edge GRU-S: 93.5%" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    expected = {"results/paper_pareto.png", "results/streaming_det.png"} | {
        f"results/redundancy_{m}_{s}.png" for m in ("gru_S", "ghost_gru_S_r2")
        for s in ("cosine", "states")}
    assert set(links) == expected
    from PIL import Image

    for link in links:
        copy = page.parent / link
        assert copy.read_bytes()[:8] == PNG
        assert copy.stat().st_size < (out / copy.name).stat().st_size  # smaller than the source
        with Image.open(copy) as image:
            assert image.width <= bench_report.MAX_PNG_WIDTH


def test_report_regenerates_and_drops_stale_plots(bench, tmp_path):
    page = tmp_path / "results.md"
    (tmp_path / "results").mkdir()
    stale = tmp_path / "results" / "old_suite.png"
    stale.write_bytes(PNG)
    first = bench_report.render(bench["out"], page, "python -m benchmarks.report X")
    assert not stale.exists()
    assert bench_report.render(bench["out"], page, "python -m benchmarks.report X") == first


# -- without the heavy run -------------------------------------------------------------------


def test_data_may_be_a_speech_commands_download(tmp_path):
    choice = bench_common.data_choice(str(tmp_path))
    assert choice.data_dirs == [str(tmp_path)] and choice.split_dirs == []
    assert "its own validation/testing lists" in choice.name
    with pytest.raises(SystemExit, match="no such folder"):
        bench_common.data_choice(str(tmp_path / "missing"))
    assert bench_common.data_choice("synthetic").data_dirs == []


def test_report_orders_columns_of_sorted_json_and_formats_values(tmp_path):
    results = tmp_path / "r"
    results.mkdir()
    row = {"model": "gru_S", "units": 154, "intrinsic_units": 154, "clips": 3, "samples": 147,
           "redundant_units": 13, "redundant_share": 0.0844, "mean_best_abs_cos": 0.7,
           "median_best_abs_cos": 0.75, "pairs_above": 25, "mean_abs_cos": 0.36,
           "pearson_redundant_share": 0.0, "pearson_mean_best_abs_r": 0.59,
           "intrinsic_redundant_share": None}
    result = {"suite": "redundancy", "summary": [row], "quick": False, "data": "real: x",
              "command": "python -m benchmarks.run redundancy", "machine": "m", "date": "d",
              "wall_seconds": 90.0, "plots": ["missing.png"], "threshold": 0.9}
    (results / "redundancy.json").write_text(json.dumps(result, sort_keys=True))
    (results / "notes.json").write_text("{}")  # not a suite result: ignored
    text = bench_report.render(results, tmp_path / "page.md", "python -m benchmarks.report r")
    assert _markdown_header(text, "model") == REDUNDANCY_COLUMNS
    assert "| gru_S | 154 | 154 | 3 | 147 | 13 | 8.4% | 0.7 |" in text
    assert "Wall time: 1.5 min" in text and "threshold = 0.9" in text
    assert "_(plot missing.png missing from" in text and "Quick settings" not in text


def test_report_plots_redraws_paper_and_streaming_plots_from_their_json(tmp_path):
    bench_streaming = importlib.import_module("benchmarks.streaming")
    runs = [{"model": m, "arch": a, "seed": s, "tflite_bytes": b, "macs_per_decision": c,
             "int8_tflm_accuracy": acc}
            for m, a, s, b, c, acc in (("gru_S", "gru", 0, 101104, 4393620, 0.78),
                                       ("gru_S", "gru", 1, 101104, 4393620, 0.77),
                                       ("ghost_gru_S_r2", "ghost_gru", 0, 63344, 2488255, 0.75))]
    row = {"frr_at_1fa_h": 0.9, "frr_at_5fa_h": 0.8, "frr_at_20fa_h": None, "frr_p08": 0.7,
           "fa_h_p08": 42.0}
    rows = [{**row, "model": "gru_S", "training": "clip", "scorer": scorer}
            for scorer in ("tflm_int8", "float_step")]
    stream = {"minutes": 60.0, "snr_db": 10.0}
    results = {"paper": {"suite": "paper", "summary": [], "runs": runs},
               "streaming": {"suite": "streaming", "summary": rows, "stream": stream}}
    for name, result in results.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    assert bench_report.replot(tmp_path) == ["paper_pareto.png", "streaming_det.png"]
    assert all((tmp_path / png).read_bytes()[:8] == PNG
               for png in ("paper_pareto.png", "streaming_det.png"))
    # a result without curves is drawn from its summary: the FA/h budgets, then p = 0.8
    curves = bench_streaming._summary_curves(rows, 0.8)
    assert [(c["fa_per_hour"], c["frr"], c["probability"])
            for c in curves["gru_S clip"]["tflm_int8"]] == [(1.0, 0.9, None), (5.0, 0.8, None),
                                                            (42.0, 0.7, 0.8)]
    # a result that kept its curves (det) is drawn from them
    det = [{"probability": p, "frr": f, "fa_per_hour": fa}
           for p, f, fa in ((0.5, 0.5, 30.0), (0.8, 0.7, 4.0), (0.9, 0.9, 0.0))]
    full = {"summary": rows, "stream": stream,
            "det": {"gru_S clip": {"tflm_int8": det, "float_step": det}}}
    assert bench_streaming.plot_result(full, tmp_path / "full") == ["streaming_det.png"]
    assert (tmp_path / "full" / "streaming_det.png").read_bytes()[:8] == PNG


def test_deploy_and_redundancy_need_trained_runs_outside_quick_mode(tmp_path):
    data = bench_common.DataChoice("synthetic", [], [], [0.8, 0.1, 0.1])
    with pytest.raises(SystemExit, match="run the paper suite"):
        bench_deploy.suite_deploy(tmp_path, False, data, None)
    with pytest.raises(SystemExit, match="run the paper suite"):
        bench_redundancy.suite_redundancy(tmp_path, False, data, None)


def test_streaming_rows_are_its_stream_training_recipes(tmp_path):
    bench_streaming = importlib.import_module("benchmarks.streaming")
    from ghost_keras.stream_training import StreamTrainConfig

    data = bench_common.DataChoice("synthetic", [], [], [0.8, 0.1, 0.1])
    with pytest.raises(SystemExit, match=r"unknown rows \['\+clip'\]"):
        bench_streaming.suite_streaming(tmp_path, False, data, None, rows=["stream", "+clip"])
    assert not any(tmp_path.iterdir())  # refused before any work
    for changes in bench_streaming.STREAM_RECIPES.values():  # each a valid config
        StreamTrainConfig(**changes)


@pytest.mark.slow
def test_recipe_suite_scores_rows_on_one_test_split_and_resume_skips_finished_runs(tmp_path):
    out = tmp_path / "results"
    args = ["benchmarks.run", "recipe", "--quick", "--data", "synthetic", "--models", "gru_S",
            "--rows", "baseline", "+specaug", "+distill", "+noise", "--out", str(out)]
    _run(args)
    result = json.loads((out / "recipe.json").read_text())
    rows = {r["row"]: r for r in result["runs"]}
    assert set(rows) == {"baseline", "+specaug", "+distill", "+noise"}
    assert rows["baseline"]["test_clips"] == rows["+specaug"]["test_clips"] > 0
    for row in rows.values():
        assert 0.0 <= row["unknown_recall"] <= 1.0 and row["train_minutes"] > 0
        assert 0.0 <= row["test_acc_10db"] <= 1.0
        assert row["command"].startswith("python -m benchmarks.run recipe --resume")
    saved = json.loads(next((out / "recipe_runs").glob("specaug_*/config.json")).read_text())
    assert saved["train"]["time_masks"] == 2 and saved["train"]["freq_mask_bins"] == 8
    # Only the baseline trains on the features as the front end gives them; every row is
    # scored on the one test split featurized by its own (normalized) front end.
    base = json.loads(next((out / "recipe_runs").glob("baseline_*/config.json")).read_text())
    assert not base["train"]["normalize_features"] and base["frontend"]["input_offset"] == 0
    assert saved["train"]["normalize_features"] and saved["frontend"]["input_offset"] < 0
    # +distill: the +extra recipe taught by a GRU-L trained once with that recipe
    distilled = json.loads(next((out / "recipe_runs").glob("distill_*/config.json")).read_text())
    teacher = Path(distilled["train"]["teacher_run"])
    assert teacher.parent == out / "recipe_runs" and "gru_L" in teacher.name
    assert json.loads((teacher / "config.json").read_text())["train"]["teacher_run"] is None
    assert result["row_fields"]["+distill"]["teacher"] == "gru_L"
    again = _run([*args, "--resume"])
    noisy = json.loads(next((out / "recipe_runs").glob("noise_*/config.json")).read_text())
    assert noisy["train"]["noise_snr_db"] == [0.0, 20.0] and noisy["train"]["balance_classes"]
    assert again.stderr.count("resume: finished") == 4 and "training 1 epochs" not in again.stderr
    assert "training the teacher" not in again.stderr
    assert json.loads((out / "recipe.json").read_text())["runs"] == result["runs"]


@pytest.mark.slow
def test_int8_lstm_suite_quantizes_one_float_run_with_the_fixed_and_the_calibrated_range(
        tmp_path):
    out = tmp_path / "results"
    _run(["benchmarks.run", "int8_lstm", "--quick", "--data", "synthetic", "--models",
          "lstm_S", "--out", str(out)])
    result = json.loads((out / "int8_lstm.json").read_text())
    rows = {r["mode"]: r for r in result["summary"]}
    assert set(rows) == {"fixed_4", "calibrated_max"}
    assert rows["fixed_4"]["cell_state_range"] == 4.0
    assert rows["calibrated_max"]["cell_state_range"] != 4.0
    assert rows["fixed_4"]["float_acc"] == rows["calibrated_max"]["float_acc"]  # one float run
    for row in rows.values():
        assert 0 <= row["int8_tflm_acc"] <= 1 and row["agreement_qat"] > 0.5
        assert row["int8_vs_float_points"] == pytest.approx(
            100 * (row["int8_tflm_acc"] - row["float_acc"]))
    for mode in rows:  # each QAT run exported from its own copy of the float run
        export = json.loads((out / "int8_lstm" / f"lstm_S_{mode}" / "export" /
                             "export.json").read_text())
        assert export["source"] == "qat"


def test_report_update_replaces_only_the_suites_it_has(tmp_path):
    def result(suite: str, value: int) -> dict:
        return {"suite": suite, "summary": [{"model": "gru_S", "value": value}], "quick": False,
                "data": "real: x", "command": f"python -m benchmarks.run {suite}",
                "machine": "m", "date": "d", "wall_seconds": 1.0}

    first, second, page = tmp_path / "a", tmp_path / "b", tmp_path / "results.md"
    first.mkdir()
    second.mkdir()
    for suite in ("paper", "deploy", "train_speed"):
        (first / f"{suite}.json").write_text(json.dumps(result(suite, 1)))
    (second / "deploy.json").write_text(json.dumps(result("deploy", 2)))
    bench_report.render(first, page, "first")
    before = bench_report.page_sections(page.read_text())
    text = bench_report.render(second, page, "second", update=True)
    after = bench_report.page_sections(text)
    assert list(after) == ["paper", "deploy", "train_speed"]  # page order kept
    assert after["paper"] == before["paper"] and after["train_speed"] == before["train_speed"]
    assert "| gru_S | 2 |" in after["deploy"] and "| gru_S | 1 |" in before["deploy"]
    assert "kept from the page before" in text and "paper, train_speed" in text
    # Without --update the page holds only what the folder has.
    assert list(bench_report.page_sections(bench_report.render(second, page, "x"))) == ["deploy"]
