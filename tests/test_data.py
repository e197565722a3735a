"""Tests of ghost_keras.data on small copies of the real Speech Commands recordings.

Both layouts are built in tmp from a few real clips: a *full* layout (word folders with FLAC and
WAV clips, unknown-word folders, ``_background_noise_``, list files) and the *prepared* 12-class
layout. A fake front end (framewise log energy) stands in for the microfrontend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ghost_keras  # noqa: F401  (tf-keras before tensorflow)
from conftest import copy_prepared_subset
from ghost_keras.data import (
    KEYWORDS_12,
    LABELS_12,
    SILENCE,
    UNKNOWN,
    AudioFormatError,
    DatasetError,
    NoisePool,
    fit_length,
    make_datasets,
    merge,
    plan_split,
    read_clip,
    render_example,
    scan,
    snr_volume,
    speaker_of,
    speaker_split,
    time_shift,
    which_set,
    write_wav,
)

KW = ("yes", "no", "up")
UNKNOWN_WORDS = ("bed", "cat", "dog")


# ---------------------------------------------------------------- fixtures: tmp copies of real data


@pytest.fixture(scope="module")
def full_dir(tmp_path_factory, test12_dir: Path, mini_dir: Path) -> Path:
    """Full layout: yes/no/up (4 FLAC from mini + 2 WAV from test12 each), bed/cat/dog (3 WAV
    each, renamed to ``<speaker>_nohash_<n>.wav``), a 6-s noise file, and list files."""
    root = tmp_path_factory.mktemp("full")
    for word in KW:
        (root / word).mkdir()
        flac = sorted((mini_dir / word).glob("*.flac"))[:4]
        for f in flac + sorted((test12_dir / word).glob("*.wav"))[:2]:
            shutil.copy(f, root / word / f.name)
    for word in UNKNOWN_WORDS:
        (root / word).mkdir()
        for f in sorted((test12_dir / UNKNOWN).glob(f"{word}_*.wav"))[:3]:
            shutil.copy(f, root / word / f.name[len(word) + 1 :])
    silence = sorted((test12_dir / SILENCE).glob("*.wav"))[:6]
    noise = np.concatenate([read_clip(f) for f in silence])
    write_wav(root / "_background_noise_" / "noise.wav", noise)

    def first(word: str, i: int) -> str:
        f = sorted((root / word).iterdir())[i]
        return f"{word}/{f.stem}.wav"  # the lists name .wav even for the FLAC clips

    validation = [first(w, 0) for w in ("yes", "no", "up", "bed")]
    testing = [first(w, 1) for w in ("yes", "no", "up", "bed", "cat")]
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    return root


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory, test12_dir: Path) -> Path:
    """Prepared 12-class layout: 4 clips per keyword and silence, 8 unknown clips."""
    counts = {label: 8 if label == UNKNOWN else 4 for label in LABELS_12}
    return copy_prepared_subset(test12_dir, tmp_path_factory.mktemp("prepared"), counts)


@dataclasses.dataclass
class FakeConfig:
    num_frames: int = 10
    feature_dim: int = 3
    sample_rate: int = 16000
    clip_samples: int = 16000
    tag: str = "fake-v1"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class FakeFrontend:
    """Per 100-ms frame: log energy, zero-crossing rate, and the log energy of the context."""

    def __init__(self, tag: str = "fake-v1") -> None:
        self.config = FakeConfig(tag=tag)
        self.calls = 0
        self.context_lengths: list[int] = []

    def compute(self, audio: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        assert audio.dtype == np.int16 and audio.shape == (self.config.clip_samples,)
        self.calls += 1
        self.context_lengths.append(0 if context is None else len(context))
        frames = audio.astype(np.float32).reshape(self.config.num_frames, -1) / 32768
        energy = np.log(np.mean(frames**2, axis=1) + 1e-8)
        zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)), axis=1)
        ctx = 0.0 if context is None else np.log(np.mean((context / 32768.0) ** 2) + 1e-8)
        return np.stack([energy, zcr, np.full_like(energy, ctx)], axis=1).astype(np.float32)


def epoch(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------- audio


def test_read_clip_reads_flac_and_wav_as_int16(test12_dir: Path, mini_dir: Path, tmp_path: Path):
    wav = read_clip(sorted((test12_dir / "yes").glob("*.wav"))[0])
    flac = read_clip(sorted((mini_dir / "yes").glob("*.flac"))[0])
    for audio in (wav, flac):
        assert audio.dtype == np.int16 and audio.ndim == 1 and 8000 <= audio.size <= 16000
        assert np.abs(audio).max() > 100  # real speech, not zeros
    out = write_wav(tmp_path / "sub" / "copy.wav", wav)
    np.testing.assert_array_equal(read_clip(out), wav)
    assert sf.info(str(out)).subtype == "PCM_16"
    assert not list((tmp_path / "sub").glob(".*tmp"))  # the atomic write left no temp file
    with pytest.raises(ValueError, match="int16"):
        write_wav(tmp_path / "f.wav", wav.astype(np.float32))


def test_fit_length_pads_and_trims_at_the_end():
    a = np.arange(1, 4, dtype=np.int16)
    np.testing.assert_array_equal(fit_length(a, 5), [1, 2, 3, 0, 0])
    np.testing.assert_array_equal(fit_length(a, 2), [1, 2])
    assert fit_length(a, 5).dtype == np.int16


def test_one_to_int16_for_the_data_and_the_front_ends():
    import ghost_keras.features
    from ghost_keras import data

    assert data.to_int16 is ghost_keras.features.to_int16
    loud = np.array([0.5, -2.0, 1.5, 1 / 32768], np.float32)
    # A mix the package made saturates; audio handed to a front end must already be in range.
    np.testing.assert_array_equal(data.to_int16(loud, saturate=True), [16384, -32768, 32767, 1])
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\].*its peak is 2"):
        data.to_int16(loud)
    with pytest.raises(ValueError, match="NaN"):
        data.to_int16(np.array([np.nan], np.float32), saturate=True)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("rate", r"sample rate 8000 Hz, expected 16000 Hz; resample"),
        ("stereo", r"2 channels, expected mono"),
        ("float", r"sample encoding FLOAT .*expected integer PCM"),
        ("8bit", r"8-bit PCM .*expected 16-bit; record it at 16 bits or convert it"),
        ("garbage", r"not a readable WAV/FLAC file"),
    ],
)
def test_bad_audio_raises_clear_error_naming_file(tmp_path: Path, kind: str, expected: str):
    path = tmp_path / f"bad_{kind}.wav"
    tone = (0.3 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    if kind == "rate":
        sf.write(str(path), (tone * 32767).astype(np.int16), 8000, subtype="PCM_16")
    elif kind == "stereo":
        sf.write(str(path), np.stack([tone, tone], 1), 16000, subtype="PCM_16")
    elif kind == "float":
        sf.write(str(path), tone, 16000, subtype="FLOAT")
    elif kind == "8bit":
        sf.write(str(path), tone, 16000, subtype="PCM_U8")
    else:
        path.write_bytes(b"this is not audio" * 10)
    with pytest.raises(AudioFormatError, match=expected) as info:
        read_clip(path)
    assert str(info.value).startswith(str(path))
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        read_clip(tmp_path / "missing.wav")


def test_bad_clip_fails_in_make_datasets_before_iterating(full_dir: Path, tmp_path: Path):
    root = tmp_path / "data"
    shutil.copytree(full_dir / "yes", root / "yes")
    bad = root / "yes" / "deadbeef_nohash_0.wav"
    sf.write(str(bad), np.zeros(8000, np.int16), 8000, subtype="PCM_16")
    index = scan(root, keywords=("yes",), split="train")
    with pytest.raises(AudioFormatError, match=r"deadbeef_nohash_0\.wav: sample rate 8000 Hz"):
        make_datasets(index, FakeFrontend(), batch_size=4)


# ---------------------------------------------------------------- splits and names


def test_which_set_matches_hand_computed_sha1():
    # sha1("022cd682") computed by hand (sha1sum); the "_nohash_<n>" tail and folder are ignored.
    digest = "6bd46ae77d02933cc48b29101f8b02d910f778d5"
    assert hashlib.sha1(b"022cd682").hexdigest() == digest
    percentage = (int(digest, 16) % 2**27) * (100.0 / (2**27 - 1))
    assert percentage == pytest.approx(12.0836, abs=1e-4)
    assert which_set("yes/022cd682_nohash_0.wav", 10, 10) == "testing"  # 10 <= 12.08 < 20
    assert which_set("/x/go/022cd682_nohash_4.wav", 12.09, 10) == "validation"
    assert which_set("022cd682_nohash_1.flac", 12.0, 0.08) == "training"
    assert which_set("3291330e_nohash_0.wav", 10, 10) == "training"  # 72.4%


def test_speaker_of():
    assert speaker_of("yes/0a7c2a8d_nohash_0.wav") == "0a7c2a8d"
    assert speaker_of("_unknown_/backward_0c540988_nohash_2.wav") == "0c540988"
    assert speaker_of("_silence_/12.wav") is None


def test_scan_full_layout_labels_lists_and_noise(full_dir: Path):
    index = scan(full_dir, allow_missing_keywords=True)
    assert index.layouts == ("full",)
    assert index.labels == LABELS_12
    assert [index.label_id(x) for x in (SILENCE, UNKNOWN, "yes", "go")] == [0, 1, 2, 11]
    by_word = {}
    for c in index.clips:
        by_word.setdefault(c.word, []).append(c)
    assert set(by_word) == set(KW) | set(UNKNOWN_WORDS)
    assert all(c.label == UNKNOWN for w in UNKNOWN_WORDS for c in by_word[w])
    assert all(c.label == c.word for w in KW for c in by_word[w])
    assert {c.path.suffix for c in by_word["yes"]} == {".flac", ".wav"}
    # List files honoured (a .wav entry matches the FLAC clip); everything else is train.
    val = {f"{c.word}/{c.path.stem}" for c in index.split("validation")}
    test = {f"{c.word}/{c.path.stem}" for c in index.split("test")}
    expect_val = {l[:-4] for l in (full_dir / "validation_list.txt").read_text().split()}
    expect_test = {l[:-4] for l in (full_dir / "testing_list.txt").read_text().split()}
    assert val == expect_val and test == expect_test
    assert len(index.split("train")) == len(index.clips) - 9
    noise = index.background_noise()
    assert len(noise) == 1 and noise[0].dtype == np.int16 and noise[0].size == 6 * 16000
    # Any keyword list: "bed" becomes a keyword, "yes" unknown.
    custom = scan(full_dir, keywords=("bed", "no"))
    assert custom.labels == (SILENCE, UNKNOWN, "bed", "no")
    assert {c.label for c in custom.clips if c.word == "yes"} == {UNKNOWN}


def test_scan_without_lists_uses_the_speaker_hash(full_dir: Path, tmp_path: Path):
    root = tmp_path / "nolists"
    shutil.copytree(full_dir, root, ignore=shutil.ignore_patterns("*.txt"))
    index = scan(root, keywords=KW)
    tf_names = {"training": "train", "validation": "validation", "testing": "test"}
    for c in index.clips:
        assert c.split == tf_names[which_set(c.path.name, 10, 10)]
    index = scan(root, keywords=KW, split="hash", validation_percentage=30, testing_percentage=30)
    assert {c.split for c in index.clips} == {"train", "validation", "test"}
    with pytest.raises(DatasetError, match="validation_list.txt"):
        scan(root, keywords=KW, split="lists")


def test_scan_prepared_layout(prepared_dir: Path):
    index = scan(prepared_dir, split="none")
    assert index.layouts == ("prepared",)
    assert all(c.split is None for c in index.clips)
    silence = [c for c in index.clips if c.label == SILENCE]
    assert len(silence) == 4 and all(c.speaker is None and c.word == SILENCE for c in silence)
    unknown = [c for c in index.clips if c.label == UNKNOWN]
    assert len(unknown) == 8
    for c in unknown:
        assert c.path.name.startswith(f"{c.word}_{c.speaker}_nohash_")
    assert {c.label for c in index.clips} == set(LABELS_12)
    # A keyword subset sends the other keyword folders to unknown; a word found only in
    # _unknown_ file names becomes a keyword when asked for.
    word = unknown[0].word
    sub = scan(prepared_dir, keywords=("yes", word), split="none")
    assert {c.label for c in sub.clips if c.word == "no"} == {UNKNOWN}
    assert {c.label for c in sub.clips if c.word == word} == {word}


def test_speaker_split_has_no_speaker_in_two_splits(test12_dir: Path):
    index = scan(test12_dir, split="none")
    clips = speaker_split(index.clips, (0.5, 0.2, 0.3), seed=3)
    splits_of: dict[str, set] = {}
    for c in clips:
        if c.speaker is not None:
            splits_of.setdefault(c.speaker, set()).add(c.split)
    assert len(splits_of) > 100 and all(len(s) == 1 for s in splits_of.values())
    n = len(clips)
    shares = [sum(c.split == s for c in clips) / n for s in ("train", "validation", "test")]
    np.testing.assert_allclose(shares, (0.5, 0.2, 0.3), atol=0.02)
    splits = [c.split for c in clips]
    assert [c.split for c in speaker_split(index.clips, (0.5, 0.2, 0.3), seed=3)] == splits
    assert [c.split for c in speaker_split(index.clips, (0.5, 0.2, 0.3), seed=4)] != splits
    assert {c.split for c in speaker_split(index.clips, (0.7, 0, 0.3), seed=0)} == {"train", "test"}
    # Silence (no speaker) is spread over the splits, not dumped in one.
    assert {c.split for c in clips if c.label == SILENCE} == {"train", "validation", "test"}


def test_merge_sources(full_dir: Path, prepared_dir: Path):
    a = scan(full_dir, allow_missing_keywords=True)
    b = scan(prepared_dir, split="none").with_speaker_split((0.5, 0.25, 0.25), seed=0)
    both = merge(a, b)
    assert len(both.clips) == len(a.clips) + len(b.clips)
    assert both.layouts == ("full", "prepared") and len(both.noise_paths) == 1
    assert scan([full_dir, prepared_dir], split="train").layouts == ("full", "prepared")
    with pytest.raises(DatasetError, match="keyword lists differ"):
        merge(a, scan(prepared_dir, keywords=("yes",)))
    with pytest.raises(DatasetError, match="more than one index"):
        merge(a, a)


def test_folder_errors_name_the_folder(tmp_path: Path, full_dir: Path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        scan(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no \.wav/\.flac clips found in .*empty"):
        scan(tmp_path / "empty")
    root = tmp_path / "one_empty"
    shutil.copytree(full_dir / "yes", root / "yes")
    (root / "no").mkdir()
    with pytest.raises(DatasetError, match=r"no \.wav/\.flac clips found in .*one_empty/no"):
        scan(root, keywords=("yes",))
    expected = r"unknown label 'foo': the folder .*full.* has bed, cat, dog, no, up, yes"
    with pytest.raises(DatasetError, match=expected):
        scan(full_dir, keywords=("yes", "foo"))
    with pytest.raises(DatasetError, match="unknown label 'down'.*also missing: left, right, on"):
        scan(full_dir)  # only yes/no/up of the 12-label keywords are in the copy
    assert scan(full_dir, keywords=KEYWORDS_12, allow_missing_keywords=True).labels == LABELS_12


# ---------------------------------------------------------------- augmentation


def test_time_shift_pads_with_zeros():
    rng = np.random.default_rng(0)
    a = np.arange(1, 101, dtype=np.float32)
    shifts = set()
    for _ in range(50):
        out = time_shift(a, 10, rng)
        shift = int(np.argmax(out != 0)) if out[0] == 0 else -int(out[0] - 1)
        assert -10 <= shift < 10
        expected = np.zeros_like(a)
        if shift >= 0:
            expected[shift:] = a[: 100 - shift]
        else:
            expected[:shift] = a[-shift:]
        np.testing.assert_array_equal(out, expected)
        shifts.add(shift)
    assert len(shifts) > 5


def test_snr_mixing_hits_the_snr():
    rng = np.random.default_rng(1)
    signal = rng.standard_normal(16000).astype(np.float32) * 0.2
    noise = rng.standard_normal(16000).astype(np.float32) * 0.5
    v = snr_volume(signal, noise, 10.0)
    snr = 10 * np.log10(np.mean(signal**2) / np.mean((v * noise) ** 2))
    assert snr == pytest.approx(10.0, abs=1e-3)


def test_render_example_eval_keeps_the_clip_and_training_changes_it(test12_dir: Path):
    audio = read_clip(sorted((test12_dir / "yes").glob("*.wav"))[0])
    pool = NoisePool([read_clip(f) for f in sorted((test12_dir / SILENCE).glob("*.wav"))[:3]])
    kw = dict(clip_samples=16000, context_samples=24000, noise=pool)
    clip, ctx = render_example(audio, rng=np.random.default_rng(0), **kw)
    np.testing.assert_array_equal(clip, fit_length(audio, 16000))
    assert ctx.shape == (24000,) and ctx.dtype == np.int16 and np.any(ctx)
    trained = [
        render_example(audio, rng=np.random.default_rng(s), training=True, **kw)[0]
        for s in range(10)
    ]
    changed = [not np.array_equal(t, clip) for t in trained]
    assert sum(changed) >= 9
    silence, _ = render_example(None, rng=np.random.default_rng(0), **kw)
    assert silence.shape == (16000,) and np.any(silence)
    assert NoisePool([]).synthetic and not pool.synthetic


# ---------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def full_index(full_dir: Path):
    return scan(full_dir, keywords=KW)


def make(index, frontend=None, **kw):
    args = dict(batch_size=4, seed=0, silence_percentage=50, unknown_percentage=25)
    args.update(kw)
    return make_datasets(index, frontend or FakeFrontend(), **args)


def test_shapes_and_label_proportions(full_index):
    fe = FakeFrontend()
    sets = make(full_index, fe)
    assert set(sets) == {"train", "validation", "test"}
    for split in ("train", "validation", "test"):
        x, y = next(iter(sets[split]))
        assert x.dtype.name == "float32" and x.shape[1:] == (10, 3) and y.dtype.name == "int32"
    # 12 train keyword clips: ceil(50% * 12) = 6 silence, ceil(25% * 12) = 3 unknown.
    assert sets.label_counts("train") == {SILENCE: 6, UNKNOWN: 3, "yes": 4, "no": 4, "up": 4}
    # 3 keyword clips in validation and test: 2 silence, 1 unknown.
    assert sets.label_counts("test") == {SILENCE: 2, UNKNOWN: 1, "yes": 1, "no": 1, "up": 1}
    x, y = sets.as_numpy("test")
    assert x.shape == (6, 10, 3) and np.bincount(y, minlength=5).tolist() == [2, 1, 1, 1, 1]
    _, ytr = epoch(sets["train"])
    assert sorted(ytr.tolist()) == sorted(e.label_id for e in sets.plans["train"])
    # Every clip was featurized after 1.5 s of context.
    assert set(fe.context_lengths) == {24000}
    no_context = make(full_index, FakeFrontend(), context_seconds=0).as_numpy("test")[0]
    assert no_context[:, :, 2].max() == 0
    # TF default proportions with the real-clip count: 10% of 12 keyword clips -> 2 each.
    plan = plan_split(full_index, "train")
    assert sum(e.label_id == 0 for e in plan) == 2 and sum(e.label_id == 1 for e in plan) == 2


def test_same_seed_same_batches_and_augmentation_redrawn(full_index):
    a, b, c = make(full_index), make(full_index), make(full_index, seed=1)
    xa1, ya1 = epoch(a["train"])
    xb1, yb1 = epoch(b["train"])
    np.testing.assert_array_equal(xa1, xb1)
    np.testing.assert_array_equal(ya1, yb1)
    assert not np.array_equal(epoch(c["train"])[0], xa1)
    xa2, _ = epoch(a["train"])  # second epoch: new augmentation and order
    assert not np.array_equal(xa2, xa1)
    np.testing.assert_array_equal(xa2, epoch(b["train"])[0])
    np.testing.assert_array_equal(epoch(a["test"])[0], epoch(b["test"])[0])


def test_words_at_an_snr_get_noisier_as_it_falls_and_silence_stays(full_index):
    sets = make(full_index)
    x, y = sets.as_numpy("test")
    loud, noisy = sets.at_snr("test", 30.0), sets.at_snr("test", 0.0)
    np.testing.assert_array_equal(noisy, sets.at_snr("test", 0.0))  # seeded
    silence = y == sets.labels.index(SILENCE)
    assert silence.any() and (~silence).any()
    np.testing.assert_array_equal(noisy[silence], x[silence])
    # Column 0 is log energy: noise lifts the quiet frames, more at 0 dB than at 30 dB.
    lift = [np.mean(np.abs(z[~silence, :, 0] - x[~silence, :, 0])) for z in (loud, noisy)]
    assert 0 < lift[0] < lift[1]


def test_augmentation_changes_train_only(full_index):
    aug, clean = make(full_index, augment=True), make(full_index, augment=False)
    for split in ("validation", "test"):
        np.testing.assert_array_equal(epoch(aug[split])[0], epoch(clean[split])[0])
    # Compare the clip's own features (columns 0-1); column 2 is the context, drawn anyway.
    x_clean = clean.as_numpy("train")[0]
    x_aug = epoch(aug["train"])[0]
    matches = sum(any(np.array_equal(xa[:, :2], xc[:, :2]) for xc in x_clean) for xa in x_aug)
    assert matches <= 0.2 * len(x_aug)  # ~80% get noise, all speech gets shifted
    # The clean train set is itself a shuffled copy of as_numpy("train").
    x_epoch, _ = epoch(clean["train"])
    assert sorted(map(bytes, x_epoch)) == sorted(map(bytes, x_clean))


def test_feature_cache_is_reused(full_index, tmp_path: Path):
    first = FakeFrontend()
    a = make(full_index, first, cache_dir=tmp_path, augment=False)
    n = sum(len(p) for p in a.plans.values())
    assert first.calls == n
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3 and all(f.endswith(".npz") for f in files)
    second = FakeFrontend()
    b = make(full_index, second, cache_dir=tmp_path, augment=False)
    assert second.calls == 0  # everything read from the cache
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(a.as_numpy(split)[0], b.as_numpy(split)[0])
    # A different front end config, or seed, is a different cache entry.
    other = FakeFrontend(tag="fake-v2")
    make(full_index, other, cache_dir=tmp_path, augment=False)
    assert other.calls == n
    make(full_index, third := FakeFrontend(), cache_dir=tmp_path, augment=False, seed=5)
    assert third.calls > 0
    assert len(list(tmp_path.iterdir())) == 9


def test_spec_augment_masks_train_features_anew_every_epoch(full_index):
    from ghost_keras.data import SpecAugmentConfig

    masks = SpecAugmentConfig(time_masks=1, time_mask_frames=4)
    plain, masked, twin = make(full_index), make(full_index, spec_augment=masks), \
        make(full_index, spec_augment=masks)
    patterns = []
    for _ in range(2):
        x_plain, y_plain = epoch(plain["train"])
        x_mask, y_mask = epoch(masked["train"])
        np.testing.assert_array_equal(x_mask, epoch(twin["train"])[0])  # same seed, same masks
        np.testing.assert_array_equal(y_plain, y_mask)  # masks draw after rendering and order
        changed = x_plain != x_mask
        rows = changed.all(axis=2)
        assert (changed.any(axis=2) == rows).all()  # whole frames only
        assert rows.sum(axis=1).max() <= 4 and rows.any()
        patterns.append(rows)
    assert not np.array_equal(patterns[0], patterns[1])  # re-drawn in epoch 2
    for split in ("validation", "test"):  # never on evaluation features
        np.testing.assert_array_equal(masked.as_numpy(split)[0], plain.as_numpy(split)[0])
    with pytest.raises(ValueError, match="augment=True"):
        make(full_index, spec_augment=masks, augment=False)


def test_balance_classes_gives_each_label_an_equal_share_of_the_epoch(full_index):
    plain, balanced = make(full_index), make(full_index, balance_classes=True)
    # The plan: 6 silence, 3 unknown, 4 each of yes/no/up (21 examples).
    assert np.bincount(epoch(plain["train"])[1]).tolist() == [6, 3, 4, 4, 4]
    first_x, first_y = epoch(balanced["train"])
    counts = np.bincount(first_y, minlength=5)
    assert counts.sum() == 21 and counts.max() - counts.min() <= 1  # 4 each, one 5
    assert not np.array_equal(epoch(balanced["train"])[1], first_y)  # new draw per epoch
    # The 3 unknown clips are drawn once or twice each; every repeat is rendered afresh.
    unknown = first_x[first_y == 1]
    assert len({bytes(x) for x in unknown}) == len(unknown)
