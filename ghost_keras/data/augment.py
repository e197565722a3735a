"""Training-time augmentation and silence/context synthesis, in numpy with a seeded Generator.

The recipe is Hello Edge's (= TensorFlow speech_commands'): a random time shift of up to
+-100 ms with zero padding, and background noise mixed into 80% of training clips at a volume
drawn from [0, 0.1]; silence examples are background noise at a volume drawn from [0, 1].
Added here: a chosen-SNR mixing mode, an optional random gain, and the *context*: the audio the
device's stateful microfrontend heard before the clip (docs/design.md, "Front ends"), which is the
noise that continues into the clip.

All functions work on float32 audio in [-1, 1] (see :func:`~ghost_keras.data.audio.to_float`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ghost_keras.data.audio import fit_length, to_float
from ghost_keras.features.base import to_int16


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Augmentation parameters (defaults: Hello Edge / TensorFlow speech_commands).

    Attributes:
        time_shift_ms: maximum random shift either way, zero padded.
        background_frequency: share of training clips that get noise mixed in.
        background_volume: noise volume drawn uniformly from [0, this] (volume mode).
        snr_db: if set, (low, high) dB: noise is mixed at an SNR drawn uniformly from this range
            instead of at a drawn volume.
        gain_db: if set, (low, high) dB: the clip's gain is drawn uniformly from this range.
        silence_volume: generated silence is noise at a volume drawn from [0, this].
        context_volume: noise volume range [0, this] of the context before clips that get no
            noise mixed in (all evaluation clips); a mixed clip's context is its own noise.
    """

    time_shift_ms: float = 100.0
    background_frequency: float = 0.8
    background_volume: float = 0.1
    snr_db: tuple[float, float] | None = None
    gain_db: tuple[float, float] | None = None
    silence_volume: float = 1.0
    context_volume: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (used in cache keys)."""
        return dataclasses.asdict(self)


def time_shift(audio: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shifts ``audio`` by a random whole number of samples in [-max_shift, max_shift),
    padding with zeros (TensorFlow's ``randint(-time_shift, time_shift)``).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> time_shift(np.ones(8, np.float32), 2, rng).shape
        (8,)
    """
    if max_shift <= 0:
        return audio
    shift = int(rng.integers(-max_shift, max_shift))
    out = np.zeros_like(audio)
    if shift > 0:
        out[shift:] = audio[:-shift]
    elif shift < 0:
        out[:shift] = audio[-shift:]
    else:
        out[:] = audio
    return out


