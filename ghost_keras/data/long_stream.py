"""Long test streams: keywords, unknown words and silence at random gaps in background noise.

The streaming counterpart of a clip test set (docs/design.md, "Always listening"; TensorFlow
speech_commands' ``generate_streaming_test_wav.py``): one long WAV the device front end and
model run over continuously, and its ground truth, a CSV ``label,start,end`` (seconds).

How a stream is built (:func:`make_long_stream`), everything drawn from one seeded Generator:

- Clips come only from one split of the index (``split="test"`` by default), so no speaker of
  the training data is in the stream. Each spoken item is a keyword (``keyword_fraction``), an
  unknown word (``unknown_fraction``) or a silence item (the rest). Keywords are drawn uniformly
  over the keyword labels, clips from a shuffled deck per label: a clip repeats only once its
  label's clips are used up, and then with other noise and gain.
- Items are laid one after the other after ``lead_s`` of noise, separated by gaps drawn
  uniformly from ``gap_s`` (from the end of one clip box to the start of the next), until the
  next item would not fit in ``duration_s``.
- Level: every word's *speech part* (see below) is normalised to ``speech_dbfs`` RMS, then given
  a random gain drawn uniformly in dB from ``gain_db`` (lowered if the clip would exceed 0.95 of
  full scale). The whole clip box is placed, with 10 ms raised-cosine fades at its edges.
- Noise: a continuous bed at ``speech_dbfs - snr_db`` RMS, so a word at 0 dB gain has exactly
  ``snr_db`` SNR (its own SNR is ``snr_db + gain``). The bed is cut from the split's
  ``_silence_`` clips and the ``_background_noise_`` recordings (or ``noise``): segments of
  2-8 s (or a whole shorter recording), each normalised to the same RMS and crossfaded into the
  next over 100 ms with equal-power (sine/cosine) fades. Recordings quieter than 2e-4 RMS
  (digital near-silence) are skipped. Without any noise a white-noise stand-in is used and a
  warning logged.

Truth: a keyword's or unknown word's ``start``/``end`` is the speech part of its clip, not the
1-s clip box: :func:`speech_bounds` takes 10 ms frames, smooths their power over 3 frames and
keeps the span from the first to the last frame within ``trim_db`` (30 dB) of the loudest frame
and above the clip's own noise floor (10th percentile of frame power) by a quarter of the
floor-to-peak range, whichever threshold is higher. A silence item is the 1-s span it occupies.

Command line (see ``--help``)::

    python -m ghost_keras.data.long_stream DATA_DIR --minutes 10 --out long.wav \\
        --truth truth.csv --seed 0 [--split test] [--speaker-split 0.8 0.1 0.1] [--run RUN]

Example:
    >>> from ghost_keras.data import scan
    >>> index = scan("speech_commands_v2_test12_dev", split="none").with_speaker_split(
    ...     (0.8, 0.1, 0.1), seed=0)                                      # doctest: +SKIP
    >>> audio, truth = make_long_stream(index, 600, seed=0, snr_db=10)  # doctest: +SKIP
    >>> write_stream("long.wav", "truth.csv", audio, truth)             # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ghost_keras.data.audio import read_clip, to_float, write_wav
from ghost_keras.data.speech_commands import (
    KEYWORDS_12,
    SILENCE,
    SPLITS,
    UNKNOWN,
    Clip,
    DatasetError,
    SpeechCommandsIndex,
    scan,
)
from ghost_keras.fileio import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

#: The ground-truth CSV's header, exactly.
TRUTH_HEADER = ("label", "start", "end")

_FRAME_S = 0.010  # speech_bounds analysis frame
_FADE_S = 0.010  # fade at the edges of a placed clip box
_NOISE_FADE_S = 0.100  # crossfade between noise segments
_NOISE_SEGMENT_S = (2.0, 8.0)
_MIN_NOISE_RMS = 2e-4  # quieter recordings are quantisation noise, not background noise
_PEAK_LIMIT = 0.95


class TruthFileError(ValueError):
    """A ground-truth CSV that cannot be read; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class TruthItem:
    """One ground-truth item of a stream.

    Attributes:
        label: a keyword, ``_unknown_`` or ``_silence_``.
        start: seconds from the start of the stream (the speech part's first sample).
        end: seconds (one past the speech part's last sample).
        source: the clip file (generator only; not in the CSV).
        word: what was said (the unknown word for ``_unknown_``; generator only).
        offset: first sample of the placed clip box in the stream (generator only).
        length: samples of the placed clip box (generator only).
        gain: linear factor applied to the clip's float samples (generator only).
    """

    label: str
    start: float
    end: float
    source: str | None = None
    word: str | None = None
    offset: int | None = None
    length: int | None = None
    gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------- speech part


