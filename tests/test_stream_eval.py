"""Streaming evaluation: the matcher on hand-made detections, the recognizer settings, clear
errors, and a tiny trained run streamed through TFLM int8 and its float step model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_firmware_helpers import assert_int8_interface

from firmware_export.firmware.recognizer import Detection
from firmware_export.evaluate import (
    StreamError,
    argmax_agreement,
    compare_detections,
    detect,
    detect_in_wav,
    format_table,
    frame_times_ms,
    load_export,
    match,
    read_stream_audio,
    run_float_step,
    run_float_window,
    run_tflm,
    stream_eval,
    stream_features,
    stream_scores,
)
from firmware_export.evaluate.det import det_figure, plot_det
from ghost_keras.data import LABELS_12, SILENCE, UNKNOWN, AudioFormatError, write_wav
from ghost_keras.data.long_stream import (
    TruthFileError,
    TruthItem,
    make_long_stream,
    stream_index,
    write_stream,
)
from ghost_keras.features import FrontendConfig

TRUTH = [
    TruthItem("yes", 1.0, 1.5),  # 0
    TruthItem("no", 4.0, 4.6),  # 1
    TruthItem("up", 8.0, 8.5),  # 2
    TruthItem(UNKNOWN, 12.0, 12.5),  # 3
    TruthItem(SILENCE, 15.0, 16.0),  # 4
    TruthItem("left", 20.0, 20.5),  # 5
    TruthItem("left", 22.0, 22.4),  # 6
    TruthItem("go", 30.0, 30.5),  # 7
]
DETECTIONS = [  # (label, ms, expected outcome)
    ("yes", 2200, "hit"),
    ("yes", 2400, "false_accept_keyword"),  # a repeat: one detection per keyword
    ("up", 4300, "false_accept_keyword"),  # 'no' is hit later: hits win over wrong labels
    ("no", 5000, "hit"),
    ("up", 9600, "false_accept_gap"),  # 1.1 s after 'up' ended: beyond the tolerance
    ("left", 12300, "false_accept_unknown"),
    ("go", 15500, "false_accept_silence"),
    ("left", 21000, "hit"),
    ("left", 22100, "hit"),  # the second 'left', not the first again
    ("right", 30200, "wrong_label"),
    ("on", 40000, "false_accept_gap"),
]


def _dets(rows):
    return [Detection(label, ms, 220) for label, ms, _ in rows]


def test_matcher_counts_hits_misses_wrong_labels_and_false_accepts():
    dets = _dets(DETECTIONS) + [Detection(SILENCE, 16000, 250)]  # never a keyword detection
    m = match(dets, TRUTH, tolerance_ms=1000, duration_s=60.0, parts=2)
    assert [e["outcome"] for e in m["events"]] == [o for *_, o in DETECTIONS]
    assert (m["targets"], m["hits"], m["misses"], m["wrong_label"]) == (6, 4, 1, 1)
    assert m["frr"] == pytest.approx(2 / 6) and m["miss_rate"] == pytest.approx(1 / 6)
    assert (m["detections"], m["false_accepts"]) == (11, 6)
    assert m["false_accepts_on"] == {"keyword": 2, "unknown": 1, "silence": 1, "gap": 2}
    assert m["fa_per_hour"] == pytest.approx(6 / (60 / 3600))
    assert m["per_keyword"]["up"] == {"targets": 1, "hits": 0, "misses": 1, "wrong_label": 0,
                                      "frr": 1.0, "detections": 2, "false_accepts": 2}
    assert m["per_keyword"]["go"]["wrong_label"] == 1
    assert m["per_keyword"]["right"]["false_accepts"] == 0  # a wrong label, not a false accept
    first, second = m["by_part"]
    assert (first["targets"], first["hits"], first["misses"]) == (5, 4, 1)
    assert first["false_accepts"] == 5
    assert (second["targets"], second["wrong_label"], second["false_accepts"]) == (1, 1, 1)
    assert second["fa_per_hour"] == pytest.approx(1 / (30 / 3600))
    # detection time - keyword end of the hits: 700, 400, 500 and -300 ms (before the end)
    assert m["latency_ms"] == {"median": 450.0, "max": 700.0}
    json.dumps(m)


def test_matcher_tolerance_edges_and_one_to_one():
    truth = [TruthItem("yes", 1.0, 1.5)]
    assert match([Detection("yes", 2500, 210)], truth, tolerance_ms=1000)["hits"] == 1
    assert match([Detection("yes", 2501, 210)], truth, tolerance_ms=1000)["hits"] == 0
    assert match([Detection("yes", 999, 210)], truth, tolerance_ms=1000)["hits"] == 0
    m = match([Detection("no", 1200, 210), Detection("up", 1300, 210)], truth, duration_s=3600)
    assert (m["wrong_label"], m["false_accepts"], m["fa_per_hour"]) == (1, 1, 1.0)
    empty = match([], truth, duration_s=10)
    assert (empty["misses"], empty["frr"], empty["fa_per_hour"]) == (1, 1.0, 0.0)


def test_detect_uses_the_firmware_recognizer_settings():
    times = np.arange(1, 501) * 20  # 10 s of results every 20 ms
    scores = np.zeros((500, len(LABELS_12)), np.uint8)
    scores[:, 0] = 240  # silence
    word = (times >= 2000) & (times < 3500)
    scores[word, 0], scores[word, LABELS_12.index("yes")] = 10, 230
    dets = detect(scores, times, LABELS_12)
    assert [d.label for d in dets] == ["yes"] and 2000 < dets[0].time_ms < 3500
    assert dets[0].score > 205  # p 0.8 -> score 205 (int8 softmax, scale 1/256)
    assert detect(scores, times, LABELS_12, {"detection_probability": 0.95}) == []
    assert len(detect(scores.astype(np.int16).__sub__(128).astype(np.int8), times,
                      LABELS_12)) == 1  # int8 scores are shifted by +128 like uint8
    with pytest.raises(StreamError, match="unknown recognizer settings"):
        detect(scores, times, LABELS_12, {"threshold": 0.5})


def test_compare_detections():
    a = [Detection("yes", 1000, 210), Detection("no", 5000, 210)]
    b = [Detection("yes", 1300, 210), Detection("up", 5000, 210)]
    c = compare_detections(a, b, within_ms=500)
    assert (c["both"], c["only_a"], c["only_b"]) == (1, 1, 1)


def test_frame_times_are_the_firmware_timestamps():
    np.testing.assert_array_equal(frame_times_ms(3, FrontendConfig.microfrontend()), [40, 60, 80])
    np.testing.assert_array_equal(frame_times_ms(2, FrontendConfig.cmsis_mfcc()), [40, 60])


def test_clear_errors(tmp_path: Path):
    wav8k = tmp_path / "phone.wav"
    write_wav(wav8k, np.zeros(8000, np.int16), sample_rate=8000)
    with pytest.raises(AudioFormatError, match=r"phone\.wav: sample rate 8000 Hz.*resample"):
        read_stream_audio(wav8k, 16000)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(StreamError, match="not exported; run `ghost-kws export"):
        load_export(run)
    bad = tmp_path / "bad.csv"
    bad.write_text("start,end\n1,2\n")
    with pytest.raises(TruthFileError, match="missing header"):
        match([], bad)


def test_truth_past_the_end_of_the_audio_is_an_error_not_a_miss(tmp_path: Path):
    truth = [TruthItem("yes", 1.0, 1.5), TruthItem("no", 59.5, 60.2), TruthItem("up", 75.0, 75.5),
             TruthItem("go", 80.0, 80.5)]
    with pytest.raises(StreamError, match=r"2 truth item\(s\) start after the audio ends "
                       r"\(60\.00 s\), the first is item 3 \('up' at 75\.00 s\).*pass the "
                       "truth file written with it"):
        match([], truth, duration_s=60.0)
    csv = tmp_path / "other.csv"
    csv.write_text("label,start,end\nyes,1,1.5\nup,75,75.5\n")
    with pytest.raises(StreamError, match=r"other\.csv: 1 truth item\(s\)"):
        match([], csv, duration_s=60.0)
    # A word that starts before the end and runs past it is the audio's own.
    assert match([], truth[:2], duration_s=60.0)["misses"] == 2


def test_load_export_keeps_the_quantization_source():
    """A QAT export read back says qat (it said float whatever export.json held)."""
    import dataclasses

    import tf_keras as keras

    from firmware_export.convert import convert_model

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10, 8)), keras.layers.Flatten(), keras.layers.Dense(12)])
    converted = convert_model(model, np.random.default_rng(0).uniform(0, 4, (8, 10, 8))
                              .astype("float32"))
    assert_int8_interface(converted.tflite)
    exported = dataclasses.replace(converted, source="qat")
    info = {"model": exported.to_dict(), "labels": list(LABELS_12),
            "frontend": FrontendConfig.microfrontend(num_channels=8).to_dict()}
    assert load_export((exported.tflite, info)).exported.source == "qat"


def test_window_model_reruns_the_last_frames_every_k_strides(capsys):
    """A small window model (10 frames) on TFLM: every 3rd frame, zero-padded at the start,
    equal to verify.stream_logits on the same windows; the float baseline alike."""
    import tf_keras as keras

    from firmware_export.convert import convert_model
    from firmware_export.verify import stream_logits

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10, 8)), keras.layers.Flatten(),
                              keras.layers.Dense(12)])
    exported = convert_model(model, rng.uniform(0, 4, (32, 10, 8)).astype("float32"))
    assert exported.kind == "window"
    assert_int8_interface(exported.tflite)
    info = {"model": exported.to_dict(), "labels": list(LABELS_12),
            "frontend": FrontendConfig.microfrontend(num_channels=8).to_dict()}
    loaded = load_export((exported.tflite, info))
    features = rng.uniform(0, 4, (40, 8)).astype("float32")
    times = frame_times_ms(40, loaded.frontend)
    run = run_tflm(loaded.exported, features, times, every=3, verbose=2)
    # verbose=2: the stage's one progress line, though stderr is no terminal here.
    assert capsys.readouterr().err == "tflm_int8: 13/13 invokes in 0:00\n"
    ends = np.arange(2, 40, 3)
    np.testing.assert_array_equal(run.times_ms, times[ends])
    padded = np.concatenate([np.zeros((9, 8), np.float32), features])
    windows = np.stack([padded[e : e + 10] for e in ends])
    expected = np.round(stream_logits(loaded.exported, windows) * 256).astype(np.uint8)
    np.testing.assert_array_equal(run.scores, expected)
    fl = run_float_window(model, features, times, every=3, verbose=2)
    assert capsys.readouterr().err == "float_window_every3: 13/13 windows in 0:00\n"
    np.testing.assert_array_equal(fl.times_ms, run.times_ms)
    assert np.abs(fl.scores.astype(int) - run.scores.astype(int)).max() <= 8
    assert run.invokes == len(ends) and run.host_seconds > 0


# ------------------------------------------------------------------------------ integration


@pytest.fixture(scope="module")
def stream_files(exported_run: Path, tmp_path_factory):
    config = json.loads((exported_run / "config.json").read_text())
    index = stream_index(config["train"]["split_dirs"][0], run_dir=exported_run)
    audio, truth = make_long_stream(index, 60.0, seed=0, snr_db=15.0, unknown_fraction=0.2)
    out = tmp_path_factory.mktemp("stream")
    return write_stream(out / "long.wav", out / "truth.csv", audio, truth)


def test_int8_tflm_and_float_step_agree_on_a_minute_of_audio(exported_run, stream_files, capsys):
    wav, csv = stream_files
    loaded = load_export(exported_run)
    assert loaded.exported.kind == "step"
    audio = read_stream_audio(wav, 16000)
    features, times = stream_features(audio, loaded.frontend)
    assert len(features) == 2999
    int8 = run_tflm(loaded.exported, features, times)
    times2, scores2 = stream_scores(exported_run, wav)
    np.testing.assert_array_equal(scores2, int8.scores)  # deterministic, same path
    # The first second equals verify.stream_logits' clip run (state from zero, carried by bytes).
    from firmware_export.verify import stream_logits

    clip = stream_logits(loaded.exported, features[None, :49])[0]
    np.testing.assert_array_equal(int8.scores[:49], np.round(clip * 256).astype(np.uint8))
    from ghost_keras.training import load_run

    model, _ = load_run(exported_run)
    fl = run_float_step(model, features, times)
    # The float step model over the whole stream equals the sequence model on a clip's frames.
    first = np.asarray(model(features[None, :49]))[0]
    np.testing.assert_allclose(fl.scores[48].astype(float), np.clip(np.round(
        256 * np.exp(first - first.max()) / np.exp(first - first.max()).sum()), 0, 255),
        atol=1)
    # The state is carried across chunks too.
    chunked = run_float_step(model, features[:700], times[:700], chunk=256)
    assert np.abs(chunked.scores.astype(int) - fl.scores[:700].astype(int)).max() <= 1
    agree = argmax_agreement(int8, fl)
    with capsys.disabled():
        print(f"\nint8 TFLM vs float step: frame argmax agreement {agree['agreement']:.1%}")
    assert agree["frames"] == 2999 and agree["agreement"] >= 0.8
    # Detections at probabilities this briefly trained model reaches (it seldom passes 0.8),
    # pooled over two thresholds: near a threshold a score a little lower in int8 can drop a
    # detection, so one threshold alone says little.
    both = union = 0
    for p in (0.3, 0.4):
        d8 = detect(int8.scores, int8.times_ms, loaded.labels, {"detection_probability": p})
        df = detect(fl.scores, fl.times_ms, loaded.labels, {"detection_probability": p})
        same = compare_detections(d8, df)
        both, union = both + same["both"], union + same["both"] + same["only_a"] + same["only_b"]
        with capsys.disabled():
            print(f"p {p}: detections int8 {len(d8)}, float {len(df)}, both {same['both']}")
    assert union >= 3 and both / union >= 0.5
    window = run_float_window(model, features, times, every=5)
    assert window.scores.shape == (599, 12) and window.times_ms[0] == times[4]
    printed = detect_in_wav(exported_run, wav, settings={"detection_probability": 0.4})
    assert printed == d8
    assert f"{len(d8)} detection(s)" in capsys.readouterr().out


def test_stream_eval_writes_json_and_det_plot(exported_run, stream_files, tmp_path):
    wav, csv = stream_files
    result = stream_eval(exported_run, wav, csv, float_window_every=5,
                         thresholds=(0.3, 0.5, 0.8), out_dir=tmp_path)
    runs = result["runs"]
    assert set(runs) == {"tflm_int8", "float_step", "float_window_every5"}
    assert runs["tflm_int8"]["cost"]["macs_per_s"] == pytest.approx(
        50 * result["model"]["macs_per_frame"])
    assert runs["float_window_every5"]["cost"]["macs_per_s"] == pytest.approx(
        10 * result["model"]["macs_per_decision"])
    assert runs["tflm_int8"]["cost"]["host_ms_per_s"] > 0
    assert [d["probability"] for d in runs["tflm_int8"]["det"]] == [0.3, 0.5, 0.8]
    assert len(runs["tflm_int8"]["metrics"]["by_part"]) == 2
    assert json.loads((tmp_path / "stream_eval.json").read_text())["runs"]
    assert (tmp_path / "det.png").read_bytes()[:4] == b"\x89PNG"
    table = format_table(result)
    assert "tflm_int8" in table and "FA/h" in table
    with pytest.raises(TruthFileError, match="unknown label"):
        bad = tmp_path / "bad.csv"
        bad.write_text("label,start,end\nbanana,1,2\n")
        stream_eval(exported_run, wav, bad, thresholds=None)
    late = tmp_path / "late.csv"
    late.write_text("label,start,end\nyes,1,2\nyes,61,62\n")  # the stream is 60 s long
    with pytest.raises(StreamError, match="start after the audio ends"):
        stream_eval(exported_run, wav, late, thresholds=None)


def _det_point(probability, fa_per_hour, frr):
    return {"probability": probability, "fa_per_hour": fa_per_hour, "frr": frr}


def test_det_plot_draws_0_fa_per_hour_in_its_column_and_rings_the_operating_point(tmp_path):
    deployed = [_det_point(0.5, 12.0, 0.2), _det_point(0.8, 3.0, 0.4),
                _det_point(0.9, 0.0, 0.6), _det_point(0.95, 0.0, 0.7)]
    window = [_det_point(0.5, 20.0, 0.3), _det_point(0.8, 0.0, 0.5)]
    fig = det_figure({"int8": deployed}, "t", mark_probability=0.8,
                     baselines={"int8": {"float_window_every1": window}})
    left, right = fig.axes[:2]
    ticks = {t.get_text(): t.get_position()[0] for t in left.get_xticklabels()}
    zero_x = ticks["0"]
    assert zero_x < ticks["1"] and left.get_xlim()[0] < zero_x  # 0 FA/h inside, left of 1
    curve, ring = left.get_lines()[:2]
    assert list(curve.get_xdata()) == [12.0, 3.0, zero_x, zero_x]  # no point dropped
    assert list(ring.get_xdata()) == [3.0] and list(ring.get_ydata()) == [0.4]
    assert ring.get_markerfacecolor() == "none"
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["int8: FRR 0.40 at 3 FA/h", "operating point (p = 0.8)"]
    assert not left.texts  # the figures are in the legend, not on the points
    base, base_ring = right.get_lines()[:2]
    assert base.get_color() == curve.get_color() and base.get_linestyle() == "-"
    assert list(base_ring.get_xdata()) == [zero_x]  # a ring on a 0 FA/h point too
    assert "0 FA/h" in left.get_xlabel()
    assert plot_det({"int8": deployed}, tmp_path / "det.png").read_bytes()[:4] == b"\x89PNG"


def test_det_plot_stars_each_runs_deployed_operating_point():
    curve = [_det_point(0.5, 12.0, 0.2), _det_point(0.8, 3.0, 0.4), _det_point(0.9, 1.0, 0.6)]
    fig = det_figure({"a": curve, "b": curve}, "t", deployed_points={"a": (0.0, 0.55)})
    ax = fig.axes[0]
    zero_x = {t.get_text(): t.get_position()[0] for t in ax.get_xticklabels()}["0"]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [zero_x]  # 0 FA/h: its column
    assert list(stars[0].get_ydata()) == [0.55]
    assert stars[0].get_color() == ax.get_lines()[0].get_color()  # the run's colour
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a: deployed FRR 0.55 at 0 FA/h", "b",
                      "deployed operating point (its own window and suppression)"]
