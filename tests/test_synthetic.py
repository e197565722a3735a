"""Tests of ghost_keras.data.synthetic: the offline eSpeak NG keyword dataset.

A tiny dataset (3 keywords + 2 unknown words, 6 clips each) is generated a few times into
tmp folders; every test reads those. The whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from ghost_keras.data import synthetic as syn
from ghost_keras.data.synthetic import cache, writer

if shutil.which("espeak-ng") is None:
    _reason = "espeak-ng is not installed (apt-get install espeak-ng)"
    # In CI the synthetic dataset is the embedded default: a missing espeak-ng is a failure there.
    if os.environ.get("CI") == "true" or os.environ.get("GHOST_KERAS_REQUIRE_ESPEAK") == "1":
        pytest.fail(_reason, pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

WORDS = ["yes", "no", "up"]
UNKNOWN = ["cat", "dog"]
CLIPS = 6
PARAMS = dict(
    words=WORDS, unknown_words=UNKNOWN, clips_per_word=CLIPS, validation_fraction=0.2,
    testing_fraction=0.2,
)  # fmt: skip
NAME_RE = re.compile(r"^([0-9a-f]{8})_nohash_(\d+)\.wav$")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference tiny dataset, made with 2 worker processes."""
    return syn.generate_dataset(tmp_path_factory.mktemp("a") / "ds", seed=7, workers=2, **PARAMS)


