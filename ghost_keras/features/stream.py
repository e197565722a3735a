"""Features of a long stream, computed the way the device computes them.

The front end runs once, continuously, over the whole stream (its noise estimate and gain go on
adapting; docs/design.md, "Front ends"), and each frame gets the firmware's timestamp. Training on
long audio (:mod:`ghost_keras.stream_training`) and evaluating on it
(:mod:`firmware_export.evaluate`) both use these two functions, so the frames and times a model
is trained on are the ones it is scored on.
"""

from __future__ import annotations

import numpy as np

from ghost_keras.features.config import FrontendConfig


def frame_times_ms(num_frames: int, config: FrontendConfig) -> np.ndarray:
    """The firmware's timestamp of each frame: the end of the stride read that completes it.

    Example:
        >>> frame_times_ms(3, FrontendConfig.microfrontend()).tolist()  # 30 ms window, 20 ms stride
        [40, 60, 80]
    """
    k = np.arange(num_frames, dtype=np.int64)
    strides = -(-(k * config.stride_samples + config.window_samples) // config.stride_samples)
    return strides * int(config.stride_ms)


def stream_features(audio: np.ndarray, config: FrontendConfig) -> tuple[np.ndarray, np.ndarray]:
    """Front end run once over the whole stream: ``(features [N, F] float32, times_ms [N])``."""
    from ghost_keras.features import make_frontend

    features = make_frontend(config).compute(audio)
    return features, frame_times_ms(len(features), config)
