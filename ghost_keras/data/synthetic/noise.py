"""Generated noise: white, pink, brown and mains hum, as a pure function of a random stream.

It is both what every clip is mixed with and what ``_background_noise_`` holds
(:data:`BACKGROUND_NOISE`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BACKGROUND_NOISE", "generate_noise"]

#: Noise files written to ``_background_noise_`` (name, kind, seconds).
BACKGROUND_NOISE: tuple[tuple[str, str, float], ...] = (
    ("white_noise.wav", "white", 60.0),
    ("pink_noise.wav", "pink", 60.0),
    ("brown_noise.wav", "brown", 60.0),
    ("mains_hum_50hz.wav", "hum50", 10.0),
    ("mains_hum_60hz.wav", "hum60", 10.0),
)


def _shaped_noise(n: int, rng: np.random.Generator, sample_rate: int, exponent: float) -> np.ndarray:
    # Shape white noise in the frequency domain: amplitude ~ f^-exponent/2 (pink 1, brown 2).
    # Below 20 Hz the shape is held flat so brown noise does not become a slow DC wander.
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum *= np.maximum(freqs, 20.0) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def _hum(n: int, rng: np.random.Generator, sample_rate: int, mains: float) -> np.ndarray:
    # Mains hum/buzz: the fundamental and its harmonics up to ~1 kHz with random (odd-heavy)
    # amplitudes and phases, a slight frequency offset and slow amplitude wobble, over a faint
    # pink floor so it is not a set of pure tones.
    t = np.arange(n) / sample_rate
    f0 = mains * (1.0 + rng.uniform(-0.002, 0.002))
    out = np.zeros(n)
    for k in range(1, int(1000 // mains) + 1):
        amp = (1.0 if k % 2 else 0.4) / k ** rng.uniform(0.8, 1.5)
        out += amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
    out *= wobble
    out /= np.sqrt(np.mean(out**2))
    floor = _shaped_noise(n, rng, sample_rate, 1.0)
    return out + 0.03 * floor / np.sqrt(np.mean(floor**2))


def generate_noise(kind: str, n: int, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """Generate ``n`` samples of noise with unit RMS.

    Args:
        kind: ``"white"``, ``"pink"`` (1/f power), ``"brown"`` (1/f^2 power), ``"hum50"`` or
            ``"hum60"`` (mains hum with harmonics).
        n: Number of samples.
        rng: Source of randomness (the result is a pure function of its state).
        sample_rate: Sample rate in Hz.

    Returns:
        float64 array of length ``n``, RMS 1.

    Example:
        >>> x = generate_noise("pink", 16000, np.random.default_rng(0))
        >>> round(float(np.sqrt(np.mean(x ** 2))), 6)
        1.0
    """
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped_noise(n, rng, sample_rate, 1.0)
    elif kind == "brown":
        x = _shaped_noise(n, rng, sample_rate, 2.0)
    elif kind in ("hum50", "hum60"):
        x = _hum(n, rng, sample_rate, float(kind[3:]))
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return x / np.sqrt(np.mean(x**2))
