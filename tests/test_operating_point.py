"""The operating point for a target FA/h: the joint search over the recognizer's settings, its
Poisson interval, and the point written into export.json and used by the firmware folder,
``ghost-kws stream`` and ``stream-eval``."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from firmware_export.evaluate import (
    StreamError,
    choose_operating_point,
    fa_rate_interval,
    match,
)
from ghost_keras.data.long_stream import TruthItem

LABELS = ["_silence_", "_unknown_", "yes", "no"]
STRIDE = 20


def _stream(seed: int, minutes: float = 20.0):
    """Scores at every 20 ms: silence mostly; 'yes'/'no' words of random strength (some too
    weak, some confused) at the truth's times; unknown words and bursts that look like keywords
    in between (the false accepts), and a second peak after some words (a re-fire)."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60_000 / STRIDE)
    scores = np.zeros((n, len(LABELS)), np.int64)
    scores[:, 0] = 230
    truth, t = [], 2000
    while t < n * STRIDE - 4000:
        kind = rng.choice(["yes", "no", "_unknown_", "burst"], p=[0.35, 0.35, 0.2, 0.1])
        a, b = t // STRIDE, (t + 1000) // STRIDE
        strength = int(rng.integers(120, 256))
        label = kind if kind != "burst" else str(rng.choice(["yes", "no"]))
        col = LABELS.index(label) if label in LABELS else 1
        if kind == "_unknown_" and rng.random() < 0.4:
            col = int(rng.integers(2, 4))  # an unknown word that looks like a keyword
        scores[a:b + 25, 0] = 255 - strength
        scores[a:b + 25, col] = strength
        if kind in ("yes", "no") and rng.random() < 0.3:  # the model fires again later
            c = b + int(rng.integers(40, 120))
            scores[c:c + 40, 0], scores[c:c + 40, col] = 40, 215
        if kind in ("yes", "no", "_unknown_"):
            truth.append(TruthItem(kind, t / 1000.0, (t + 1000) / 1000.0))
        t += int(rng.integers(3000, 6000))
    times = (np.arange(n) * STRIDE + 40).astype(np.int64)
    return np.clip(scores, 0, 255).astype(np.uint8), times, truth, n * STRIDE / 1000.0


GRID = {"windows_ms": (500, 1000), "suppressions_ms": (1000, 3000), "minimum_counts": (3,),
        "probabilities": (0.5, 0.6, 0.7, 0.8, 0.9)}


def _brute(scores, times, truth, seconds):
    """(FRR, FA/h, settings) of every grid point by the reference path: RecognizeCommands run
    over the whole stream for each setting, then matched."""
    from firmware_export.firmware.recognizer import RecognizeCommands, recognizer_capacity

    out = []
    for w, s, c, p in itertools.product(GRID["windows_ms"], GRID["suppressions_ms"],
                                        GRID["minimum_counts"], GRID["probabilities"]):
        rec = RecognizeCommands(LABELS, average_window_ms=w, suppression_ms=s, minimum_count=c,
                                detection_threshold=round(256 * p),
                                capacity=recognizer_capacity(w, STRIDE))
        m = match(rec.detections(scores, times), truth, duration_s=seconds)
        out.append((m["frr"], m["fa_per_hour"], {"average_window_ms": w, "minimum_count": c,
                                                 "detection_probability": p,
                                                 "suppression_ms": s}))
    return out


COMMON = dict(period_ms=STRIDE, score_scale=1 / 256, score_zero_point=-128)


