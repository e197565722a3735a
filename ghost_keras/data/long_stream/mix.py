"""The audio of a stream: the continuous noise bed (:func:`noise_bed`), the speech part of a
clip (:func:`speech_bounds`) and one word placed at its level (:func:`place_word`).

Nothing here draws what goes where (that is :mod:`~ghost_keras.data.long_stream.build`); the
noise bed's segments are the only random draws, from the stream's Generator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ghost_keras.data.audio import to_float

__all__ = ["noise_bed", "place_word", "speech_bounds"]

log = logging.getLogger(__name__)

_FRAME_S = 0.010  # speech_bounds analysis frame
_FADE_S = 0.010  # fade at the edges of a placed clip box
_NOISE_FADE_S = 0.100  # crossfade between noise segments
_NOISE_SEGMENT_S = (2.0, 8.0)
_MIN_NOISE_RMS = 2e-4  # quieter recordings are quantisation noise, not background noise
_PEAK_LIMIT = 0.95


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



def _noise_recordings(recordings: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Float, unit-RMS recordings; near-silent ones dropped."""
    out = []
    for r in recordings:
        f = to_float(np.asarray(r, np.int16)).astype(np.float64)
        rms = float(np.sqrt(np.mean(f**2))) if f.size else 0.0
        if rms >= _MIN_NOISE_RMS:
            out.append((f / rms).astype(np.float32))
    return out


def _segments(
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


def noise_bed(
    recordings: Sequence[np.ndarray], total: int, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """``total`` samples of unit-RMS noise cut from the int16 ``recordings``; white noise (and a
    warning) when none of them is loud enough to be background noise."""
    usable = _noise_recordings(recordings)
    if not usable:
        log.warning("no background noise in the split: using white noise as the noise bed")
        usable = [rng.standard_normal(10 * sample_rate).astype(np.float32)]
    return _segments(usable, total, rng, sample_rate)


def place_word(
    mix: np.ndarray,
    audio: np.ndarray,
    pos: int,
    gain_db: float,
    speech_dbfs: float,
    sample_rate: int,
    trim_db: float,
) -> tuple[int, int, float]:
    """Adds the int16 clip ``audio`` to ``mix`` at sample ``pos``, its speech part at
    ``speech_dbfs + gain_db`` RMS (less if the clip would pass 0.95 of full scale), with 10 ms
    raised-cosine fades at the edges of the clip box.

    Returns:
        ``(s0, s1, gain)``: the speech part within the clip (:func:`speech_bounds`) and the
        linear gain applied to the clip's float samples.
    """
    length = len(audio)
    s0, s1 = speech_bounds(audio, sample_rate, trim_db)
    x = to_float(audio)
    speech_rms = float(np.sqrt(np.mean(x[s0:s1].astype(np.float64) ** 2)))
    gain = 10.0 ** (speech_dbfs / 20.0) * 10.0 ** (gain_db / 20.0) / max(speech_rms, 1e-6)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak * gain > _PEAK_LIMIT:
        gain = _PEAK_LIMIT / peak
    placed = x * np.float32(gain)
    fade = int(_FADE_S * sample_rate)
    if length > 2 * fade:
        fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
        placed[:fade] *= fade_in
        placed[-fade:] *= fade_in[::-1]
    mix[pos : pos + length] += placed
    return s0, s1, float(gain)