def speech_bounds(
    audio: np.ndarray, sample_rate: int = 16000, trim_db: float = 30.0
) -> tuple[int, int]:
    """The speech part of a clip by energy: ``(first_sample, end_sample)`` (end exclusive).

    10-ms frames, power smoothed over 3 frames; active frames are those at or above
    ``max(peak - trim_db, floor + (peak - floor) / 4)`` dB, with ``floor`` the 10th percentile
    of the frame powers; the span runs from the first to the last active frame.

    Example:
        >>> x = np.zeros(16000, np.int16); x[4000:8000] = 8000
        >>> speech_bounds(x)
        (3840, 8160)
    """
    x = to_float(np.asarray(audio)) if np.asarray(audio).dtype == np.int16 else np.asarray(audio)
    x = x.astype(np.float64)
    hop = max(1, int(round(_FRAME_S * sample_rate)))
    n = len(x) // hop
    if n == 0:
        return 0, len(x)
    power = np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)
    smooth = np.convolve(power, np.ones(3) / 3.0, mode="same")
    db = 10.0 * np.log10(smooth + 1e-12)
    peak, floor = float(db.max()), float(np.percentile(db, 10))
    threshold = max(peak - trim_db, floor + 0.25 * (peak - floor))
    active = np.flatnonzero(db >= threshold)
    return int(active[0] * hop), int(min(len(x), (active[-1] + 1) * hop))


# ---------------------------------------------------------------------------------- noise bed


