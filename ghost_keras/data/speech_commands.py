"""An index of Speech Commands clips: layouts, labels and train/validation/test splits.

Two folder layouts are read:

- **full** (the dataset as released, v0.01 and v0.02): one folder per word, optionally
  ``_background_noise_/`` (long noise recordings) and ``validation_list.txt`` /
  ``testing_list.txt`` (lines ``word/<speaker>_nohash_<n>.wav``).
- **prepared** 12-class (e.g. ``speech_commands_test_set_v0.02``): one folder per keyword,
  ``_unknown_/<word>_<speaker>_nohash_<n>.wav`` and ``_silence_/<n>.wav``.

Words outside the requested keyword list become ``_unknown_``. Splits come from the list files,
else from the dataset's own hash of the speaker id (:func:`which_set`), or from a seeded
speaker-disjoint split (:func:`speaker_split`) for data whose hash split is useless (the prepared
test set is *all* "testing" by the hash). Only file names are read here; audio is read later.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ghost_keras.data.audio import AUDIO_EXTENSIONS, read_clip

log = logging.getLogger(__name__)

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"
KEYWORDS_12 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: TensorFlow speech_commands label order: silence is 0, unknown is 1, then the keywords.
LABELS_12 = (SILENCE, UNKNOWN) + KEYWORDS_12
#: Split names used throughout ghost_keras (the keys of ``make_datasets``).
SPLITS = ("train", "validation", "test")
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
#: From TensorFlow's speech_commands ``input_data.py``; part of the split's definition.
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1

# which_set() returns TensorFlow's names; the rest of the package uses SPLITS.
_TF_SPLIT_NAMES = {"training": "train", "validation": "validation", "testing": "test"}


class DatasetError(ValueError):
    """A data folder that cannot be used as asked (empty, unknown label, bad list file, ...)."""


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """The dataset's own split of a file: ``'training'``, ``'validation'`` or ``'testing'``.

    A verbatim port of ``which_set`` in TensorFlow's ``speech_commands/input_data.py``: the
    SHA-1 of the base name with ``_nohash_`` and everything after it removed (so the speaker id
    for ``<speaker>_nohash_<n>.wav``), mapped to a percentage. A speaker therefore lands in the
    same split for every word, and stays there when the dataset grows.

    Args:
        filename: path or base name of the clip.
        validation_percentage: percent of speakers in validation (10 in the standard recipe).
        testing_percentage: percent of speakers in testing (10 in the standard recipe).

    Returns:
        TensorFlow's split name (use ``SPLITS``-style names via :func:`scan` instead).

    Example:
        >>> which_set("yes/0a7c2a8d_nohash_0.wav", 10, 10)
        'training'
    """
    base_name = os.path.basename(filename)
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_name_hashed = hashlib.sha1(hash_name.encode("utf-8")).hexdigest()
    percentage_hash = (int(hash_name_hashed, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (
        100.0 / MAX_NUM_WAVS_PER_CLASS
    )
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def speaker_of(path: str | os.PathLike) -> str | None:
    """The speaker id in a Speech Commands file name, or None when it has none.

    Handles ``<speaker>_nohash_<n>.wav`` (word folders) and ``<word>_<speaker>_nohash_<n>.wav``
    (the prepared ``_unknown_`` folder); ``_silence_/<n>.wav`` has no speaker.

    Example:
        >>> speaker_of("_unknown_/backward_0c540988_nohash_0.wav")
        '0c540988'
    """
    stem = Path(path).stem
    if "_nohash_" not in stem:
        return None
    return stem.split("_nohash_")[0].split("_")[-1]


@dataclasses.dataclass(frozen=True)
class Clip:
    """One labelled recording.

    Attributes:
        path: the audio file.
        word: what was said (``"backward"`` for a prepared ``_unknown_`` clip; ``_silence_``
            for a prepared silence clip).
        label: the training label: a keyword, ``_unknown_`` or ``_silence_``.
        speaker: speaker id, or None (silence clips).
        split: ``"train"``, ``"validation"``, ``"test"``, or None before splitting.
    """

    path: Path
    word: str
    label: str
    speaker: str | None
    split: str | None = None

    @property
    def group(self) -> str:
        """The unit a split must not divide: the speaker, else the file itself."""
        return self.speaker if self.speaker is not None else f"file:{self.path}"


@dataclasses.dataclass(frozen=True)
class SpeechCommandsIndex:
    """The clips of one or more Speech Commands folders, labelled and split.

    Build it with :func:`scan` (and :func:`merge`); it holds file names only.

    Attributes:
        clips: every clip, sorted by path.
        keywords: the keyword labels, in label-id order after silence and unknown.
        noise_paths: ``_background_noise_`` recordings (may be empty).
        sources: the scanned folders.
        layouts: ``"full"`` or ``"prepared"`` for each source.
    """

    clips: tuple[Clip, ...]
    keywords: tuple[str, ...] = KEYWORDS_12
    noise_paths: tuple[Path, ...] = ()
    sources: tuple[Path, ...] = ()
    layouts: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """``(_silence_, _unknown_, *keywords)``: label id = position in this tuple."""
        return (SILENCE, UNKNOWN) + tuple(self.keywords)

    def label_id(self, label: str) -> int:
        """The integer class of ``label`` (0 = silence, 1 = unknown, 2... keywords)."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise DatasetError(f"unknown label {label!r}; labels are {self.labels}") from None

    def split(self, name: str) -> list[Clip]:
        """The clips of one split (``"train"``, ``"validation"`` or ``"test"``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; splits are {SPLITS}")
        return [c for c in self.clips if c.split == name]

    def counts(self) -> dict[str, dict[str, int]]:
        """Clips per split and label, e.g. ``{"train": {"yes": 120, ...}, ...}``."""
        out: dict[str, dict[str, int]] = {s: {label: 0 for label in self.labels} for s in SPLITS}
        for c in self.clips:
            if c.split is not None:
                out[c.split][c.label] += 1
        return out

    def background_noise(self, sample_rate: int = 16000) -> list[np.ndarray]:
        """The ``_background_noise_`` recordings as int16 arrays (read once, then cached)."""
        return list(_read_noise(self.noise_paths, sample_rate))

    def with_speaker_split(
        self, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> SpeechCommandsIndex:
        """This index re-split by :func:`speaker_split`."""
        return dataclasses.replace(self, clips=tuple(speaker_split(self.clips, fractions, seed)))

    def summary(self) -> str:
        """A short human-readable table of clips per split and label."""
        counts = self.counts()
        lines = [f"{'split':<11}" + "".join(f"{lab:>10}" for lab in self.labels)]
        for s in SPLITS:
            lines.append(f"{s:<11}" + "".join(f"{counts[s][lab]:>10}" for lab in self.labels))
        return "\n".join(lines)


@functools.lru_cache(maxsize=8)
def _read_noise(paths: tuple[Path, ...], sample_rate: int) -> tuple[np.ndarray, ...]:
    return tuple(read_clip(p, sample_rate) for p in paths)


def _audio_files(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
    )
    if not files:
        raise DatasetError(
            f"{folder}: no .wav/.flac clips found in {folder}; remove the empty folder or "
            "point at the right data folder"
        )
    return files


def _read_list(path: Path) -> set[str]:
    # Entries are "word/file.wav"; match on the extension-less relative path so that the lists
    # also work for a FLAC copy of the dataset.
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            entries.add(str(Path(line).with_suffix("")))
    return entries


def _scan_one(
    data_dir: Path,
    keywords: tuple[str, ...],
    split: str,
    validation_percentage: float,
    testing_percentage: float,
) -> tuple[list[Clip], list[Path], str, set[str]]:
    """Clips (unsplit unless lists/hash apply), noise files, layout and the words present."""
    if not data_dir.exists():
        raise FileNotFoundError(f"{data_dir}: data folder not found")
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: not a folder")
    folders = sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = {p.name for p in folders}
    layout = "prepared" if names & {UNKNOWN, SILENCE} else "full"

    clips: list[Clip] = []
    noise: list[Path] = []
    for folder in folders:
        if folder.name == BACKGROUND_NOISE_DIR:
            noise = _audio_files(folder)
            continue
        if folder.name.startswith("_") and folder.name not in (UNKNOWN, SILENCE):
            log.warning("%s: ignoring folder %s (not a word or label folder)", data_dir, folder)
            continue
        for path in _audio_files(folder):
            speaker = speaker_of(path)
            if folder.name == SILENCE:
                word = SILENCE
            elif folder.name == UNKNOWN:
                # "<word>_<speaker>_nohash_<n>": the word may itself contain underscores.
                stem = path.stem.split("_nohash_")[0]
                word = stem[: -(len(speaker) + 1)] if speaker and stem.endswith(speaker) else stem
            else:
                word = folder.name.lower()
            if word == SILENCE:
                label = SILENCE
            else:
                label = word if word in keywords else UNKNOWN
            clips.append(Clip(path=path, word=word, label=label, speaker=speaker))
    if not clips:
        raise DatasetError(
            f"{data_dir}: no .wav/.flac clips found in {data_dir} (expected one folder per word, "
            f"or the prepared layout with {UNKNOWN}/ and {SILENCE}/)"
        )
    words = {c.word for c in clips}

    lists = [data_dir / VALIDATION_LIST, data_dir / TESTING_LIST]
    have_lists = [p.is_file() for p in lists]
    if split == "lists" and not all(have_lists):
        missing = [str(p) for p, ok in zip(lists, have_lists) if not ok]
        raise DatasetError(f"{data_dir}: split='lists' but {', '.join(missing)} not found")
    if split == "auto":
        if all(have_lists):
            split = "lists"
        else:
            if any(have_lists):
                log.warning(
                    "%s: only one of %s/%s present; splitting by the speaker hash instead",
                    data_dir, VALIDATION_LIST, TESTING_LIST,
                )
            split = "hash"

    if split == "lists":
        validation, testing = (_read_list(p) for p in lists)

        def assign(c: Clip) -> str:
            key = str(c.path.relative_to(data_dir).with_suffix(""))
            return "validation" if key in validation else "test" if key in testing else "train"

        clips = [dataclasses.replace(c, split=assign(c)) for c in clips]
    elif split == "hash":
        # Hash the speaker, not the base name: the prepared _unknown_ names start with the word,
        # which would scatter a speaker's clips over splits. For "<speaker>_nohash_<n>" names the
        # two are the same thing, so this equals TensorFlow's split on the full dataset.
        clips = [
            dataclasses.replace(
                c,
                split=_TF_SPLIT_NAMES[
                    which_set(
                        f"{c.speaker}_nohash_0" if c.speaker else c.path.name,
                        validation_percentage,
                        testing_percentage,
                    )
                ],
            )
            for c in clips
        ]
    elif split in SPLITS:
        clips = [dataclasses.replace(c, split=split) for c in clips]
    elif split != "none":
        raise ValueError(
            f"split={split!r}: expected 'auto', 'lists', 'hash', 'none' or one of {SPLITS}"
        )
    return clips, noise, layout, words


def scan(
    data_dir: str | os.PathLike | Sequence[str | os.PathLike],
    keywords: Iterable[str] = KEYWORDS_12,
    *,
    split: str = "auto",
    validation_percentage: float = 10.0,
    testing_percentage: float = 10.0,
    allow_missing_keywords: bool = False,
) -> SpeechCommandsIndex:
    """Indexes a Speech Commands folder (or several, merged) without reading audio.

    Args:
        data_dir: a folder in the full or the prepared layout, or a list of them.
        keywords: the keyword labels; every other word becomes ``_unknown_``.
        split: how clips get their split:
            ``"auto"`` the list files when both exist, else ``"hash"``;
            ``"lists"`` ``validation_list.txt``/``testing_list.txt`` (the rest is train);
            ``"hash"`` the dataset's SHA-1-of-speaker split (:func:`which_set`);
            ``"train"``/``"validation"``/``"test"`` everything in that split;
            ``"none"`` no split yet (then use :meth:`SpeechCommandsIndex.with_speaker_split`).
        validation_percentage: for ``"hash"``.
        testing_percentage: for ``"hash"``.
        allow_missing_keywords: accept keywords that no source has (e.g. ``on``/``off`` in
            mini_speech_commands, to be merged with a source that has them).

    Returns:
        The index; clips sorted by path.

    Raises:
        FileNotFoundError: a folder does not exist.
        DatasetError: an empty folder, no clips, a keyword no source has, a keyword named
            like a special label.

    Example:
        >>> test12 = scan("speech_commands_v2_test12_dev", split="none")  # doctest: +SKIP
        >>> test12 = test12.with_speaker_split((0.5, 0.2, 0.3), seed=0)  # doctest: +SKIP
        >>> mini = scan("mini_speech_commands_flac", split="hash",
        ...             allow_missing_keywords=True)  # doctest: +SKIP
        >>> index = merge(mini, test12)  # doctest: +SKIP
    """
    keywords = tuple(k.lower() for k in keywords)
    bad = [k for k in keywords if k in (SILENCE, UNKNOWN, BACKGROUND_NOISE_DIR) or not k]
    if bad or len(set(keywords)) != len(keywords):
        raise DatasetError(
            f"keywords {keywords}: must be distinct words, not {SILENCE}/{UNKNOWN}/"
            f"{BACKGROUND_NOISE_DIR} (those labels are always present)"
        )
    dirs = [data_dir] if isinstance(data_dir, (str, os.PathLike)) else list(data_dir)
    if not dirs:
        raise DatasetError("scan: no data folder given")
    parts = []
    all_words: set[str] = set()
    for d in dirs:
        d = Path(d)
        clips, noise, layout, words = _scan_one(
            d, keywords, split, validation_percentage, testing_percentage
        )
        all_words |= words
        parts.append(
            SpeechCommandsIndex(tuple(clips), keywords, tuple(noise), (d,), (layout,))
        )
    missing = [k for k in keywords if k not in all_words]
    if missing and not allow_missing_keywords:
        where = ", ".join(str(Path(d)) for d in dirs)
        raise DatasetError(
            f"unknown label {missing[0]!r}: the folder {where} has "
            f"{', '.join(sorted(all_words - {SILENCE}))}; check the spelling or pass "
            "allow_missing_keywords=True to merge with a source that has it"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )
    return merge(*parts)


def merge(*indexes: SpeechCommandsIndex) -> SpeechCommandsIndex:
    """Combines indexes of several folders (same keywords) into one.

    Each keeps its own splits, so e.g. a hash-split source and a speaker-split source can be
    combined. Speaker ids are global in Speech Commands, so merging sources whose splits put the
    same speaker in different splits would leak; that is logged as a warning.

    Example:
        >>> index = merge(scan("mini", split="train", allow_missing_keywords=True),
        ...               scan("test12", split="test"))  # doctest: +SKIP
    """
    if not indexes:
        raise DatasetError("merge: nothing to merge")
    keywords = indexes[0].keywords
    for ix in indexes[1:]:
        if tuple(ix.keywords) != tuple(keywords):
            raise DatasetError(
                f"merge: keyword lists differ ({keywords} vs {ix.keywords}); scan every source "
                "with the same keywords"
            )
    clips = sorted((c for ix in indexes for c in ix.clips), key=lambda c: str(c.path))
    paths = Counter(c.path for c in clips)
    dupes = [p for p, n in paths.items() if n > 1]
    if dupes:
        raise DatasetError(f"merge: {dupes[0]} is in more than one index (same folder twice?)")
    splits_of: dict[str, set[str]] = {}
    for c in clips:
        if c.speaker is not None and c.split is not None:
            splits_of.setdefault(c.speaker, set()).add(c.split)
    leaking = sorted(s for s, sp in splits_of.items() if len(sp) > 1)
    if leaking:
        log.warning(
            "merge: %d speakers are in more than one split (e.g. %s)", len(leaking), leaking[0]
        )
    return SpeechCommandsIndex(
        clips=tuple(clips),
        keywords=tuple(keywords),
        noise_paths=tuple(p for ix in indexes for p in ix.noise_paths),
        sources=tuple(s for ix in indexes for s in ix.sources),
        layouts=tuple(s for ix in indexes for s in ix.layouts),
    )


def speaker_split(
    clips: Iterable[Clip], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> list[Clip]:
    """Splits clips so that no speaker is in two splits (for data without list files).

    Speakers are shuffled with ``seed`` and cut where the running clip count crosses the
    fractions, so each split gets about its fraction of the *clips*. Clips without a speaker
    (silence) are each their own group, which spreads them over the splits in proportion.

    Args:
        clips: the clips; their current split is replaced.
        fractions: (train, validation, test); non-negative, normalised to sum 1.
        seed: shuffling seed.

    Returns:
        The clips with ``split`` set, in the input order.

    Example:
        >>> index = scan("speech_commands_v2_test12_dev", split="none")  # doctest: +SKIP
        >>> clips = speaker_split(index.clips, (0.7, 0.0, 0.3), seed=1)  # doctest: +SKIP
    """
    clips = list(clips)
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions.sum() <= 0:
        raise ValueError(f"fractions={fractions.tolist()}: need three non-negative numbers")
    fractions = fractions / fractions.sum()
    sizes = Counter(c.group for c in clips)
    groups = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(groups))
    bounds = np.cumsum(fractions) * len(clips)
    group_split: dict[str, str] = {}
    done = 0
    for i in order:
        g = groups[i]
        # The group's midpoint decides, so a big speaker at a boundary goes where most of it fits.
        mid = done + sizes[g] / 2
        group_split[g] = SPLITS[min(int(np.searchsorted(bounds, mid, side="right")), 2)]
        done += sizes[g]
    return [dataclasses.replace(c, split=group_split[c.group]) for c in clips]
