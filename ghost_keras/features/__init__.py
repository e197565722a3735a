"""Audio front ends whose training-time output equals what the device computes.

- ``FrontendConfig``: frozen, JSON-safe description (see :mod:`ghost_keras.features.config` for
  both kinds, the raw formats and how the device maps raw output to the model's int8 input).
- ``make_frontend(config)``: the matching :class:`Frontend` (``compute``, ``compute_raw``,
  ``tf_compute``, ``c_tables``).
- ``FrontendConfig.device_settings()``: the same config as the firmware's ``model_settings.h``
  and manifest hold it (:mod:`ghost_keras.features.device_settings`).

Example:
    >>> from ghost_keras.features import FrontendConfig, make_frontend
    >>> fe = make_frontend(FrontendConfig.microfrontend())          # doctest: +SKIP
    >>> fe.compute(clip, context=noise).shape                       # doctest: +SKIP
    (49, 40)
"""

from __future__ import annotations

from ghost_keras.features.base import Frontend, to_int16
from ghost_keras.features.config import (
    CMSIS_MFCC,
    KINDS,
    MICROFRONTEND,
    Q15_MFCC_SCALE,
    FrontendConfig,
)

__all__ = [
    "CMSIS_MFCC",
    "KINDS",
    "MICROFRONTEND",
    "Q15_MFCC_SCALE",
    "Frontend",
    "FrontendConfig",
    "make_frontend",
    "to_int16",
]


def make_frontend(config: FrontendConfig) -> Frontend:
    """Builds the front end ``config`` describes.

    Args:
        config: a :class:`FrontendConfig` (or its ``to_dict()`` form).

    Returns:
        A ``MicroFrontend`` or ``CmsisMfccFrontend``.

    Example:
        >>> make_frontend(FrontendConfig.cmsis_mfcc()).config.feature_dim   # doctest: +SKIP
        10
    """
    if isinstance(config, dict):
        config = FrontendConfig.from_dict(config)
    if not isinstance(config, FrontendConfig):
        raise ValueError(
            f"make_frontend needs a FrontendConfig, got {type(config).__name__}: build one with "
            "FrontendConfig.microfrontend() or FrontendConfig.cmsis_mfcc()"
        )
    # Imported here so that `from ghost_keras.features import FrontendConfig` stays light.
    if config.kind == MICROFRONTEND:
        from ghost_keras.features.microfrontend import MicroFrontend

        return MicroFrontend(config)
    from ghost_keras.features.cmsis_mfcc import CmsisMfccFrontend

    return CmsisMfccFrontend(config)
