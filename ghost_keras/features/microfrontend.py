"""TFLM's microfrontend through TensorFlow's ``audio_microfrontend`` op.

The op wraps the C library TFLM firmware links (``tensorflow/lite/experimental/microfrontend/
lib``), so its uint16 output is what the device computes for the same int16 stream. Each op call
starts from a fresh front-end state and runs it over the whole input in order, which is why
context is prepended to the clip (see :meth:`ghost_keras.features.Frontend.compute_raw`) and why
one call over minutes of audio equals a device that never stopped.

Speed (measured on this 2-core host): about 0.3 ms per second of audio for long streams
(10 minutes in 0.19 s), plus ~0.5 ms of eager-op overhead per call; in tf.data ~0.4 ms per 1-s
clip. Raw values on speech: 0..663.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ghost_keras.features.base import Frontend
from ghost_keras.features.config import MICROFRONTEND, FrontendConfig
from ghost_keras.features.microfrontend_tables import microfrontend_tables


def _op_module() -> Any:
    # Imported on first use: loading TensorFlow takes seconds, and a config alone needs none of it.
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op

    return audio_microfrontend_op


class MicroFrontend(Frontend):
    """The microfrontend (stateful; raw output uint16). Build it with ``make_frontend``.

    Example:
        >>> fe = MicroFrontend(FrontendConfig.microfrontend())      # doctest: +SKIP
        >>> fe.compute(np.zeros(16000, np.int16)).shape             # doctest: +SKIP
        (49, 40)
    """

    stateful = True

    def __init__(self, config: FrontendConfig) -> None:
        if config.kind != MICROFRONTEND:
            raise ValueError(f"MicroFrontend needs kind='microfrontend', got {config.kind!r}")
        super().__init__(config)
        self._kwargs = config.microfrontend_op_kwargs()
        # One trial window now, so a configuration the C library rejects (it only reports
        # "failed to populate frontend state") fails here with the config named, not mid-training.
        try:
            self._raw_stream(np.zeros(config.window_samples, np.int16))
        except Exception as e:  # tf.errors.* are not ValueErrors
            raise ValueError(
                f"the microfrontend C library rejected this configuration ({e}); check "
                "num_channels against the band limits and the noise/PCAN parameters: "
                f"{config}"
            ) from e

    def c_tables(self) -> dict[str, np.ndarray]:
        """The window and filterbank tables the firmware installs so that the device computes
        these features bit for bit (see :mod:`ghost_keras.features.microfrontend_tables`)."""
        return microfrontend_tables(self.config)

    def _raw_stream(self, samples: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = _op_module().audio_microfrontend(
            tf.constant(samples, tf.int16), out_type=tf.uint16, **self._kwargs
        )
        return out.numpy()

    def _tf_raw_stream(self, samples: Any, num_frames: Any) -> Any:
        import tensorflow as tf

        raw = _op_module().audio_microfrontend(samples, out_type=tf.uint16, **self._kwargs)
        # The op's shape function gives a *static* 0 frames when the audio length is unknown
        # (it compares the unknown size, -1, with the window), and graph optimisation then folds
        # tf.shape(raw) to that 0. Re-index with the frame count from the audio length so the
        # static shape becomes [None, channels] and the values are untouched.
        return tf.gather(raw, tf.range(num_frames))
