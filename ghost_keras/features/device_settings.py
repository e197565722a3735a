"""A :class:`~ghost_keras.features.config.FrontendConfig` as the firmware sees it.

One table, :func:`device_settings`, is the front end's part of the firmware: each row is one
``#define`` of ``model_settings.h``, one key of the firmware manifest's ``"frontend"`` entry and,
for the microfrontend, the member of its C ``struct FrontendConfig`` that
``templates/frontend_microfrontend.cc`` fills from that ``#define``. A new front-end setting is a
``FrontendConfig`` field plus a row here; the firmware exporter has no list of its own (the
template's assignment line aside, which ``tests/test_firmware.py`` checks against ``c_field``).

The manifest keys and kind names (``lower_band_limit_hz``, ``cmsis_mfcc_q15``) are the names the
firmware folder has always used: they are outputs, and a folder of an unchanged model must stay
byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

# No cycle: config.py imports this module only inside FrontendConfig.device_settings().
from ghost_keras.features.config import MICROFRONTEND, FrontendConfig

#: The firmware's front-end kinds; ``KWS_FRONTEND_KIND`` is the index + 1. The device MFCC is
#: CMSIS-DSP's fixed-point ``arm_mfcc_q15`` only.
DEVICE_MICROFRONTEND = "microfrontend"
DEVICE_CMSIS_MFCC = "cmsis_mfcc_q15"
DEVICE_KINDS = (DEVICE_MICROFRONTEND, DEVICE_CMSIS_MFCC)


#: The microfrontend's library parameters: FrontendConfig field (also the manifest key; the
#: macro is ``KWS_MF_<FIELD>``) -> the C ``struct FrontendConfig`` member it sets.
_MICROFRONTEND_C_FIELDS = {
    "smoothing_bits": "noise_reduction.smoothing_bits",
    "even_smoothing": "noise_reduction.even_smoothing",
    "odd_smoothing": "noise_reduction.odd_smoothing",
    "min_signal_remaining": "noise_reduction.min_signal_remaining",
    "enable_pcan": "pcan_gain_control.enable_pcan",
    "pcan_strength": "pcan_gain_control.strength",
    "pcan_offset": "pcan_gain_control.offset",
    "gain_bits": "pcan_gain_control.gain_bits",
    "enable_log": "log_scale.enable_log",
    "scale_shift": "log_scale.scale_shift",
}


@dataclass(frozen=True)
class DeviceSetting:
    """One front-end number of the firmware.

    Attributes:
        key: its key in the manifest's ``"frontend"`` entry.
        macro: its ``#define`` in ``model_settings.h``.
        value: an ``int`` (booleans as 0/1, as C takes them) or a ``float``.
        comment: the header comment.
        c_field: the microfrontend ``struct FrontendConfig`` member set from ``macro``
            (``None``: not a member, or not the microfrontend).
    """

    key: str
    macro: str
    value: int | float
    comment: str = ""
    c_field: str | None = None


def device_kind(config: FrontendConfig) -> str:
    """The firmware's name of ``config``'s kind (one of :data:`DEVICE_KINDS`).

    Raises:
        ValueError: a float MFCC (``q15=False``): the firmware only has ``arm_mfcc_q15``, whose
            q8.7 output a float model input scale would misread.
    """
    if config.kind == MICROFRONTEND:
        return DEVICE_MICROFRONTEND
    if not config.q15:
        raise ValueError("the firmware's MFCC front end is arm_mfcc_q15: train with "
                         "FrontendConfig.cmsis_mfcc(q15=True) to deploy")
    return DEVICE_CMSIS_MFCC


def device_settings(config: FrontendConfig) -> tuple[DeviceSetting, ...]:
    """The front end's ``model_settings.h`` rows, in header order (after ``KWS_FRONTEND_KIND``).

    Example:
        >>> from ghost_keras.features import FrontendConfig
        >>> [s.macro for s in device_settings(FrontendConfig.cmsis_mfcc())][-3:]
        ['KWS_NUM_MFCC', 'KWS_FFT_LENGTH', 'KWS_FEATURE_FRAME_SIZE']
    """
    micro = device_kind(config) == DEVICE_MICROFRONTEND

    def row(key: str, macro: str, value: int | float | bool, comment: str = "",
            c_field: str | None = None) -> DeviceSetting:
        return DeviceSetting(key, macro, int(value) if isinstance(value, bool) else value,
                             comment, c_field if micro else None)

    rows = [
        row("window_ms", "KWS_WINDOW_MS", config.window_ms, c_field="window.size_ms"),
        row("stride_ms", "KWS_STRIDE_MS", config.stride_ms, c_field="window.step_size_ms"),
        row("window_samples", "KWS_WINDOW_SAMPLES", config.window_samples),
        row("stride_samples", "KWS_STRIDE_SAMPLES", config.stride_samples),
        row("num_channels", "KWS_NUM_CHANNELS", config.num_channels,
            "filterbank channels / mel filters", "filterbank.num_channels"),
        row("lower_band_limit_hz", "KWS_LOWER_BAND_LIMIT_HZ", config.lower_band_hz,
            c_field="filterbank.lower_band_limit"),
        row("upper_band_limit_hz", "KWS_UPPER_BAND_LIMIT_HZ", config.upper_band_hz,
            c_field="filterbank.upper_band_limit"),
        row("input_scale", "KWS_FRONTEND_INPUT_SCALE", config.input_scale,
            "feature = raw * scale + offset"),
        row("input_offset", "KWS_FRONTEND_INPUT_OFFSET", config.input_offset),
    ]
    if micro:
        rows += [row(name, f"KWS_MF_{name.upper()}", getattr(config, name), c_field=c_field)
                 for name, c_field in _MICROFRONTEND_C_FIELDS.items()]
    else:
        rows += [row("num_mfcc", "KWS_NUM_MFCC", config.num_coefficients),
                 row("fft_length", "KWS_FFT_LENGTH", config.fft_length)]
    rows.append(row("frame_size", "KWS_FEATURE_FRAME_SIZE", config.feature_dim,
                    "int8 values per feature frame"))
    return tuple(rows)


def manifest_frontend(config: FrontendConfig) -> dict[str, str | int | float]:
    """The firmware manifest's ``"frontend"`` entry: the kind and every :func:`device_settings`
    value by key."""
    return {"kind": device_kind(config), **{s.key: s.value for s in device_settings(config)}}
