"""What goes where in a stream: :func:`make_long_stream` draws the items, their clips, gains and
gaps from one seeded Generator, has :mod:`~ghost_keras.data.long_stream.mix` render them, and
returns the audio with its ground truth (the module docstring of
:mod:`ghost_keras.data.long_stream` says how a stream is built).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ghost_keras.data.audio import read_clip
from ghost_keras.data.long_stream.mix import noise_bed, place_word
from ghost_keras.data.long_stream.source import select_clips
from ghost_keras.data.long_stream.truth import TruthItem
from ghost_keras.data.speech_commands import (
    KEYWORDS_12,
    SILENCE,
    UNKNOWN,
    Clip,
    DatasetError,
    SpeechCommandsIndex,
)

__all__ = ["make_long_stream"]


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
    clips, index_noise, keywords = select_clips(index_or_clips, split, sample_rate)

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
            recordings = list(noise)
        else:
            recordings = list(index_noise) + [read_clip(c.path, sample_rate) for c in silence_clips]
        noise_rms = 10.0 ** ((speech_dbfs - float(snr_db)) / 20.0)
        mix = noise_bed(recordings, total, rng, sample_rate) * np.float32(noise_rms)
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
            s0, s1, gain = place_word(mix, audio, pos, gain_draw, speech_dbfs, sample_rate, trim_db)
            truth.append(TruthItem(clip.label, (pos + s0) / sample_rate, (pos + s1) / sample_rate,
                                   source=str(clip.path), word=clip.word, offset=pos,
                                   length=length, gain=gain))
        pos += length + int(round(rng.uniform(gap_lo, gap_hi) * sample_rate))
        if pos >= total:
            break
    out = np.clip(np.round(mix.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    return out, truth

