"""Where a stream's clips come from: a data folder indexed with the splits its training run
used (:func:`stream_index`), and the clips of one split of it (:func:`select_clips`), so that
no training speaker is heard in a test stream.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ghost_keras.data.speech_commands import (
    KEYWORDS_12,
    SPLITS,
    Clip,
    DatasetError,
    SpeechCommandsIndex,
    scan,
)

__all__ = ["select_clips", "stream_index"]


def stream_index(
    data_dir: str | os.PathLike,
    *,
    keywords: Sequence[str] = KEYWORDS_12,
    speaker_split: Sequence[float] | None = None,
    split_seed: int = 0,
    run_dir: str | os.PathLike | None = None,
) -> SpeechCommandsIndex:
    """Indexes ``data_dir`` with the splits its training run used, so its test split holds no
    training speaker.

    - ``run_dir``: the run's ``config.json`` decides: keywords from it; a folder among its
      ``split_dirs`` is speaker-split with its ``speaker_split`` and ``seed`` (as training did),
      one among its ``data_dirs`` keeps the scan's own split (list files or speaker hash).
    - else ``speaker_split`` (with ``split_seed``): speaker-split as ``ghost-kws train
      --split-data DIR --speaker-split ... --seed ...`` does;
    - else the scan's own split (``validation_list.txt``/``testing_list.txt``, or the hash).
    """
    data_dir = Path(data_dir)
    if run_dir is not None:
        config_path = Path(run_dir) / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path} not found: {run_dir} is not a training run")
        train = json.loads(config_path.read_text())["train"]
        keywords = train.get("keywords", list(KEYWORDS_12))
        here = data_dir.resolve()
        in_split = any(Path(d).resolve() == here for d in train.get("split_dirs", []))
        in_data = any(Path(d).resolve() == here for d in train.get("data_dirs", []))
        if in_split:
            speaker_split, split_seed = train.get("speaker_split"), int(train.get("seed", 0))
        elif in_data:
            speaker_split = None
        else:
            raise DatasetError(
                f"{data_dir} is not one of the data folders of the run {run_dir} "
                f"(data_dirs {train.get('data_dirs')}, split_dirs {train.get('split_dirs')}): "
                "its test split would not be the run's; pass that folder, or drop --run and "
                "use --split none for data the run never saw"
            )
    if speaker_split is not None:
        index = scan(data_dir, keywords, split="none", allow_missing_keywords=True)
        return index.with_speaker_split(tuple(speaker_split), seed=split_seed)
    return scan(data_dir, keywords, allow_missing_keywords=True)

def select_clips(
    index_or_clips: SpeechCommandsIndex | Sequence[Clip], split: str | None, sample_rate: int
) -> tuple[list[Clip], list[np.ndarray], tuple[str, ...] | None]:
    """The clips of the split, the index's noise recordings and keywords (index only)."""
    if isinstance(index_or_clips, SpeechCommandsIndex):
        clips = list(index_or_clips.clips)
        keywords: tuple[str, ...] | None = tuple(index_or_clips.keywords)
        noise = list(index_or_clips.background_noise(sample_rate))
    else:
        clips = list(index_or_clips)
        keywords, noise = None, []
        if not all(isinstance(c, Clip) for c in clips):
            raise ValueError("make_long_stream takes a SpeechCommandsIndex or a list of Clip")
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: use one of {SPLITS}, or None for every clip")
        if clips and all(c.split is None for c in clips):
            raise DatasetError(
                f"the clips have no split, so the {split!r} split is empty: scan with a split "
                "(split='auto'/'hash'/'lists', or .with_speaker_split(...) as in training), or "
                "pass split=None to use every clip (only for data no model was trained on)"
            )
        per_split = {name: sum(c.split == name for c in clips) for name in SPLITS}
        clips = [c for c in clips if c.split == split]
        if not clips:
            raise DatasetError(
                f"no clips in the {split!r} split to build a stream from (clips per split: "
                f"{per_split}); split the folder by speaker as its training run did "
                "(--speaker-split / --run), or pick another split"
            )
    if not clips:
        raise DatasetError("no clips given to build a stream from")
    return clips, noise, keywords