def _noise_recordings(recordings: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Float, unit-RMS recordings; near-silent ones dropped."""
    out = []
    for r in recordings:
        f = to_float(np.asarray(r, np.int16)).astype(np.float64)
        rms = float(np.sqrt(np.mean(f**2))) if f.size else 0.0
        if rms >= _MIN_NOISE_RMS:
            out.append((f / rms).astype(np.float32))
    return out


def _noise_bed(
    recordings: list[np.ndarray], total: int, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """Unit-RMS continuous noise: segments of random recordings, crossfaded (equal power)."""
    bed = np.zeros(total, np.float32)
    fade = int(_NOISE_FADE_S * sample_rate)
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    pos = 0  # where the next segment's full-level part starts
    first = True
    while pos < total:
        rec = recordings[int(rng.integers(len(recordings)))]
        want = int(rng.uniform(*_NOISE_SEGMENT_S) * sample_rate)
        length = min(want, len(rec))
        start = int(rng.integers(0, len(rec) - length + 1))
        seg = rec[start : start + length].astype(np.float64)
        seg = (seg / max(float(np.sqrt(np.mean(seg**2))), 1e-12)).astype(np.float32)
        if first or length <= 2 * fade:
            begin = pos
        else:
            # Overlap the previous segment's last `fade` samples; fade it out, this one in.
            begin = pos - fade
            bed[begin:pos] *= ramp[::-1]
            seg = seg.copy()
            seg[:fade] *= ramp
        end = min(total, begin + length)
        bed[begin:end] += seg[: end - begin]
        pos = end
        first = False
    return bed


# ---------------------------------------------------------------------------------- generator


def _as_range(value: float | Sequence[float], name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        lo = hi = float(value)
    else:
        vals = [float(v) for v in value]
        if len(vals) != 2:
            raise ValueError(f"{name}={value!r}: give one number or (low, high)")
        lo, hi = vals
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        raise ValueError(f"{name}={value!r}: need finite low <= high")
    return lo, hi


def _select_clips(
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


def make_long_stream(
    index_or_clips: SpeechCommandsIndex | Sequence[Clip],
    duration_s: float,
    seed: int = 0,
    *,
    snr_db: float | None = 10.0,
    gap_s: tuple[float, float] = (1.0, 3.0),
    keyword_fraction: float = 0.6,
    unknown_fraction: float = 0.25,
    gain_db: float | tuple[float, float] = (-6.0, 6.0),
    speech_dbfs: float = -26.0,
    lead_s: float = 2.0,
    split: str | None = "test",
    noise: Sequence[np.ndarray] | None = None,
    sample_rate: int = 16000,
    trim_db: float = 30.0,
) -> tuple[np.ndarray, list[TruthItem]]:
    """Builds a long test stream and its ground truth (see the module docstring for how).

    Args:
        index_or_clips: a :class:`SpeechCommandsIndex` (its clips, keywords and
            ``_background_noise_``) or a list of :class:`Clip`.
        duration_s: stream length in seconds (exact).
        seed: the only source of randomness: same arguments and seed, same stream.
        snr_db: SNR of a word at 0 dB gain against the noise bed; None for no noise at all.
        gap_s: (low, high) seconds between the end of one clip box and the next item.
        keyword_fraction: share of items that are keywords.
        unknown_fraction: share of items that are unknown words; the rest are silence items.
        gain_db: per-word gain in dB, one number or (low, high).
        speech_dbfs: RMS level of a word's speech part at 0 dB gain, dB full scale.
        lead_s: noise before the first item (the front end settles).
        split: take clips of this split only (default ``"test"``); None: every clip given.
        noise: int16 noise recordings to use instead of the split's ``_silence_`` clips and
            the index's ``_background_noise_``.
        sample_rate: of the clips and the stream.
        trim_db: see :func:`speech_bounds`.

    Returns:
        ``(audio, truth)``: int16 samples (``round(duration_s * sample_rate)``) and the items
        in stream order, with generator metadata (source clip, offset, gain).

    Raises:
        DatasetError: no clips in the split, or no clips for a kind of item that is asked for.
        ValueError: bad fractions, ranges or duration.
    """
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise ValueError(f"duration_s={duration_s!r} must be > 0")
    if not (0 <= keyword_fraction <= 1 and 0 <= unknown_fraction <= 1
            and keyword_fraction + unknown_fraction <= 1 + 1e-9):
        raise ValueError(
            f"keyword_fraction={keyword_fraction} and unknown_fraction={unknown_fraction} must "
            "be in [0, 1] and sum to at most 1 (the rest are silence items)"
        )
    gap_lo, gap_hi = _as_range(gap_s, "gap_s")
    if gap_lo < 0:
        raise ValueError(f"gap_s={gap_s!r}: gaps cannot be negative")
    gain_lo, gain_hi = _as_range(gain_db, "gain_db")
    clips, index_noise, keywords = _select_clips(index_or_clips, split, sample_rate)

    by_label: dict[str, list[Clip]] = {}
    for c in clips:
        by_label.setdefault(c.label, []).append(c)
    silence_clips = by_label.pop(SILENCE, [])
    unknown_clips = by_label.pop(UNKNOWN, [])
    keyword_labels = sorted(by_label, key=lambda lab: (
        keywords.index(lab) if keywords and lab in keywords else len(KEYWORDS_12), lab))
    silence_fraction = max(0.0, 1.0 - keyword_fraction - unknown_fraction)
    if keyword_fraction > 0 and not keyword_labels:
        raise DatasetError(f"no keyword clips in the {split or 'given'} split")
    if unknown_fraction > 0 and not unknown_clips:
        raise DatasetError(
            f"no {UNKNOWN} clips in the {split or 'given'} split: pass unknown_fraction=0"
        )

    rng = np.random.default_rng(seed)
    total = int(round(duration_s * sample_rate))

    # Noise bed first (its draws do not depend on the items).
    if snr_db is not None:
        if noise is not None:
            recordings = _noise_recordings(list(noise))
        else:
            recordings = _noise_recordings(
                list(index_noise) + [read_clip(c.path, sample_rate) for c in silence_clips]
            )
        if not recordings:
            log.warning("no background noise in the split: using white noise as the noise bed")
            recordings = [rng.standard_normal(10 * sample_rate).astype(np.float32)]
        noise_rms = 10.0 ** ((speech_dbfs - float(snr_db)) / 20.0)
        mix = _noise_bed(recordings, total, rng, sample_rate) * np.float32(noise_rms)
    else:
        mix = np.zeros(total, np.float32)

    decks: dict[str, list[Clip]] = {}

    def draw(label: str, pool: list[Clip]) -> Clip:
        deck = decks.get(label)
        if not deck:
            deck = [pool[i] for i in rng.permutation(len(pool))]
            decks[label] = deck
        return deck.pop()

    cache: dict[Path, np.ndarray] = {}
    fade = int(_FADE_S * sample_rate)
    fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
    target_rms = 10.0 ** (speech_dbfs / 20.0)
    kinds = ("keyword", "unknown", "silence")
    p = np.array([keyword_fraction, unknown_fraction, silence_fraction], np.float64)
    p = p / p.sum()
    truth: list[TruthItem] = []
    pos = int(round(lead_s * sample_rate))
    while True:
        kind = kinds[int(rng.choice(3, p=p))]
        if kind == "silence":
            length = sample_rate
            if pos + length > total:
                break
            truth.append(TruthItem(SILENCE, pos / sample_rate, (pos + length) / sample_rate,
                                   word=SILENCE, offset=pos, length=length))
        else:
            if kind == "keyword":
                label = keyword_labels[int(rng.integers(len(keyword_labels)))]
                clip = draw(label, by_label[label])
            else:
                clip = draw(UNKNOWN, unknown_clips)
            if clip.path not in cache:
                cache[clip.path] = read_clip(clip.path, sample_rate)
            audio = cache[clip.path]
            length = len(audio)
            gain_draw = rng.uniform(gain_lo, gain_hi)
            if pos + length > total:
                break
            s0, s1 = speech_bounds(audio, sample_rate, trim_db)
            x = to_float(audio)
            speech_rms = float(np.sqrt(np.mean(x[s0:s1].astype(np.float64) ** 2)))
            gain = target_rms * 10.0 ** (gain_draw / 20.0) / max(speech_rms, 1e-6)
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            if peak * gain > _PEAK_LIMIT:
                gain = _PEAK_LIMIT / peak
            placed = x * np.float32(gain)
            if length > 2 * fade:
                placed[:fade] *= fade_in
                placed[-fade:] *= fade_in[::-1]
            mix[pos : pos + length] += placed
            truth.append(TruthItem(clip.label, (pos + s0) / sample_rate, (pos + s1) / sample_rate,
                                   source=str(clip.path), word=clip.word, offset=pos,
                                   length=length, gain=float(gain)))
        pos += length + int(round(rng.uniform(gap_lo, gap_hi) * sample_rate))
        if pos >= total:
            break
    out = np.clip(np.round(mix.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    return out, truth


# ---------------------------------------------------------------------------------- files


def truth_csv(truth: Sequence[TruthItem]) -> str:
    """The CSV text of ``truth``: header ``label,start,end``, seconds with 6 decimals
    (sample-exact at 16 kHz)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRUTH_HEADER)
    for item in truth:
        writer.writerow([item.label, f"{item.start:.6f}", f"{item.end:.6f}"])
    return buffer.getvalue()