def random_gain(
    audio: np.ndarray, gain_db: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """Scales ``audio`` by a gain drawn uniformly in dB from ``gain_db``.

    Example:
        >>> random_gain(np.ones(2, np.float32), (6.0, 6.0), np.random.default_rng(0))
        array([1.9952623, 1.9952623], dtype=float32)
    """
    db = rng.uniform(gain_db[0], gain_db[1])
    return (audio * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def snr_volume(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """The factor for ``noise`` that makes ``signal + factor * noise`` have the given SNR.

    Powers are means over the whole arrays; a silent signal or noise gives 0 (nothing to mix).

    Example:
        >>> snr_volume(np.ones(4), np.ones(4), 20.0)
        0.1
    """
    p_signal = float(np.mean(np.square(signal, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_signal == 0.0 or p_noise == 0.0:
        return 0.0
    return float(np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0))))


class NoisePool:
    """Background noise recordings to cut segments from (float32 in [-1, 1]).

    Args:
        recordings: int16 arrays (``_background_noise_`` files or ``_silence_`` clips). Short
            recordings (1-s silence clips) are joined into one, so segments longer than a clip
            (context + clip) can be cut from them.
        seed: seeds the stand-in white noise used when ``recordings`` is empty.
        sample_rate: sample rate, for the stand-in's length.

    Example:
        >>> pool = NoisePool([np.zeros(16000, np.int16)] * 3)
        >>> pool.segment(40000, np.random.default_rng(0)).shape
        (40000,)
    """

    #: Recordings shorter than this many seconds are concatenated into one.
    SHORT_SECONDS = 5.0
    #: Standard deviation of the stand-in white noise (about -20 dBFS) when there is no noise.
    SYNTHETIC_STD = 0.1

    def __init__(
        self, recordings: Sequence[np.ndarray], seed: int = 0, sample_rate: int = 16000
    ) -> None:
        short_len = int(self.SHORT_SECONDS * sample_rate)
        long = [to_float(r) for r in recordings if r.shape[0] >= short_len]
        short = [r for r in recordings if r.shape[0] < short_len]
        if short:
            long.append(to_float(np.concatenate(short)))
        self.synthetic = not long
        if self.synthetic:
            # No noise folder and no silence clips: silence examples and contexts become low
            # white noise rather than digital zeros, which no microphone produces.
            rng = np.random.default_rng(seed)
            long = [(rng.standard_normal(60 * sample_rate) * self.SYNTHETIC_STD).astype(np.float32)]
        self.recordings = long

    def segment(self, length: int, rng: np.random.Generator) -> np.ndarray:
        """A random stretch of ``length`` samples from a random recording (tiled if too short)."""
        rec = self.recordings[int(rng.integers(len(self.recordings)))]
        if rec.shape[0] < length:
            rec = np.tile(rec, -(-length // rec.shape[0]))
        start = int(rng.integers(0, rec.shape[0] - length + 1))
        return rec[start : start + length]


def render_example(
    audio: np.ndarray | None,
    *,
    clip_samples: int,
    context_samples: int,
    noise: NoisePool,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
    training: bool = False,
    sample_rate: int = 16000,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The clip the model sees and the audio its front end heard before it.

    Args:
        audio: int16 clip, or None for a generated silence example.
        clip_samples: clip length; ``audio`` is zero-padded/trimmed to it.
        context_samples: length of the preceding context; 0 for none.
        noise: where noise segments come from.
        rng: the only source of randomness (same state -> same output).
        config: augmentation parameters.
        training: apply time shift, gain and noise mixing (else the clip is unchanged, only the
            context is drawn).
        sample_rate: converts ``config.time_shift_ms`` to samples.

    Returns:
        ``(clip, context)``: int16 arrays of ``clip_samples`` and ``context_samples`` samples
        (``context`` is None when ``context_samples`` is 0).

    Example:
        >>> pool = NoisePool([])
        >>> clip, ctx = render_example(None, clip_samples=16000, context_samples=8000,
        ...                            noise=pool, rng=np.random.default_rng(0))
        >>> clip.shape, ctx.shape
        ((16000,), (8000,))
    """
    silence = audio is None
    if silence:
        fg = np.zeros(clip_samples, np.float32)
    else:
        fg = to_float(fit_length(audio, clip_samples))
    # One segment covers context and clip, so a mixed clip's noise continues from its context.
    seg = noise.segment(context_samples + clip_samples, rng)
    ctx_noise, clip_noise = seg[:context_samples], seg[context_samples:]
    volume = 0.0
    if silence:
        volume = rng.uniform(0.0, config.silence_volume)
    elif training:
        fg = time_shift(fg, int(round(config.time_shift_ms * sample_rate / 1000.0)), rng)
        if config.gain_db is not None:
            fg = random_gain(fg, config.gain_db, rng)
        if rng.uniform() < config.background_frequency:
            if config.snr_db is not None:
                volume = snr_volume(fg, clip_noise, rng.uniform(*config.snr_db))
            else:
                volume = rng.uniform(0.0, config.background_volume)
    # A word plus noise may peak above 1: it saturates, as the device's ADC would.
    clip = to_int16(fg + np.float32(volume) * clip_noise, saturate=True)
    if context_samples == 0:
        return clip, None
    context_level = volume if volume > 0.0 else rng.uniform(0.0, config.context_volume)
    return clip, to_int16(np.float32(context_level) * ctx_noise, "context", saturate=True)
