"""Long test streams: items lie where the truth says, determinism, levels, test split only,
truth-file errors, the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from conftest import copy_prepared_subset
from ghost_keras.data import LABELS_12, SILENCE, UNKNOWN, DatasetError, read_clip, scan
from ghost_keras.data.long_stream import (
    TruthFileError,
    TruthItem,
    main,
    make_long_stream,
    read_truth,
    speech_bounds,
    stream_index,
    write_stream,
)

SR = 16000


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory, test12_dir: Path) -> Path:
    """Prepared layout: 5 clips per keyword, 10 unknown words, 12 silence clips."""
    counts = {label: {UNKNOWN: 10, SILENCE: 12}.get(label, 5) for label in LABELS_12}
    return copy_prepared_subset(test12_dir, tmp_path_factory.mktemp("stream_clips"), counts)


@pytest.fixture(scope="module")
def index(small_dir: Path):
    return scan(small_dir, split="test")


@pytest.fixture(scope="module")
def minute(index):
    return make_long_stream(index, 60.0, seed=3, snr_db=20.0)


def test_every_item_lies_where_the_truth_file_says(minute, tmp_path: Path):
    audio, truth = minute
    assert audio.dtype == np.int16 and audio.shape == (60 * SR,)
    kinds = {("keyword" if t.label not in (SILENCE, UNKNOWN) else t.label) for t in truth}
    assert kinds == {"keyword", UNKNOWN, SILENCE}
    wav, csv = write_stream(tmp_path / "s.wav", tmp_path / "s.csv", audio, truth)
    np.testing.assert_array_equal(read_clip(wav), audio)
    assert csv.read_text().splitlines()[0] == "label,start,end"
    back = read_truth(csv, labels=LABELS_12)
    assert [t.label for t in back] == [t.label for t in truth]
    checked = 0
    for item, written in zip(truth, back):
        assert written.start == pytest.approx(item.start, abs=2e-6)
        assert written.end == pytest.approx(item.end, abs=2e-6)
        if item.label == SILENCE:
            assert written.end - written.start == pytest.approx(1.0, abs=2e-6)
            continue
        # The source clip's speech part is in the stream at exactly the written start.
        clip = read_clip(item.source)
        s0, s1 = speech_bounds(clip)
        assert written.end - written.start == pytest.approx((s1 - s0) / SR, abs=2e-6)
        speech = clip[s0:s1].astype(np.float64)
        start = int(round(written.start * SR))
        margin = 800  # search +-50 ms around the written start
        region = audio[start - margin : start + len(speech) + margin].astype(np.float64)
        corr = correlate(region, speech, mode="valid", method="fft")
        power = np.concatenate([[0.0], np.cumsum(region**2)])
        energy = np.sqrt(np.maximum(power[len(speech) :] - power[: -len(speech)], 0.0))
        ncc = corr / (energy * np.linalg.norm(speech) + 1e-9)
        assert int(np.argmax(ncc)) == margin, item
        assert ncc[margin] > 0.95, (item, ncc[margin])  # 20 dB SNR: ~0.99
        checked += 1
    assert checked >= 10
    # Gaps: clip boxes never overlap and are at least the smallest gap apart.
    boxes = sorted((t.offset, t.offset + t.length) for t in truth)
    assert boxes[0][0] >= 2 * SR  # the lead-in
    assert all(b[0] - a[1] >= SR - 1 for a, b in zip(boxes, boxes[1:]))


def test_same_seed_same_stream(index, minute):
    audio, truth = make_long_stream(index, 60.0, seed=3, snr_db=20.0)
    np.testing.assert_array_equal(audio, minute[0])
    assert truth == minute[1]
    other, other_truth = make_long_stream(index, 60.0, seed=4, snr_db=20.0)
    assert not np.array_equal(other, audio) and other_truth != truth


def test_levels_follow_snr_and_speech_level(index):
    # Only silence items: the stream is the noise bed, at speech_dbfs - snr_db.
    noise, _ = make_long_stream(index, 20.0, seed=0, snr_db=6.0, keyword_fraction=0.0,
                                unknown_fraction=0.0)
    rms_db = 20 * np.log10(np.sqrt(np.mean((noise / 32768.0) ** 2)))
    assert rms_db == pytest.approx(-26.0 - 6.0, abs=0.5)
    # No noise and 0 dB gain: every word's speech part is at speech_dbfs (or peak-limited).
    audio, truth = make_long_stream(index, 40.0, seed=1, snr_db=None, gain_db=0.0,
                                    speech_dbfs=-30.0)
    words = [t for t in truth if t.label != SILENCE]
    assert words
    for t in words:
        part = audio[int(round(t.start * SR)) : int(round(t.end * SR))] / 32768.0
        level = 20 * np.log10(np.sqrt(np.mean(part**2)))
        peak = np.abs(audio[t.offset : t.offset + t.length]).max() / 32768.0
        assert level == pytest.approx(-30.0, abs=0.3) or peak > 0.94


def test_only_the_test_split_is_used(small_dir: Path):
    split = stream_index(small_dir, speaker_split=(0.5, 0.2, 0.3), split_seed=1)
    test_paths = {str(c.path) for c in split.split("test")}
    _, truth = make_long_stream(split, 60.0, seed=0, unknown_fraction=0.1)
    assert all(t.source in test_paths for t in truth if t.source)
    train_speakers = {c.speaker for c in split.split("train")}
    assert not {Path(t.source).name.split("_nohash_")[0].split("_")[-1]
                for t in truth if t.source} & train_speakers
    with pytest.raises(DatasetError, match="no split"):
        make_long_stream(scan(small_dir, split="none"), 10.0, seed=0)
    with pytest.raises(ValueError, match="sum to at most 1"):
        make_long_stream(split, 10.0, keyword_fraction=0.8, unknown_fraction=0.5)


def test_speech_bounds_finds_the_burst():
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(SR) * 30).astype(np.int16)
    t = np.arange(6400) / SR
    clip[5000:11400] += (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    s0, s1 = speech_bounds(clip)
    assert abs(s0 - 5000) <= 320 and abs(s1 - 11400) <= 320


BAD_FILES = {
    "missing header": ("yes,1.0,2.0\n", "missing header"),
    "empty": ("", "missing header"),
    "bad number": ("label,start,end\nyes,1.0,abc\n", "line 2: end='abc' is not a number"),
    "end before start": ("label,start,end\nyes,2.0,1.0\n", "line 2: end 1.0 is before start"),
    "unknown label": ("label,start,end\nyes,1,2\nmaybe,3,4\n", "line 3: unknown label 'maybe'"),
    "fields": ("label,start,end\nyes,1\n", "line 2: expected 3 fields"),
    "negative": ("label,start,end\nyes,-1,2\n", "start='-1' must be a finite number >= 0"),
    "nan": ("label,start,end\nyes,nan,2\n", "start='nan' must be a finite number"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_truth_file_errors_name_the_file_and_line(case: str, tmp_path: Path):
    text, message = BAD_FILES[case]
    path = tmp_path / "truth.csv"
    path.write_text(text)
    with pytest.raises(TruthFileError, match=message) as info:
        read_truth(path, labels=LABELS_12)
    assert str(path) in str(info.value)


def test_read_truth_accepts_good_files(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("label,start,end\r\nyes,1.25,1.75\r\n\r\n_silence_,3,4\r\n")
    assert read_truth(path) == [TruthItem("yes", 1.25, 1.75), TruthItem(SILENCE, 3.0, 4.0)]
    with pytest.raises(FileNotFoundError, match="no such truth file"):
        read_truth(tmp_path / "missing.csv")


def test_command_line(small_dir: Path, tmp_path: Path, capsys):
    out, truth = tmp_path / "l.wav", tmp_path / "l.csv"
    args = [str(small_dir), "--minutes", "0.5", "--out", str(out), "--truth", str(truth),
            "--seed", "2", "--speaker-split", "0.5", "0.2", "0.3", "--manifest",
            str(tmp_path / "l.json")]
    assert main(args) == 0
    assert "keywords" in capsys.readouterr().out
    assert len(read_clip(out)) == 30 * SR and read_truth(truth)
    assert main(args[:-2] + ["--unknown-fraction", "0.9"]) == 2
    assert "sum to at most 1" in capsys.readouterr().err