def test_the_point_is_the_lowest_frr_within_the_target_by_the_reference_recognizer():
    scores, times, truth, seconds = _stream(0)
    common = dict(duration_s=seconds, **COMMON)
    brute = _brute(scores, times, truth, seconds)
    fa_values = sorted({fa for _, fa, _ in brute})
    assert len(fa_values) > 5  # the grid spans a real trade-off
    for target in (fa_values[1], fa_values[len(fa_values) // 2]):
        point = choose_operating_point(scores, times, truth, LABELS, target, **common, **GRID)
        best_frr = min(frr for frr, fa, _ in brute if fa <= target)
        assert point["met"] and point["fa_per_hour"] <= target
        assert point["frr"] == best_frr
        assert point["searched"] == len(brute)
        frr, fa, settings = next(b for b in brute if b[2] == point["recognizer"])
        assert (frr, fa) == (point["frr"], point["fa_per_hour"])
        low, high = point["fa_per_hour_interval"]
        assert low <= point["fa_per_hour"] <= high
    # Lower targets never give a lower FRR (the search is monotone in the budget).
    frrs = [choose_operating_point(scores, times, truth, LABELS, t, **common, **GRID)["frr"]
            for t in fa_values[1:]]
    assert frrs == sorted(frrs, reverse=True)


def test_an_unreachable_target_says_so_and_takes_the_fewest_false_accepts():
    scores, times, truth, seconds = _stream(1, minutes=5)
    fewest = min(fa for _, fa, _ in _brute(scores, times, truth, seconds))
    assert fewest > 0  # the stream's bursts fire at every setting of the grid
    point = choose_operating_point(scores, times, truth, LABELS, fewest / 2, duration_s=seconds,
                                   **COMMON, **GRID)
    assert not point["met"] and point["fa_per_hour"] == fewest
    with pytest.raises(StreamError, match="must be > 0"):
        choose_operating_point(scores, times, truth, LABELS, 0, duration_s=seconds, **COMMON)


def test_fa_rate_interval_is_the_exact_poisson_interval():
    # Garwood's interval, from published tables: 0 events -> [0, 3.689], 5 -> [1.623, 11.668].
    assert fa_rate_interval(0, 1.0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert fa_rate_interval(5, 1.0) == pytest.approx((1.623, 11.668), abs=1e-3)
    assert fa_rate_interval(5, 2.5) == pytest.approx((1.623 / 2.5, 11.668 / 2.5), abs=1e-3)
    with pytest.raises(ValueError):
        fa_rate_interval(1, 0.0)


@pytest.mark.slow
def test_operating_point_goes_into_export_firmware_and_stream(exported_run, tmp_path, capsys):
    """On a copy of a real exported run: the point chosen on a validation stream is written into
    export.json, re-measured on the same stream by stream-eval with the deployed settings it
    gives the same FRR and FA/h, model_settings.h carries it, and --probability overrides it."""
    from firmware_export.evaluate import detect, detect_in_wav, stream_eval
    from firmware_export.evaluate.operating_point import validation_stream
    from firmware_export.pipeline import deployed_recognizer, write_run_firmware
    from ghost_keras import cli
    from ghost_keras.data.long_stream import write_stream

    run = tmp_path / "run"
    shutil.copytree(exported_run, run)
    # A generous target for this briefly trained model, so that the point is a real choice.
    assert cli.main(["operating-point", str(run), "--target-fa-h", "60", "--minutes", "4",
                     "--seed", "3", "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    info = json.loads((run / "export" / "export.json").read_text())
    point = info["operating_point"]
    assert "operating point for 60 FA/h" in printed and "FRR" in printed
    assert point["validation_stream"] == {**point["validation_stream"], "split": "validation",
                                          "minutes": 4.0, "seed": 3}
    assert point["searched"] == 4 * 4 * 2 * 50
    deployed = deployed_recognizer(info)
    assert deployed == point["recognizer"]

    # The same validation stream, scored by stream-eval with the run's deployed settings.
    audio, truth = validation_stream(run, 4.0, 3)
    wav, csv = write_stream(tmp_path / "val.wav", tmp_path / "val.csv", audio, truth)
    result = stream_eval(run, wav, csv, float_step=False, float_window_every=None,
                         thresholds=None)
    metrics = result["runs"]["tflm_int8"]["metrics"]
    assert result["recognizer"]["detection_probability"] == deployed["detection_probability"]
    assert (metrics["frr"], metrics["fa_per_hour"]) == (point["frr"], point["fa_per_hour"])

    # ghost-kws stream uses the point; --probability replaces only its threshold.
    from firmware_export.evaluate import load_export, run_tflm
    from ghost_keras.features.stream import stream_features

    loaded = load_export(run)
    features, times = stream_features(audio, loaded.frontend)
    scores = run_tflm(loaded.exported, features, times)
    assert detect_in_wav(run, wav, verbose=False) == detect(
        scores.scores, scores.times_ms, loaded.labels, point["recognizer"])
    other = {**point["recognizer"], "detection_probability": 0.55}
    assert detect_in_wav(run, wav, settings={"detection_probability": 0.55},
                         verbose=False) == detect(scores.scores, scores.times_ms,
                                                  loaded.labels, other)

    # The firmware folder's model_settings.h carries the point.
    header = (write_run_firmware(run, tmp_path / "fw").path / "model_settings.h").read_text()
    r = point["recognizer"]
    for name, value in (("KWS_AVERAGE_WINDOW_MS", r["average_window_ms"]),
                        ("KWS_SUPPRESSION_MS", r["suppression_ms"]),
                        ("KWS_MINIMUM_COUNT", r["minimum_count"]),
                        ("KWS_DETECTION_THRESHOLD", point["detection_threshold"])):
        assert re.search(rf"#define {name}\s+\(?{value}(?!\d)", header), name