def write_stream(
    wav_path: str | os.PathLike,
    csv_path: str | os.PathLike,
    audio: np.ndarray,
    truth: Sequence[TruthItem],
    sample_rate: int = 16000,
    manifest_path: str | os.PathLike | None = None,
    manifest: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Writes the stream WAV (16-bit PCM) and its truth CSV, each atomically.

    Args:
        manifest_path: optional JSON with ``manifest`` (e.g. the generation parameters) and
            every item with its generator metadata (source clip, offset, gain).

    Returns:
        ``(wav_path, csv_path)``.
    """
    wav = write_wav(wav_path, np.asarray(audio), sample_rate)
    csv_out = atomic_write_text(csv_path, truth_csv(truth))
    if manifest_path is not None:
        atomic_write_json(manifest_path, {
            **(manifest or {}), "sample_rate": sample_rate, "samples": int(len(audio)),
            "wav": str(wav), "truth": str(csv_out), "items": [t.to_dict() for t in truth],
        })
    return wav, csv_out


def read_truth(
    path: str | os.PathLike, labels: Sequence[str] | None = None
) -> list[TruthItem]:
    """Reads a ground-truth CSV (header ``label,start,end``, times in seconds).

    Args:
        path: the CSV file.
        labels: if given, every label must be one of them (e.g. the model's labels).

    Returns:
        The items in file order (blank lines skipped).

    Raises:
        FileNotFoundError: no such file.
        TruthFileError: missing/other header, wrong number of fields, a time that is not a
            finite number >= 0, ``end < start``, an empty or unknown label; the message names
            the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such truth file (make one with "
                                "`python -m ghost_keras.data.long_stream`)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TruthFileError(f"{path}: not a UTF-8 text file ({e}); expected a CSV with the "
                             "header 'label,start,end'") from e
    rows = list(csv.reader(io.StringIO(text)))
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    want = ",".join(TRUTH_HEADER)
    if not numbered or [c.strip().lower() for c in numbered[0][1]] != list(TRUTH_HEADER):
        got = ",".join(numbered[0][1]) if numbered else "an empty file"
        raise TruthFileError(
            f"{path}: missing header: the first line must be '{want}' (label, start and end in "
            f"seconds), got {got!r}"
        )
    items = []
    for line, row in numbered[1:]:
        where = f"{path}, line {line}"
        if len(row) != 3:
            raise TruthFileError(f"{where}: expected 3 fields ({want}), got {len(row)}: {row}")
        label, start_s, end_s = (cell.strip() for cell in row)
        if not label:
            raise TruthFileError(f"{where}: empty label")
        if labels is not None and label not in labels:
            raise TruthFileError(
                f"{where}: unknown label {label!r}; the labels are {list(labels)}"
            )
        times = []
        for name, value in (("start", start_s), ("end", end_s)):
            try:
                t = float(value)
            except ValueError:
                raise TruthFileError(
                    f"{where}: {name}={value!r} is not a number (seconds)") from None
            if not math.isfinite(t) or t < 0:
                raise TruthFileError(f"{where}: {name}={value!r} must be a finite number >= 0")
            times.append(t)
        if times[1] < times[0]:
            raise TruthFileError(f"{where}: end {times[1]} is before start {times[0]}")
        items.append(TruthItem(label, times[0], times[1]))
    return items


# ---------------------------------------------------------------------------------- CLI


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ghost_keras.data.long_stream",
        description="Build a long test WAV of keywords, unknown words and silence in background "
                    "noise, and its ground-truth CSV (label,start,end in seconds).")
    p.add_argument("data_dir", help="Speech Commands folder (full or prepared 12-label layout)")
    p.add_argument("--minutes", type=float, required=True, help="stream length in minutes")
    p.add_argument("--out", required=True, help="output WAV")
    p.add_argument("--truth", required=True, help="output ground-truth CSV")
    p.add_argument("--seed", type=int, default=0, help="generation seed")
    p.add_argument("--split", default="test", choices=[*SPLITS, "none"],
                   help="take clips of this split (default test; none: every clip, only for "
                        "data no model was trained on)")
    p.add_argument("--speaker-split", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                   help="split by speaker as `ghost-kws train --split-data` did")
    p.add_argument("--split-seed", type=int, default=0,
                   help="the training seed, for --speaker-split (default 0)")
    p.add_argument("--run", help="training run folder: take keywords and split from its config")
    p.add_argument("--keywords", nargs="+", default=list(KEYWORDS_12))
    p.add_argument("--snr-db", type=float, default=10.0,
                   help="SNR of a word at 0 dB gain (default 10)")
    p.add_argument("--no-noise", action="store_true", help="no background noise")
    p.add_argument("--gap", type=float, nargs=2, default=[1.0, 3.0], metavar=("LO", "HI"),
                   help="seconds between items (default 1 3)")
    p.add_argument("--gain-db", type=float, nargs=2, default=[-6.0, 6.0], metavar=("LO", "HI"))
    p.add_argument("--keyword-fraction", type=float, default=0.6)
    p.add_argument("--unknown-fraction", type=float, default=0.25)
    p.add_argument("--manifest", help="also write a JSON with parameters and every item's source")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.run and args.split != "test":
            raise ValueError(f"--run with --split {args.split} would take clips of the run's "
                             "training or validation speakers: keep --split test with --run")
        index = stream_index(args.data_dir, keywords=args.keywords,
                             speaker_split=args.speaker_split, split_seed=args.split_seed,
                             run_dir=args.run)
        split = None if args.split == "none" else args.split
        params = {
            "data_dir": str(args.data_dir), "seed": args.seed, "split": split,
            "speaker_split": args.speaker_split, "split_seed": args.split_seed, "run": args.run,
            "duration_s": args.minutes * 60.0, "snr_db": None if args.no_noise else args.snr_db,
            "gap_s": args.gap, "gain_db": args.gain_db,
            "keyword_fraction": args.keyword_fraction, "unknown_fraction": args.unknown_fraction,
        }
        audio, truth = make_long_stream(
            index, args.minutes * 60.0, args.seed, snr_db=params["snr_db"],
            gap_s=tuple(args.gap), keyword_fraction=args.keyword_fraction,
            unknown_fraction=args.unknown_fraction, gain_db=tuple(args.gain_db), split=split)
        write_stream(args.out, args.truth, audio, truth, manifest_path=args.manifest,
                     manifest=params)
    except (ValueError, FileNotFoundError) as e:
        print(f"long_stream: error: {e}", file=sys.stderr)
        return 2
    counts = {k: sum(t.label == k for t in truth) for k in (SILENCE, UNKNOWN)}
    keywords = len(truth) - counts[SILENCE] - counts[UNKNOWN]
    print(f"{args.out}: {len(audio) / 16000 / 60:.1f} min, {keywords} keywords, "
          f"{counts[UNKNOWN]} unknown words, {counts[SILENCE]} silence items; truth {args.truth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
