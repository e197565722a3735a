"""Writes a synthetic set to a folder: the clips (in worker processes), the background noise,
the split lists, ``clips.csv``, the manifest and the README, and puts it in place atomically.
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ghost_keras.data.synthetic.clip import ClipJob, render_clip, write_wav
from ghost_keras.data.synthetic.config import BACKGROUND_RMS_DBFS, PEAK_LIMIT_DBFS, SyntheticConfig
from ghost_keras.data.synthetic.espeak import espeak_path, espeak_version_at, list_voices_at
from ghost_keras.data.synthetic.manifest import build_manifest, readme
from ghost_keras.data.synthetic.noise import BACKGROUND_NOISE, generate_noise
from ghost_keras.data.synthetic.plan import keyed_rng, plan_clips, plan_speakers

__all__ = ["generate_dataset"]


def generate_dataset(
    out_dir: str | os.PathLike[str],
    config: SyntheticConfig | None = None,
    *,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
    **params: Any,
) -> Path:
    """Generate a keyword dataset in the Speech Commands layout by speech synthesis.

    Everything is written into a hidden temporary folder beside ``out_dir`` and moved into
    place with one rename at the end, so an interrupted run never leaves a half dataset at
    ``out_dir``.

    Args:
        out_dir: Destination folder. It must not exist or be empty, unless ``overwrite``.
        config: The set's parameters; default ``SyntheticConfig()``.
        workers: Parallel worker processes; 0 or 1 renders in this process. Does not change
            the output.
        progress: Called as ``progress(done, total)`` after each clip.
        overwrite: Replace an existing non-empty ``out_dir``, but only if it holds a dataset
            made by this module (it has ``synthetic.json``): a safety net against deleting an
            unrelated folder by a typo.
        **params: Fields of :class:`SyntheticConfig` (``words``, ``unknown_words``,
            ``clips_per_word``, ``seed``, ``sample_rate``, ``validation_fraction``,
            ``testing_fraction``) that replace those of ``config``; ``words=None`` or
            ``unknown_words=None`` means the default list.

    Returns:
        ``out_dir`` as an absolute :class:`~pathlib.Path`.

    Raises:
        EspeakNotFoundError: if ``espeak-ng`` is not installed.
        ValueError: for an empty, malformed or repeated word, or bad counts or fractions.
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is false.

    Example:
        >>> root = generate_dataset("/tmp/kws", words=["yes", "no"], unknown_words=["cat"],
        ...                         clips_per_word=20, seed=1)  # doctest: +SKIP
        >>> sorted(p.name for p in root.iterdir())[:3]  # doctest: +SKIP
        ['README.md', '_background_noise_', 'cat']
    """
    config = SyntheticConfig.of(config, **params)
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")

    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True to replace it")
        if not (out / "synthetic.json").is_file():
            raise FileExistsError(
                f"{out} is not empty and holds no synthetic.json, so it is not a dataset made "
                "here: refusing to delete it even with overwrite=True"
            )

    espeak = espeak_path()  # fails early and clearly when eSpeak NG is missing
    version = espeak_version_at(espeak)
    speakers = plan_speakers(list(list_voices_at(espeak, False)), config)
    plan = plan_clips(speakers, config)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is ordinary shared data
        for word in config.all_words:
            (tmp / word).mkdir()
        jobs = [
            ClipJob(
                espeak, str(tmp), f"{word}/{spk.voice.speaker_id}_nohash_{rep}.wav", word,
                spk.voice.speaker_id, spk.voice.spec, spk.voice.espeak_arg, rep, spk.base_rate,
                spk.base_pitch, config.seed, config.sample_rate,
            )  # fmt: skip
            for word, spk, rep in plan
        ]
        rows = _run_jobs(jobs, workers, progress)
        _write_background(tmp / "_background_noise_", config.seed, config.sample_rate)

        split_of = {s.voice.speaker_id: s.split for s in speakers}
        rows.sort(key=lambda r: str(r["path"]))
        for split in ("validation", "testing"):
            listed = [str(r["path"]) for r in rows if split_of[str(r["speaker"])] == split]
            (tmp / f"{split}_list.txt").write_text("".join(p + "\n" for p in listed))
        with open(tmp / "clips.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

        manifest = build_manifest(config, version, speakers, rows, split_of)
        (tmp / "README.md").write_text(readme(manifest))
        # Written last: a folder with synthetic.json is complete (ensure_dataset relies on it).
        (tmp / "synthetic.json").write_text(json.dumps(manifest, indent=1) + "\n")
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _run_jobs(
    jobs: list[ClipJob], workers: int, progress: Callable[[int, int], None] | None
) -> list[dict[str, object]]:
    total = len(jobs)
    rows: list[dict[str, object]] = []
    if workers <= 1:
        for job in jobs:
            rows.append(render_clip(job))
            if progress is not None:
                progress(len(rows), total)
        return rows
    # 'spawn' rather than fork: the caller may already have started TensorFlow's threads, and
    # forking a multi-threaded process can deadlock. The workers import only numpy and scipy.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, min(32, total // (workers * 8) or 1))
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        for row in pool.map(render_clip, jobs, chunksize=chunk):
            rows.append(row)
            if progress is not None:
                progress(len(rows), total)
    return rows


def _write_background(folder: Path, seed: int, sample_rate: int) -> None:
    folder.mkdir()
    for name, kind, seconds in BACKGROUND_NOISE:
        x = generate_noise(kind, int(seconds * sample_rate), keyed_rng(seed, "background", name), sample_rate)
        x *= 10.0 ** (BACKGROUND_RMS_DBFS / 20.0)
        peak = float(np.max(np.abs(x)))
        limit = 10.0 ** (PEAK_LIMIT_DBFS / 20.0)
        if peak > limit:  # brown noise can wander far from its RMS
            x *= limit / peak
        write_wav(folder / name, np.round(x * 32768.0).astype("<i2"), sample_rate)
    (folder / "README.md").write_text(
        "Generated noise (ghost-keras synthetic dataset): white, pink (1/f), brown (1/f^2, "
        "flat below 20 Hz), and mains hum at 50 and 60 Hz with harmonics over a faint pink "
        f"floor. About {BACKGROUND_RMS_DBFS:.0f} dBFS RMS, peaks under {PEAK_LIMIT_DBFS:.0f} dBFS.\n"
    )


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.is_dir() and not any(out.iterdir()):
        try:
            out.rmdir()  # rename() onto an empty folder works on Linux, but not everywhere
        except OSError:
            pass  # something appeared in it meanwhile: handled below
    try:
        # Atomic, and refuses a non-empty destination: a dataset that another process
        # finished meanwhile is never swapped out under its readers.
        os.rename(tmp, out)
        return
    except OSError as exc:
        if not out.exists():
            raise
        if not overwrite:
            raise FileExistsError(f"{out} appeared while generating; left as it is") from exc
    # overwrite=True (the caller checked it is one of our datasets): swap it out, then delete.
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, trash / "old")
    os.rename(tmp, out)
    shutil.rmtree(trash, ignore_errors=True)
