"""The microfrontend's constant tables (window, mel filterbank), as training computes them.

The microfrontend library fills its tables at start-up with floating-point code. TensorFlow's
copy (the ``audio_microfrontend`` op we train on) does it in double precision (``cos``,
``log1p``, ``floor``); TFLM's copy, the one a device links, does it in single precision
(``cosf``, ``log1pf``, ``floorf``). The two disagree on a few window and filterbank weights, so
the device's features differed from the training features on 0.2% of values (up to 177 units at
low energy). The firmware therefore does not use the tables it computes: it installs these
constants, computed here exactly as TensorFlow's op computes them, after
``FrontendPopulateState`` (see ``frontend_microfrontend.cc``). The device then computes the
training features bit for bit, whatever its libm, and a test proves it on real speech.

Each function follows ``window_util.c`` / ``filterbank_util.c`` of TensorFlow line by line:
``np.float32`` where the C code stores a ``float``, Python floats where it computes in double.
"""

from __future__ import annotations

import math

import numpy as np

from ghost_keras.features.config import MICROFRONTEND, FrontendConfig

WINDOW_BITS = 12  # kFrontendWindowBits
FILTERBANK_BITS = 12  # kFilterbankBits
_INDEX_ALIGNMENT = 2  # kFilterbankIndexAlignment (4 bytes) / sizeof(int16_t)
_CHANNEL_BLOCK = 4  # kFilterbankChannelBlockSize

f32 = np.float32


def window_coefficients(config: FrontendConfig) -> np.ndarray:
    """The Hann window in q12, as ``WindowPopulateState`` computes it (int16, window_samples)."""
    size = config.window_ms * config.sample_rate // 1000
    arg = f32(math.pi * 2.0 / float(f32(size)))
    out = np.empty(size, np.int16)
    for i in range(size):
        value = f32(0.5 - 0.5 * math.cos(float(arg) * (i + 0.5)))
        out[i] = math.floor(float(value * f32(1 << WINDOW_BITS)) + 0.5)
    return out


def _freq_to_mel(freq: np.float32) -> np.float32:
    return f32(1127.0 * math.log1p(float(freq) / 700.0))


def filterbank_tables(config: FrontendConfig, spectrum_size: int) -> dict[str, np.ndarray]:
    """``FilterbankPopulateState``'s tables for an FFT with ``spectrum_size`` bins.

    Returns ``start_index`` and ``end_index`` (1-element int32), ``channel_frequency_starts``,
    ``channel_weight_starts``, ``channel_widths`` (int16, num_channels + 1) and ``weights``,
    ``unweights`` (int16, q12).
    """
    n = config.num_channels + 1
    lower, upper = f32(config.lower_band_hz), f32(config.upper_band_hz)
    mel_low, mel_hi = _freq_to_mel(lower), _freq_to_mel(upper)
    spacing = f32(f32(mel_hi - mel_low) / f32(n))
    centers = [f32(mel_low + f32(spacing * f32(i + 1))) for i in range(n)]
    hz_per_sbin = f32(0.5 * config.sample_rate / float(f32(spectrum_size) - f32(1)))
    start_index = int(1.5 + float(f32(lower / hz_per_sbin)))

    freq_starts, weight_starts, widths = [0] * n, [0] * n, [0] * n
    actual_starts, actual_widths = [0] * n, [0] * n
    chan_start, weight_index, needs_zeros = start_index, 0, False
    for chan in range(n):
        freq_index = chan_start
        while _freq_to_mel(f32(freq_index) * hz_per_sbin) <= centers[chan]:
            freq_index += 1
        width = freq_index - chan_start
        actual_starts[chan], actual_widths[chan] = chan_start, width
        if width == 0:
            # An empty channel reads a block of zero weights placed at the start.
            freq_starts[chan], weight_starts[chan], widths[chan] = 0, 0, _CHANNEL_BLOCK
            if not needs_zeros:
                needs_zeros = True
                for j in range(chan):
                    weight_starts[j] += _CHANNEL_BLOCK
                weight_index += _CHANNEL_BLOCK
        else:
            aligned_start = (chan_start // _INDEX_ALIGNMENT) * _INDEX_ALIGNMENT
            aligned_width = chan_start - aligned_start + width
            padded = ((aligned_width - 1) // _CHANNEL_BLOCK + 1) * _CHANNEL_BLOCK
            freq_starts[chan], weight_starts[chan], widths[chan] = aligned_start, weight_index, padded
            weight_index += padded
        chan_start = freq_index

    weights = np.zeros(weight_index, np.int16)
    unweights = np.zeros(weight_index, np.int16)
    end_index = 0
    for chan in range(n):
        frequency = actual_starts[chan]
        offset = frequency - freq_starts[chan]
        denom = mel_low if chan == 0 else centers[chan - 1]
        for j in range(actual_widths[chan]):
            weight = f32(f32(centers[chan] - _freq_to_mel(f32(frequency) * hz_per_sbin))
                         / f32(centers[chan] - denom))
            k = weight_starts[chan] + offset + j
            weights[k] = math.floor(float(weight * f32(1 << FILTERBANK_BITS)) + 0.5)
            unweights[k] = math.floor((1.0 - float(weight)) * (1 << FILTERBANK_BITS) + 0.5)
            frequency += 1
        end_index = max(end_index, frequency)
    if end_index >= spectrum_size:
        raise ValueError(f"the filterbank reaches bin {end_index} of a {spectrum_size}-bin "
                         "spectrum: lower upper_band_hz or use a longer window")
    return {
        "start_index": np.array([start_index], np.int32),
        "end_index": np.array([end_index], np.int32),
        "channel_frequency_starts": np.array(freq_starts, np.int16),
        "channel_weight_starts": np.array(weight_starts, np.int16),
        "channel_widths": np.array(widths, np.int16),
        "weights": weights,
        "unweights": unweights,
    }


def fft_size(config: FrontendConfig) -> int:
    """The microfrontend's FFT length: the window rounded up to a power of two."""
    size = config.window_ms * config.sample_rate // 1000
    return 1 << max(0, (size - 1).bit_length())


def microfrontend_tables(config: FrontendConfig) -> dict[str, np.ndarray]:
    """Every table the firmware installs: ``window_coefficients`` plus
    :func:`filterbank_tables` (``filterbank_`` prefixed names)."""
    if config.kind != MICROFRONTEND:
        raise ValueError(f"microfrontend_tables() needs kind='microfrontend', not {config.kind!r}")
    tables = {"window_coefficients": window_coefficients(config)}
    spectrum_size = fft_size(config) // 2 + 1
    for name, value in filterbank_tables(config, spectrum_size).items():
        tables[f"filterbank_{name}"] = value
    return tables
