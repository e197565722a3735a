"""Front-end output -> the model's int8 feature input, computed as the device computes it.

The one feature quantizer of the project: the firmware's ``kws::QuantizeFeature``
(``kws_frontend.h``) and, in Python, export verification, ``ghost-kws stream`` and
``stream-eval`` all compute

    q = clamp(round_half_even(float32(raw) * mult + offset) + zero_point, -128, 127)

in float32, with ``mult = float32(input_scale / s)`` and ``offset = float32(input_offset / s)``
for the feature tensor's scale ``s``. Dividing float features by ``s`` in double precision (what
TFLite's own QUANTIZE does) is 1 LSB away from this for some raw values (e.g. raw = 22 with the
default microfrontend scale), so a Python figure computed that way is not what a device sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ghost_keras.features.config import FrontendConfig

    from firmware_export.tflite_model import TensorInfo


@dataclass(frozen=True)
class FeatureQuantizer:
    """The device's feature quantization for one model input.

    Attributes:
        mult: float32 ``input_scale / s`` (``KWS_FEATURE_QUANT_MULT``).
        offset: float32 ``input_offset / s`` (``KWS_FEATURE_QUANT_OFFSET``).
        zero_point: the feature tensor's zero point.
        input_scale: model feature = raw front-end output * input_scale + input_offset.
        input_offset: see ``input_scale``.
        integer_raw: the front end outputs integers (microfrontend uint16, MFCC q15), so float
            features are first turned back into those integers.

    Example:
        >>> q = FeatureQuantizer.for_tensor(scale=26 / 256, zero_point=-128, input_scale=10 / 256)
        >>> q.quantize_raw(np.array([0, 22, 663])).tolist()
        [-128, -120, 127]
    """

    mult: float
    offset: float
    zero_point: int
    input_scale: float
    input_offset: float = 0.0
    integer_raw: bool = True

    @classmethod
    def for_tensor(cls, scale: float, zero_point: int, input_scale: float = 1.0,
                   input_offset: float = 0.0, integer_raw: bool = True) -> "FeatureQuantizer":
        if not (scale > 0 and input_scale > 0):
            raise ValueError(f"scales must be positive (tensor {scale}, input {input_scale})")
        return cls(mult=float(np.float32(input_scale / scale)),
                   offset=float(np.float32(input_offset / scale)), zero_point=int(zero_point),
                   input_scale=float(input_scale), input_offset=float(input_offset),
                   integer_raw=integer_raw)

    @classmethod
    def for_model(cls, tensor: "TensorInfo",
                  frontend: "FrontendConfig | None" = None) -> "FeatureQuantizer":
        """For a model's feature tensor and the front end it was trained on. Without a front
        end the features are taken as the raw values themselves (input_scale 1, floats)."""
        if frontend is None:
            return cls.for_tensor(tensor.scale, tensor.zero_point, integer_raw=False)
        integer = np.issubdtype(np.dtype(frontend.raw_dtype), np.integer)
        return cls.for_tensor(tensor.scale, tensor.zero_point, frontend.input_scale,
                              frontend.input_offset, integer_raw=integer)

    def quantize_raw(self, raw: np.ndarray) -> np.ndarray:
        """Front-end outputs (any shape) -> int8, exactly as ``kws::QuantizeFeature``."""
        scaled = np.asarray(raw).astype(np.float32) * np.float32(self.mult)
        q = np.rint(scaled + np.float32(self.offset)).astype(np.int64) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)

    def raw_from_features(self, features: np.ndarray) -> np.ndarray:
        """Model features (``raw * input_scale + input_offset``) -> the front end's raw outputs.
        Integer front ends: the nearest integer, which is exact for features the front end
        computed (a device only ever sees integers)."""
        raw = (np.asarray(features, np.float64) - self.input_offset) / self.input_scale
        return np.rint(raw) if self.integer_raw else raw.astype(np.float32)

    def quantize(self, features: np.ndarray) -> np.ndarray:
        """Model features (float, ``raw * input_scale + input_offset``) -> int8 as the device
        computes it."""
        return self.quantize_raw(self.raw_from_features(features))