@pytest.fixture(scope="module")
def dataset_inline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same parameters and seed, rendered in this process: must be byte-identical."""
    return syn.generate_dataset(tmp_path_factory.mktemp("b") / "ds", seed=7, workers=0, **PARAMS)


@pytest.fixture(scope="module")
def clips(dataset: Path) -> list[dict[str, str]]:
    with open(dataset / "clips.csv", newline="") as f:
        return list(csv.DictReader(f))


def _read_wav(path: Path) -> tuple[np.ndarray, int, int, int]:
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm, w.getframerate(), w.getnchannels(), w.getsampwidth()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _split_of_files(root: Path) -> dict[str, str]:
    val = (root / "validation_list.txt").read_text().splitlines()
    test = (root / "testing_list.txt").read_text().splitlines()
    split = {p: "validation" for p in val} | {p: "testing" for p in test}
    assert len(split) == len(val) + len(test), "a file is listed in both lists"
    every = sorted(str(p.relative_to(root)) for p in root.glob("[!_]*/*.wav"))
    return {p: split.get(p, "training") for p in every}


# ------------------------------------------------------------------------------------ layout


def test_layout(dataset: Path) -> None:
    folders = sorted(p.name for p in dataset.iterdir() if p.is_dir())
    assert folders == sorted(WORDS + UNKNOWN + ["_background_noise_"])
    for name in ("validation_list.txt", "testing_list.txt", "README.md", "synthetic.json", "clips.csv"):
        assert (dataset / name).is_file(), name
    for word in WORDS + UNKNOWN:
        names = sorted(p.name for p in (dataset / word).iterdir())
        assert len(names) == CLIPS
        assert all(NAME_RE.match(n) for n in names), names
    # Nothing half-made is left beside the dataset.
    assert [p.name for p in dataset.parent.iterdir()] == ["ds"]
    manifest = json.loads((dataset / "synthetic.json").read_text())
    assert manifest["seed"] == 7 and manifest["total_clips"] == CLIPS * 5
    assert manifest["words"] == WORDS and manifest["unknown_words"] == UNKNOWN
    assert manifest["espeak_ng_version"] == syn.espeak_version()
    for word, counts in manifest["counts"].items():
        assert sum(counts.values()) == CLIPS and counts["validation"] >= 1 and counts["testing"] >= 1


def test_lists_parse_and_are_speaker_disjoint(dataset: Path, clips: list[dict[str, str]]) -> None:
    for name in ("validation_list.txt", "testing_list.txt"):
        lines = (dataset / name).read_text().splitlines()
        assert lines, f"{name} is empty"
        assert lines == sorted(lines)
        for rel in lines:
            assert not rel.startswith("/") and rel.count("/") == 1
            assert (dataset / rel).is_file(), rel
    split = _split_of_files(dataset)
    assert set(split.values()) == {"training", "validation", "testing"}

    # Speaker token (the Speech Commands hash-of-speaker logic uses the part before _nohash_).
    splits_of_speaker: dict[str, set[str]] = {}
    for rel, s in split.items():
        speaker = re.sub(r"_nohash_.*$", "", Path(rel).name)
        splits_of_speaker.setdefault(speaker, set()).add(s)
    assert all(len(s) == 1 for s in splits_of_speaker.values()), splits_of_speaker

    # Stricter: a voice variant is in one split only, whatever the accent.
    splits_of_variant: dict[str, set[str]] = {}
    voice_of = {r["path"]: r["voice"] for r in clips}
    for rel, s in split.items():
        variant = voice_of[rel].partition("+")[2]
        splits_of_variant.setdefault(variant, set()).add(s)
    assert all(len(s) == 1 for s in splits_of_variant.values()), splits_of_variant

    # The speaker id is the stable hash of the voice spec.
    for r in clips:
        assert r["speaker"] == hashlib.sha1(f"espeak-ng:{r['voice']}".encode()).hexdigest()[:8]
        assert Path(r["path"]).name.startswith(r["speaker"] + "_nohash_")


# ------------------------------------------------------------------------------------ audio


def test_every_clip_is_1s_16k_mono_int16(dataset: Path) -> None:
    wavs = sorted(dataset.glob("[!_]*/*.wav"))
    assert len(wavs) == CLIPS * 5
    for path in wavs:
        pcm, rate, channels, width = _read_wav(path)
        assert (rate, channels, width, len(pcm)) == (16000, 1, 2, 16000), path
        assert path.stat().st_size == 44 + 2 * 16000  # plain header, no extra chunks


def test_speech_is_where_placed_and_level_is_plausible(dataset: Path, clips: list[dict[str, str]]) -> None:
    assert len(clips) == CLIPS * 5
    for r in clips:
        pcm, *_ = _read_wav(dataset / r["path"])
        x = pcm.astype(np.float64) / 32768.0
        start, end = int(r["start"]), int(r["end"])
        assert 0 <= start < end <= 16000
        assert 0.1 * 16000 < end - start <= 0.95 * 16000, r  # a word, not a click or a cut
        rms_db = 10 * np.log10(np.mean(x**2) + 1e-20)
        assert rms_db > -60, f"{r['path']} is (nearly) silent"
        assert np.max(np.abs(pcm)) < 32767, f"{r['path']} clips"
        # The loudest 100 ms lies inside the placed word, measured from the audio alone.
        power = np.convolve(x**2, np.ones(1600) / 1600, mode="valid")
        loudest = int(np.argmax(power)) + 800
        assert start <= loudest <= end, (r["path"], loudest, start, end)
        # Speech dominates: mean power inside the word well above outside (SNR >= 10 dB).
        outside = np.concatenate([x[:start], x[end:]])
        if len(outside) > 800:
            ratio_db = 10 * np.log10(np.mean(x[start:end] ** 2) / np.mean(outside**2))
            assert ratio_db > 8.0, (r["path"], ratio_db)
        # Word level as recorded, and within the documented MEMS-plausible range.
        word_db = 10 * np.log10(np.mean(x[start:end] ** 2))
        assert abs(word_db - float(r["speech_rms_dbfs"])) < 1.0, (r, word_db)
        assert -36.0 <= float(r["speech_rms_dbfs"]) <= -14.0
        assert 10.0 <= float(r["snr_db"]) <= 40.0


def test_background_noise(dataset: Path) -> None:
    folder = dataset / "_background_noise_"
    names = sorted(p.name for p in folder.glob("*.wav"))
    assert names == sorted(n for n, _, _ in syn.BACKGROUND_NOISE)
    spectra = {}
    for name, kind, seconds in syn.BACKGROUND_NOISE:
        pcm, rate, channels, width = _read_wav(folder / name)
        assert (rate, channels, width) == (16000, 1, 2)
        assert len(pcm) == int(seconds * 16000)
        x = pcm.astype(np.float64) / 32768.0
        assert -24 < 10 * np.log10(np.mean(x**2)) < -19, name  # about -20 dBFS RMS
        assert np.max(np.abs(pcm)) < 32767
        spec = np.abs(np.fft.rfft(x[:16000 * 5])) ** 2
        spectra[kind] = spec
    freqs = np.fft.rfftfreq(16000 * 5, 1 / 16000)

    def band(kind: str, lo: float, hi: float) -> float:
        sel = (freqs >= lo) & (freqs < hi)
        return float(np.mean(spectra[kind][sel]))

    # White is flat; pink falls ~10 dB/decade; brown ~20 dB/decade.
    def tilt_db(kind: str) -> float:
        return 10 * np.log10(band(kind, 100, 200) / band(kind, 1000, 2000))

    assert abs(tilt_db("white")) < 1.5
    assert 7 < tilt_db("pink") < 13
    assert 16 < tilt_db("brown") < 24
    for kind, f0 in (("hum50", 50), ("hum60", 60)):
        peak = freqs[np.argmax(spectra[kind][freqs < 500])]
        assert abs(peak - f0) < 1.0, (kind, peak)


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_is_byte_identical_whatever_the_workers(dataset: Path, dataset_inline: Path) -> None:
    a, b = _tree(dataset), _tree(dataset_inline)
    assert sorted(a) == sorted(b)
    differing = [k for k in a if a[k] != b[k]]
    assert not differing, differing[:5]


def test_other_seed_differs(dataset: Path, tmp_path: Path) -> None:
    other = syn.generate_dataset(tmp_path / "ds", seed=8, workers=2, **PARAMS)
    a, b = _tree(dataset), _tree(other)
    wavs_a = {k: v for k, v in a.items() if k.endswith(".wav") and not k.startswith("_")}
    wavs_b = {k: v for k, v in b.items() if k.endswith(".wav") and not k.startswith("_")}
    same = set(wavs_a.items()) & set(wavs_b.items())
    assert not same, f"{len(same)} clips identical across seeds"
    for name, _, _ in syn.BACKGROUND_NOISE:
        key = f"_background_noise_/{name}"
        assert a[key] != b[key], key
    assert (dataset / "validation_list.txt").read_text() != (other / "validation_list.txt").read_text()


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(words=["yes", ""]), r"words\[1\] is empty"),
        (dict(unknown_words=["cat", "   "]), r"unknown_words\[1\] is empty"),
        (dict(words=["yes", "yes"]), "twice"),
        (dict(words=["yes"], unknown_words=["yes"]), "share"),
        (dict(words=["-v"]), "folder name"),
        (dict(words=["../etc"]), "folder name"),
        (dict(words=[], unknown_words=[]), "no words"),
        (dict(clips_per_word=0), "clips_per_word"),
        (dict(validation_fraction=0.6, testing_fraction=0.5), "fraction"),
    ],
)
def test_bad_input_is_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        syn.generate_dataset(tmp_path / "ds", **kwargs)
    assert not (tmp_path / "ds").exists()


def test_word_list_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="list of words"):
        syn.generate_dataset(tmp_path / "ds", words="yes")  # type: ignore[arg-type]


def test_missing_espeak_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no espeak-ng on it
    with pytest.raises(syn.EspeakNotFoundError, match="apt-get install espeak-ng"):
        syn.generate_dataset(tmp_path / "ds", words=["yes"], unknown_words=[], clips_per_word=1)
    with pytest.raises(syn.EspeakNotFoundError):
        syn.list_voices()


def test_non_empty_out_dir_is_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    small = dict(words=["go"], unknown_words=[], clips_per_word=1)
    with pytest.raises(FileExistsError, match="not empty"):
        syn.generate_dataset(out, **small)
    # overwrite=True still refuses a folder that is not one of our datasets.
    with pytest.raises(FileExistsError, match="synthetic.json"):
        syn.generate_dataset(out, overwrite=True, **small)
    assert (out / "precious.txt").read_text() == "keep me"

    made = syn.generate_dataset(tmp_path / "made", seed=1, workers=0, **small)
    with pytest.raises(FileExistsError):
        syn.generate_dataset(made, seed=2, workers=0, **small)
    syn.generate_dataset(made, seed=2, workers=0, overwrite=True, **small)
    assert json.loads((made / "synthetic.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "made"]  # no temp folders left


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write_background", boom)
    with pytest.raises(KeyboardInterrupt):
        syn.generate_dataset(tmp_path / "ds", words=["go"], unknown_words=[], clips_per_word=2, workers=0)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ cache, CLI


def test_ensure_dataset_generates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHOST_KERAS_CACHE", str(tmp_path / "cache"))
    small = dict(words=["go"], unknown_words=["cat"], clips_per_word=3, seed=3)
    expected = syn.default_dataset_dir(**small)
    assert expected.parent == tmp_path / "cache"
    assert re.fullmatch(r"synthetic-v\d+-[0-9a-f]{12}", expected.name)
    assert syn.default_dataset_dir(**{**small, "seed": 4}) != expected
    assert syn.default_dataset_dir(**small) == expected  # stable

    root = syn.ensure_dataset(workers=0, **small)
    assert root == expected and (root / "synthetic.json").is_file()
    before = _tree(root)

    def fail(*args: object, **kwargs: object) -> Path:
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(cache, "generate_dataset", fail)
    assert syn.ensure_dataset(workers=0, **small) == root
    assert _tree(root) == before
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [root.name]


def test_config_is_the_keyword_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHOST_KERAS_CACHE", str(tmp_path))
    # Pinned: the cache folders made before SyntheticConfig existed stay valid.
    assert syn.default_dataset_dir().name == "synthetic-v1-902003af80f5"
    assert syn.default_dataset_dir(syn.SyntheticConfig()) == syn.default_dataset_dir()
    config = syn.SyntheticConfig(words=[" Go"], unknown_words=(), clips_per_word=3, seed=3)
    assert config.words == ("go",) and config.all_words == ("go",)
    same = dict(words=["go"], unknown_words=[], clips_per_word=3, seed=3)
    assert syn.default_dataset_dir(config) == syn.default_dataset_dir(**same)
    assert syn.default_dataset_dir(config, seed=4) == syn.default_dataset_dir(**{**same, "seed": 4})
    assert syn.SyntheticConfig.of(config, words=None) == config  # None: not given
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        syn.SyntheticConfig.of(config, clips=3)
    with pytest.raises(ValueError, match="clips_per_word"):
        syn.SyntheticConfig(clips_per_word=0)


def test_dataset_finished_by_another_process_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHOST_KERAS_CACHE", str(tmp_path))
    small = dict(words=["go"], unknown_words=[], clips_per_word=2, seed=1)
    out = syn.default_dataset_dir(**small)
    real = writer._write_background

    def race(folder: Path, seed: int, sample_rate: int) -> None:
        real(folder, seed, sample_rate)
        out.mkdir()  # another process renames its finished dataset into place meanwhile
        (out / "synthetic.json").write_text("{}")

    monkeypatch.setattr(writer, "_write_background", race)
    with pytest.raises(FileExistsError, match="appeared"):
        syn.generate_dataset(out, workers=0, **small)
    assert [p.name for p in out.iterdir()] == ["synthetic.json"]  # not swapped out
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # our partial copy is gone
    shutil.rmtree(out)
    assert syn.ensure_dataset(workers=0, **small) == out  # ensure_dataset takes the winner's
    assert [p.name for p in out.iterdir()] == ["synthetic.json"]


def test_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "ghost_keras.data.synthetic", str(out), "--clips-per-word", "2",
           "--seed", "5", "--words", "on,off", "--unknown-words", "", "--workers", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "clips/s" in done.stdout
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["_background_noise_", "off", "on"]
    assert len(list(out.glob("o*/*.wav"))) == 4
    assert json.loads((out / "synthetic.json").read_text())["seed"] == 5
    # Refuses the now non-empty folder with exit status 2 and a readable message.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "not empty" in again.stderr


# ------------------------------------------------------------------------------------ voices


def test_voices() -> None:
    voices = syn.list_voices()
    accents = {v.accent for v in voices}
    variants = {v.variant for v in voices}
    assert {"en-us", "en-gb"} <= accents and len(accents) >= 6
    assert not variants & set(syn.DROPPED_VARIANTS)
    assert {"", "m3", "f2"} <= variants
    assert all(v.accent_file.startswith("gmw/") for v in voices)  # no MBROLA voices
    assert len({v.speaker_id for v in voices}) == len(voices)
    everything = {v.variant for v in syn.list_voices(include_dropped=True)}
    assert set(syn.DROPPED_VARIANTS) <= everything  # the drop list names real variants


def test_render_word_is_trimmed_and_deterministic() -> None:
    a = syn.render_word("yes", "en-us+m3", rate=150)
    b = syn.render_word("yes", "en-us+m3", rate=150)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.2 < len(a) / 16000 < 0.9
    edge = 160  # 10 ms
    # Trimmed: the render starts and ends near speech, not in a long silence.
    assert np.max(np.abs(a[: 4 * edge])) > 0.01 * np.max(np.abs(a))
    assert np.max(np.abs(a[-4 * edge :])) > 0.001 * np.max(np.abs(a))
    slower = syn.render_word("yes", "en-us+m3", rate=100)
    assert len(slower) > len(a) * 1.2
