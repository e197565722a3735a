"""``FrontendConfig``: everything needed to compute the same features in training and on device.

A front end turns int16 mono audio into a (frames, feature_dim) matrix. The config is a frozen,
JSON-safe dataclass so the training run can save it next to the model and the firmware exporter
can write it into a C header. It holds no TensorFlow or CMSIS objects and importing this module
imports neither.

Two kinds:

``"microfrontend"`` (the default; TFLM's ``micro_speech`` front end)
    TensorFlow's ``audio_microfrontend`` op, the same C library (``tensorflow/lite/experimental/
    microfrontend/lib``) that TFLM firmware links. Window -> FFT -> mel filterbank -> noise
    reduction -> PCAN gain control -> log. It is **stateful** (noise estimate, PCAN gain), see
    :meth:`ghost_keras.features.Frontend.compute`'s ``context``. Raw output: uint16 per channel
    (about 0..670 with the defaults). ``input_scale`` defaults to 10/256 (the ``micro_speech``
    training scaling, float roughly 0..26).

    On device: fill a C ``struct FrontendConfig`` from :meth:`FrontendConfig.microfrontend_c_config`
    (the fields map one to one), call ``FrontendPopulateState(&config, &state, sample_rate)`` once
    and feed the continuous int16 stream to ``FrontendProcessSamples``; every output (``uint16_t
    values[num_channels]``) is one frame, one per ``stride_ms`` of audio once the first window is
    full. Never re-create the state per clip: the training features assume it runs continuously.

``"cmsis_mfcc"`` (Hello Edge MFCC with CMSIS-DSP)
    CMSIS-DSP's ``arm_mfcc_q15`` (default) or ``arm_mfcc_f32``: per-frame max normalisation ->
    window -> real FFT -> magnitude -> mel filterbank -> natural log -> DCT-II (orthonormal scale
    sqrt(2/num_channels)). Stateless. Defaults follow Hello Edge / ML-KWS-for-MCU: 40 ms window,
    20 ms stride, periodic Hann window, 40 mel filters from 20 to 4000 Hz, 10 coefficients,
    FFT length 1024 (the next power of two above the 640-sample window, as Hello Edge's MFCC and
    TensorFlow's spectrogram op do; CMSIS' q15 RFFT only takes powers of two 32..4096).

    On device: keep a ``int16_t buf[fft_length]``; for each frame copy the ``window_samples``
    samples that start at the frame into ``buf[0:window_samples]`` and set the rest to **zero**
    (``arm_mfcc_q15`` normalises by the maximum over the whole buffer, so stale audio there would
    change the result), then call ``arm_mfcc_q15(&S, buf, out, tmp)`` (it overwrites ``buf``).
    Tables come from :meth:`ghost_keras.features.Frontend.c_tables` and go to
    ``arm_mfcc_init_q15``. Raw q15 output is int16 in **q8.7** (CMSIS doc of ``arm_mfcc_q15``):
    value = raw / 128, so ``input_scale`` defaults to 1/128 (natural-log units). With
    ``q15=False`` the raw output is already float (``input_scale`` 1.0).

Model features are ``raw * input_scale + input_offset``; training sets both so its training
clips' features have mean 0 and standard deviation 1 (:meth:`FrontendConfig.normalized`). On
device both fold into the int8 input quantization ``(s_in, zp_in)``, at no cost::

    int8 = clamp(round(raw * input_scale / s_in + input_offset / s_in) + zp_in, -128, 127)


Example:
    >>> cfg = FrontendConfig.microfrontend()
    >>> cfg.num_frames, cfg.feature_dim
    (49, 40)
    >>> FrontendConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> FrontendConfig.cmsis_mfcc().fft_length
    1024
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ghost_keras.features.device_settings import DeviceSetting

MICROFRONTEND = "microfrontend"
CMSIS_MFCC = "cmsis_mfcc"
KINDS = (MICROFRONTEND, CMSIS_MFCC)

WINDOW_TYPES = ("hann", "hamming")
# FFT lengths arm_rfft_q15 / arm_rfft_fast_f32 (and so arm_mfcc_init_*) accept.
CMSIS_FFT_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048, 4096)

# Parameters of the microfrontend C library, with the values TFLM's micro_speech firmware sets
# (also the defaults of tf's audio_microfrontend() wrapper, except window/stride/channels).
_MICROFRONTEND_DEFAULTS: dict[str, Any] = {
    "window_ms": 30,
    "stride_ms": 20,
    "num_channels": 40,
    "lower_band_hz": 125.0,
    "upper_band_hz": 7500.0,
    "input_scale": 10.0 / 256.0,
    "smoothing_bits": 10,
    "even_smoothing": 0.025,
    "odd_smoothing": 0.06,
    "min_signal_remaining": 0.05,
    "enable_pcan": True,
    "pcan_strength": 0.95,
    "pcan_offset": 80.0,
    "gain_bits": 21,
    "enable_log": True,
    "scale_shift": 6,
}
_MICROFRONTEND_ONLY = ("smoothing_bits", "even_smoothing", "odd_smoothing", "min_signal_remaining",
                       "enable_pcan", "pcan_strength", "pcan_offset", "gain_bits", "enable_log",
                       "scale_shift")

# Hello Edge (ML-KWS-for-MCU Deployment/Source/MFCC): 40 ms / 20 ms, 40 mel filters 20-4000 Hz,
# 10 MFCC, periodic Hann window. fft_length and input_scale depend on other fields (see below).
_CMSIS_DEFAULTS: dict[str, Any] = {
    "window_ms": 40,
    "stride_ms": 20,
    "num_channels": 40,
    "num_coefficients": 10,
    "lower_band_hz": 20.0,
    "upper_band_hz": 4000.0,
    "window_type": "hann",
    "q15": True,
}
_CMSIS_ONLY = ("num_coefficients", "fft_length", "window_type", "q15")

# q8.7: arm_mfcc_q15's output format (7 fractional bits).
Q15_MFCC_SCALE = 1.0 / 128.0


def _is_int(v: Any) -> bool:
    # bool is an int subclass; True as a window length is a bug, not a 1.
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


@dataclass(frozen=True)
class FrontendConfig:
    """Serializable description of an audio front end (see the module docstring for the kinds).

    Fields left ``None`` take the default of ``kind`` in ``__post_init__``; fields that belong to
    the other kind must stay ``None`` (a value there would be silently ignored otherwise).

    Args:
        kind: ``"microfrontend"`` or ``"cmsis_mfcc"``.
        sample_rate: Hz. Window and stride must be whole numbers of samples.
        window_ms: analysis window, ms (microfrontend 30, cmsis 40).
        stride_ms: hop between frames, ms (20 for both); at most ``window_ms``.
        num_channels: mel filterbank channels (40 for both).
        num_coefficients: MFCC count (cmsis, default 10); ``None`` for the microfrontend.
        lower_band_hz: lowest filterbank frequency (microfrontend 125, cmsis 20).
        upper_band_hz: highest filterbank frequency, below Nyquist (microfrontend 7500,
            cmsis 4000).
        clip_samples: training clip length in samples (16000 = 1 s); sets ``num_frames``.
        input_scale: model input = raw front-end output * input_scale + input_offset
            (microfrontend 10/256; cmsis q15 1/128, i.e. q8.7 to float; cmsis f32 1.0).
        input_offset: added after the scale (default 0; :meth:`normalized` sets both).
        smoothing_bits, even_smoothing, odd_smoothing, min_signal_remaining: microfrontend noise
            reduction (C ``config.noise_reduction.*``).
        enable_pcan, pcan_strength, pcan_offset, gain_bits: microfrontend PCAN gain control
            (C ``config.pcan_gain_control.{enable_pcan,strength,offset,gain_bits}``).
        enable_log, scale_shift: microfrontend log scaling (C ``config.log_scale.*``).
        fft_length: cmsis FFT length, a power of two 32..4096 >= the window (default: the next
            power of two, 1024 for 640 samples); the window is zero-padded to it.
        window_type: cmsis window, ``"hann"`` (default, periodic, as Hello Edge) or
            ``"hamming"`` (periodic, as the CMSIS-DSP examples).
        q15: cmsis arithmetic: ``True`` (default) runs ``arm_mfcc_q15``, the fixed-point path
            that is bit-exact with the device library; ``False`` runs ``arm_mfcc_f32`` (close to,
            not bit-exact with, a device's float build).

    Defaults are resolved once, at construction: ``dataclasses.replace(cfg, q15=False)`` keeps
    the q15 ``input_scale`` (1/128) and ``fft_length``; pass ``input_scale=None`` /
    ``fft_length=None`` with it to get the new defaults (or build from a preset).

    Example:
        >>> FrontendConfig(kind="cmsis_mfcc", num_coefficients=13).feature_dim
        13
    """

    kind: str = MICROFRONTEND
    sample_rate: int = 16000
    window_ms: int | None = None
    stride_ms: int | None = None
    num_channels: int | None = None
    num_coefficients: int | None = None
    lower_band_hz: float | None = None
    upper_band_hz: float | None = None
    clip_samples: int = 16000
    input_scale: float | None = None
    input_offset: float = 0.0
    # microfrontend only
    smoothing_bits: int | None = None
    even_smoothing: float | None = None
    odd_smoothing: float | None = None
    min_signal_remaining: float | None = None
    enable_pcan: bool | None = None
    pcan_strength: float | None = None
    pcan_offset: float | None = None
    gain_bits: int | None = None
    enable_log: bool | None = None
    scale_shift: int | None = None
    # cmsis_mfcc only
    fft_length: int | None = None
    window_type: str | None = None
    q15: bool | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def microfrontend(cls, **overrides: Any) -> "FrontendConfig":
        """TFLM micro_speech front end: 30 ms window, 20 ms stride, 40 channels -> 49 x 40.

        Example:
            >>> FrontendConfig.microfrontend(num_channels=32).feature_dim
            32
        """
        return cls(kind=MICROFRONTEND, **overrides)

    @classmethod
    def cmsis_mfcc(cls, **overrides: Any) -> "FrontendConfig":
        """Hello Edge MFCC via CMSIS-DSP q15: 40 ms / 20 ms, 40 mel, 10 MFCC -> 49 x 10.

        Example:
            >>> FrontendConfig.cmsis_mfcc().num_frames
            49
        """
        return cls(kind=CMSIS_MFCC, **overrides)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"FrontendConfig.kind={self.kind!r} is unknown: use one of {KINDS}")
        own_defaults = _MICROFRONTEND_DEFAULTS if self.kind == MICROFRONTEND else _CMSIS_DEFAULTS
        foreign = _CMSIS_ONLY if self.kind == MICROFRONTEND else _MICROFRONTEND_ONLY
        for name in foreign:
            if getattr(self, name) is not None:
                raise ValueError(
                    f"FrontendConfig.{name}={getattr(self, name)!r} does not apply to "
                    f"kind={self.kind!r}: leave it None (or pick the other kind)"
                )
        for name, value in own_defaults.items():
            if getattr(self, name) is None:
                self._set(name, value)
        self._check_common()
        if self.kind == MICROFRONTEND:
            self._check_microfrontend()
        else:
            self._check_cmsis()
        if self.input_scale is None:
            self._set("input_scale", Q15_MFCC_SCALE if self.q15 else 1.0)
        self._check_positive_float("input_scale")
        if not _is_number(self.input_offset):
            raise ValueError(f"FrontendConfig.input_offset={self.input_offset!r} must be a "
                             "finite number")
        self._set("input_offset", float(self.input_offset))
        if self.clip_samples < self.window_samples:
            raise ValueError(
                f"FrontendConfig.clip_samples={self.clip_samples} is shorter than one window "
                f"({self.window_samples} samples): raise clip_samples or shorten window_ms"
            )

    def normalized(self, mean: float, std: float) -> "FrontendConfig":
        """This front end with its features mapped to ``(feature - mean) / std`` (``mean``,
        ``std`` > 0: of this front end's features, e.g. over the training clips).

        Example:
            >>> cfg = FrontendConfig.microfrontend().normalized(mean=5.0, std=8.0)
            >>> cfg.input_scale * 8.0 == 10 / 256, cfg.input_offset
            (True, -0.625)
        """
        if not (_is_number(mean) and _is_number(std) and std > 0):
            raise ValueError(f"feature statistics must be finite with std > 0, got mean={mean!r}"
                             f", std={std!r}: the training clips gave constant features")
        return dataclasses.replace(self, input_scale=self.input_scale / std,
                                   input_offset=(self.input_offset - mean) / std)

    def _set(self, name: str, value: Any) -> None:
        # The dataclass is frozen; defaults are resolved once here, before anyone sees it.
        object.__setattr__(self, name, value)

    def _check_int(self, name: str, minimum: int, maximum: int | None = None) -> None:
        v = getattr(self, name)
        if not _is_int(v) or v < minimum or (maximum is not None and v > maximum):
            span = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise ValueError(f"FrontendConfig.{name}={v!r} must be an integer {span}")

    def _check_float(self, name: str, lo: float, hi: float) -> None:
        v = getattr(self, name)
        if not _is_number(v) or not lo <= v <= hi:
            raise ValueError(f"FrontendConfig.{name}={v!r} must be a number in [{lo}, {hi}]")
        self._set(name, float(v))  # JSON may give 80 for 80.0: store one canonical type

    def _check_positive_float(self, name: str) -> None:
        v = getattr(self, name)
        if not _is_number(v) or v <= 0:
            raise ValueError(f"FrontendConfig.{name}={v!r} must be a finite number > 0")
        self._set(name, float(v))

    def _check_bool(self, name: str) -> None:
        v = getattr(self, name)
        if not isinstance(v, bool):
            raise ValueError(f"FrontendConfig.{name}={v!r} must be True or False")

    def _check_common(self) -> None:
        self._check_int("sample_rate", 1000)
        self._check_int("window_ms", 1)
        self._check_int("stride_ms", 1)
        self._check_int("num_channels", 1)
        self._check_int("clip_samples", 1)
        for name in ("window_ms", "stride_ms"):
            ms = getattr(self, name)
            if (self.sample_rate * ms) % 1000:
                raise ValueError(
                    f"FrontendConfig.{name}={ms} is not a whole number of samples at "
                    f"sample_rate={self.sample_rate} ({self.sample_rate * ms / 1000}): "
                    f"pick a {name} for which sample_rate * {name} / 1000 is an integer"
                )
        if self.stride_ms > self.window_ms:
            raise ValueError(
                f"FrontendConfig.stride_ms={self.stride_ms} is longer than window_ms="
                f"{self.window_ms}: samples between windows would be skipped; use "
                "stride_ms <= window_ms"
            )
        nyquist = self.sample_rate / 2
        self._check_float("lower_band_hz", 0.0, nyquist)
        self._check_float("upper_band_hz", 0.0, nyquist)
        if not self.lower_band_hz < self.upper_band_hz < nyquist:
            raise ValueError(
                f"FrontendConfig band [{self.lower_band_hz}, {self.upper_band_hz}] Hz: need "
                f"lower_band_hz < upper_band_hz < sample_rate / 2 = {nyquist}"
            )

    def _check_microfrontend(self) -> None:
        if self.sample_rate % 1000:
            # The op's shape function computes samples as ms * (sample_rate / 1000) in integer
            # arithmetic, its kernel as ms * sample_rate / 1000: they agree only for whole kHz.
            raise ValueError(
                f"FrontendConfig.sample_rate={self.sample_rate}: the microfrontend op needs a "
                "whole number of kHz (e.g. 16000); resample the audio"
            )
        self._check_int("smoothing_bits", 0, 16)
        self._check_float("even_smoothing", 0.0, 1.0)
        self._check_float("odd_smoothing", 0.0, 1.0)
        self._check_float("min_signal_remaining", 0.0, 1.0)
        self._check_bool("enable_pcan")
        self._check_float("pcan_strength", 0.0, 10.0)
        self._check_positive_float("pcan_offset")
        self._check_int("gain_bits", 1, 30)
        self._check_bool("enable_log")
        self._check_int("scale_shift", 0, 15)

    def _check_cmsis(self) -> None:
        self._check_int("num_coefficients", 1)
        if self.num_coefficients > self.num_channels:
            raise ValueError(
                f"FrontendConfig.num_coefficients={self.num_coefficients} exceeds num_channels="
                f"{self.num_channels}: a DCT of {self.num_channels} mel energies has at most "
                "that many coefficients; lower num_coefficients or raise num_channels"
            )
        if self.window_type not in WINDOW_TYPES:
            raise ValueError(
                f"FrontendConfig.window_type={self.window_type!r} is unknown: use one of "
                f"{WINDOW_TYPES}"
            )
        self._check_bool("q15")
        if self.fft_length is None:
            n = max(CMSIS_FFT_LENGTHS[0], 1 << (self.window_samples - 1).bit_length())
            self._set("fft_length", n)
        if self.fft_length not in CMSIS_FFT_LENGTHS or not _is_int(self.fft_length):
            raise ValueError(
                f"FrontendConfig.fft_length={self.fft_length!r} is not an FFT length CMSIS-DSP's "
                f"arm_mfcc supports: use one of {CMSIS_FFT_LENGTHS}"
            )
        if self.fft_length < self.window_samples:
            fit = [n for n in CMSIS_FFT_LENGTHS if n >= self.window_samples]
            fix = f"use fft_length={fit[0]}" if fit else "shorten window_ms"
            raise ValueError(
                f"FrontendConfig.fft_length={self.fft_length} is shorter than the window "
                f"({self.window_samples} samples = {self.window_ms} ms): {fix} (the window is "
                "zero-padded up to the FFT length)"
            )

    # ------------------------------------------------------------------ derived sizes
    @property
    def window_samples(self) -> int:
        """Samples in one analysis window (480 for 30 ms at 16 kHz)."""
        return self.sample_rate * self.window_ms // 1000

    @property
    def stride_samples(self) -> int:
        """Samples between frame starts (320 for 20 ms at 16 kHz)."""
        return self.sample_rate * self.stride_ms // 1000

    @property
    def feature_dim(self) -> int:
        """Values per frame: num_channels (microfrontend) or num_coefficients (MFCC)."""
        return self.num_channels if self.kind == MICROFRONTEND else self.num_coefficients

    @property
    def num_frames(self) -> int:
        """Frames for one training clip of ``clip_samples`` (49 for the presets)."""
        return self.frames_for(self.clip_samples)

    @property
    def raw_dtype(self) -> str:
        """numpy dtype name of the raw device output: uint16, int16 (q8.7) or float32."""
        if self.kind == MICROFRONTEND:
            return "uint16"
        return "int16" if self.q15 else "float32"

    def frames_for(self, num_samples: int) -> int:
        """Frames the front end emits for ``num_samples`` samples: only whole windows, frame k
        covering samples [k * stride, k * stride + window) (no padding, like the device).

        Example:
            >>> FrontendConfig.microfrontend().frames_for(16000)
            49
        """
        if num_samples < self.window_samples:
            return 0
        return (num_samples - self.window_samples) // self.stride_samples + 1

    def microfrontend_op_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for tf's ``audio_microfrontend`` op (without the audio).

        Context stacking, frame striding and output scaling are fixed off (left/right_context 0,
        frame_stride 1, out_scale 1, uint16) because the device library has none of them.
        """
        if self.kind != MICROFRONTEND:
            raise ValueError(f"microfrontend_op_kwargs() needs kind='microfrontend', not {self.kind!r}")
        return {
            "sample_rate": self.sample_rate,
            "window_size": self.window_ms,
            "window_step": self.stride_ms,
            "num_channels": self.num_channels,
            "upper_band_limit": self.upper_band_hz,
            "lower_band_limit": self.lower_band_hz,
            "smoothing_bits": self.smoothing_bits,
            "even_smoothing": self.even_smoothing,
            "odd_smoothing": self.odd_smoothing,
            "min_signal_remaining": self.min_signal_remaining,
            "enable_pcan": self.enable_pcan,
            "pcan_strength": self.pcan_strength,
            "pcan_offset": self.pcan_offset,
            "gain_bits": self.gain_bits,
            "enable_log": self.enable_log,
            "scale_shift": self.scale_shift,
            "left_context": 0,
            "right_context": 0,
            "frame_stride": 1,
            "zero_padding": False,
            "out_scale": 1,
        }

    def device_settings(self) -> tuple["DeviceSetting", ...]:
        """The front end's ``#define``s of the firmware's ``model_settings.h`` (also its manifest
        keys and microfrontend C fields): see :mod:`ghost_keras.features.device_settings`.

        Example:
            >>> FrontendConfig.microfrontend().device_settings()[0].macro
            'KWS_WINDOW_MS'
        """
        from ghost_keras.features.device_settings import device_settings

        return device_settings(self)

    def microfrontend_c_config(self) -> dict[str, Any]:
        """The microfrontend's C ``struct FrontendConfig`` fields (dotted paths) and values, as
        the firmware sets them: ``config.window.size_ms = ...`` and so on.

        Example:
            >>> FrontendConfig.microfrontend().microfrontend_c_config()["window.size_ms"]
            30
        """
        if self.kind != MICROFRONTEND:
            raise ValueError(f"microfrontend_c_config() needs kind='microfrontend', not {self.kind!r}")
        return {s.c_field: s.value for s in self.device_settings() if s.c_field}

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON types (fields of the other kind are ``None``).

        Example:
            >>> import json
            >>> json.loads(json.dumps(FrontendConfig.cmsis_mfcc().to_dict()))["fft_length"]
            1024
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FrontendConfig":
        """Inverse of :meth:`to_dict`; rejects unknown keys and kinds with a ValueError.

        Example:
            >>> FrontendConfig.from_dict({"kind": "cmsis_mfcc"}).feature_dim
            10
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"FrontendConfig.from_dict needs a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"FrontendConfig.from_dict: unknown key(s) {unknown}; known keys are "
                f"{sorted(known)} (was the file written by another version?)"
            )
        if "kind" not in d:
            raise ValueError(f"FrontendConfig.from_dict: missing 'kind' (one of {KINDS})")
        return cls(**dict(d))
