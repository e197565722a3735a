"""``Frontend``: the shared part of every front end (audio checks, context, scaling, tf.data).

A subclass only says how to turn one continuous int16 stream, from a freshly initialised front
end, into all its raw frames (:meth:`Frontend._raw_stream` in numpy and
:meth:`Frontend._tf_raw_stream` in TensorFlow). Everything about clips, context and the float
scaling lives here so that both kinds treat them identically.

Audio conventions (both kinds):
- int16 mono 1-D at ``config.sample_rate`` is what the device gets from its microphone driver.
- float input (float16/32/64) in [-1, 1] is converted to int16 as
  ``clip(round_half_even(x * 32768), -32768, 32767)``. For floats that came from int16
  (``soundfile.read(dtype="float32")`` divides by 32768) this gives back the exact int16
  samples, so float and int16 input produce identical features. Floats outside [-1, 1] or
  not finite are rejected (clip them first); 1.0 itself maps to 32767.

:func:`to_int16` is the one float -> int16 conversion of the package: the data pipeline's
augmentation uses it too, with ``saturate=True``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ghost_keras.features.config import FrontendConfig

_FLOAT_KINDS = "f"


def to_int16(audio: Any, name: str = "audio", allow_empty: bool = False,
             saturate: bool = False) -> np.ndarray:
    """Checks mono audio and returns it as int16 samples (see the module docstring).

    Args:
        audio: 1-D int16 samples, or floats in [-1, 1].
        name: what to call it in error messages ("audio", "context").
        allow_empty: accept zero samples (a context may be empty).
        saturate: clip floats outside [-1, 1] to the int16 range, as a saturating ADC does,
            instead of refusing them. For audio the package mixes itself (a word plus noise
            can peak above 1); audio handed to a front end is refused, since a peak above 1
            there usually means samples in the wrong scale (e.g. int16 values as floats).

    Returns:
        A 1-D C-contiguous int16 array (the input itself when it already is one).

    Raises:
        ValueError: wrong rank (stereo, column vector), dtype, range, NaN, or empty.

    Example:
        >>> to_int16(np.array([0.5, -1.0], np.float32))
        array([ 16384, -32768], dtype=int16)
        >>> to_int16(np.array([0.5, -2.0], np.float32), saturate=True)
        array([ 16384, -32768], dtype=int16)
    """
    a = np.asarray(audio)
    if a.ndim != 1:
        if a.ndim == 2 and 2 in a.shape:
            raise ValueError(
                f"{name} has shape {a.shape}, which looks like stereo: the front ends take mono "
                f"1-D samples; pick a channel ({name}[:, 0]) or mix down ({name}.mean(axis=1))"
            )
        raise ValueError(
            f"{name} has shape {a.shape}: the front ends take mono 1-D samples; "
            f"flatten a (n, 1) array with {name}[:, 0]"
        )
    if a.dtype == np.int16:
        out = a
    elif a.dtype.kind in _FLOAT_KINDS:
        if a.size and not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf: fix the audio before featurizing")
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        if peak > 1.0 and not saturate:
            raise ValueError(
                f"float {name} must lie in [-1, 1] (it is converted to int16 like a device ADC), "
                f"its peak is {peak:.4g}: clip it (np.clip({name}, -1, 1)) or rescale it"
            )
        # float64 keeps x * 32768 exact for any float input; round-half-even matches tf.round.
        scaled = np.round(a.astype(np.float64) * 32768.0)
        out = np.clip(scaled, -32768, 32767).astype(np.int16)
    else:
        raise ValueError(
            f"{name} has dtype {a.dtype}: pass int16 samples or floats in [-1, 1] "
            "(for 16-bit samples held in a wider int type use .astype(np.int16))"
        )
    if out.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: pass at least one window of samples")
    return np.ascontiguousarray(out)


class Frontend(ABC):
    """An audio front end built from a :class:`FrontendConfig` (use ``make_frontend``).

    Attributes:
        config: the frozen config this front end computes.
        stateful: whether frames depend on audio before them beyond their window (the
            microfrontend: True; MFCC: False, so ``context`` cannot change its output).
    """

    stateful: bool = False

    def __init__(self, config: FrontendConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _raw_stream(self, samples: np.ndarray) -> np.ndarray:
        """All raw frames of int16 ``samples`` run through a fresh front end, shape
        (config.frames_for(len(samples)), feature_dim), dtype config.raw_dtype."""

    @abstractmethod
    def _tf_raw_stream(self, samples: Any, num_frames: Any) -> Any:
        """Graph-mode twin of :meth:`_raw_stream` for a 1-D int16 tensor; ``num_frames`` is the
        frame count computed from the audio length (never from the op's output shape)."""

    def c_tables(self) -> dict[str, np.ndarray]:
        """Constant tables the firmware needs besides the config ({} if it builds its own)."""
        return {}

    # ------------------------------------------------------------------ numpy
    def _stream_and_count(self, audio: Any, context: Any | None) -> tuple[np.ndarray, int]:
        clip = to_int16(audio, "audio")
        n = self.config.frames_for(clip.size)
        if n == 0:
            raise ValueError(
                f"audio has {clip.size} samples, shorter than one window "
                f"({self.config.window_samples} samples = {self.config.window_ms} ms): "
                "pass a longer clip (or pad it)"
            )
        if context is None or not self.stateful:
            # Stateless front ends: the clip's frames see only clip samples, so context cannot
            # change them; skipping it saves the work. It is still checked like audio.
            if context is not None:
                to_int16(context, "context", allow_empty=True)
            return clip, n
        ctx = to_int16(context, "context", allow_empty=True)
        # Keep a whole number of strides, dropping the oldest samples, so the clip's first
        # sample starts a frame exactly as on a device that has been running all along.
        ctx = ctx[ctx.size % self.config.stride_samples :]
        return np.concatenate([ctx, clip]), n

    def compute_raw(self, audio: Any, context: Any | None = None) -> np.ndarray:
        """The raw frames the device computes for ``audio`` (uint16, int16 q8.7 or float32).

        Args:
            audio: 1-D int16 (or float in [-1, 1]) samples at ``config.sample_rate``; at least
                one window long. Frame k covers samples [k*stride, k*stride + window).
            context: optional audio that precedes ``audio`` in the same stream (e.g. 1.5 s of
                background noise). The front end runs over context + audio continuously and
                only the frames that start inside ``audio`` are returned, so a stateful front
                end's noise estimate and gain have settled as on a device that has been running.
                Its oldest ``len(context) % stride_samples`` samples are dropped so that the
                clip starts on a frame boundary.

        Returns:
            Array of shape (config.frames_for(len(audio)), config.feature_dim).

        Example:
            >>> fe = make_frontend(FrontendConfig.microfrontend())   # doctest: +SKIP
            >>> fe.compute_raw(np.zeros(16000, np.int16)).shape      # doctest: +SKIP
            (49, 40)
        """
        stream, n = self._stream_and_count(audio, context)
        raw = self._raw_stream(stream)
        return raw[raw.shape[0] - n :]

    def compute(self, audio: Any, context: Any | None = None) -> np.ndarray:
        """Model input features: ``compute_raw(audio, context) * config.input_scale +
        config.input_offset``, float32.

        Taken in float32 (``raw.astype(float32) * float32(input_scale) + float32(input_offset)``),
        the same arithmetic as :meth:`tf_compute`, so both give identical values.

        Args:
            audio: see :meth:`compute_raw`; may be minutes long (the state is carried through).
            context: see :meth:`compute_raw`.

        Returns:
            float32 array of shape (config.frames_for(len(audio)), config.feature_dim).

        Example:
            >>> fe = make_frontend(FrontendConfig.cmsis_mfcc())     # doctest: +SKIP
            >>> fe.compute(clip, context=noise).shape               # doctest: +SKIP
            (49, 10)
        """
        raw = self.compute_raw(audio, context)
        return (raw.astype(np.float32) * np.float32(self.config.input_scale)
                + np.float32(self.config.input_offset))

    # ------------------------------------------------------------------ TensorFlow
    def tf_compute(self, audio: Any, context: Any | None = None) -> Any:
        """Graph-mode :meth:`compute` for ``tf.data.Dataset.map`` (same values, float32).

        Args:
            audio: 1-D int16 or float tensor (floats in [-1, 1], converted as in numpy).
            context: optional 1-D tensor of preceding audio (see :meth:`compute_raw`).

        Returns:
            float32 tensor (frames, feature_dim); the frame count is static when the audio
            length is.

        Example:
            >>> ds = tf.data.Dataset.from_tensor_slices(clips).map(fe.tf_compute)  # doctest: +SKIP
        """
        import tensorflow as tf  # lazy: configs and numpy paths must not pay for TF

        cfg = self.config
        clip = _tf_to_int16(tf, audio, "audio")
        clip_len = tf.shape(clip)[0]
        tf.debugging.assert_greater_equal(
            clip_len,
            cfg.window_samples,
            message=f"audio is shorter than one window ({cfg.window_samples} samples): pass a longer clip",
        )
        n_clip = (clip_len - cfg.window_samples) // cfg.stride_samples + 1
        stream = clip
        if context is not None and self.stateful:
            ctx = _tf_to_int16(tf, context, "context")
            ctx = ctx[tf.shape(ctx)[0] % cfg.stride_samples :]
            stream = tf.concat([ctx, clip], axis=0)
        n_stream = (tf.shape(stream)[0] - cfg.window_samples) // cfg.stride_samples + 1
        raw = self._tf_raw_stream(stream, n_stream)
        # gather, not a slice of tf.shape(raw): see MicroFrontend._tf_raw_stream on why the
        # op's static shape must not be trusted.
        raw = tf.gather(raw, tf.range(n_stream - n_clip, n_stream))
        out = (tf.cast(raw, tf.float32) * tf.constant(cfg.input_scale, tf.float32)
               + tf.constant(cfg.input_offset, tf.float32))
        static_len = clip.shape[0]
        out.set_shape([cfg.frames_for(static_len) if static_len is not None else None, cfg.feature_dim])
        return out


def _tf_to_int16(tf: Any, audio: Any, name: str) -> Any:
    """Graph-mode :func:`to_int16` (rank and range are checked with graph assertions)."""
    a = tf.convert_to_tensor(audio)
    if a.shape.rank is not None and a.shape.rank != 1:
        raise ValueError(f"{name} tensor has shape {a.shape}: the front ends take mono 1-D samples")
    if a.dtype == tf.int16:
        return tf.reshape(a, [-1])
    if not a.dtype.is_floating:
        raise ValueError(f"{name} tensor has dtype {a.dtype.name}: pass int16 or floats in [-1, 1]")
    a = tf.reshape(tf.cast(a, tf.float64), [-1])
    a = tf.debugging.assert_all_finite(a, f"{name} contains NaN or inf: fix the audio first")
    tf.debugging.assert_less_equal(
        # the appended 0 keeps the max defined for an empty context; NaN fails the check too
        tf.reduce_max(tf.concat([tf.abs(a), tf.zeros([1], tf.float64)], 0)),
        tf.constant(1.0, tf.float64),
        message=f"float {name} must lie in [-1, 1]: clip it (tf.clip_by_value) first",
    )
    return tf.cast(tf.clip_by_value(tf.round(a * 32768.0), -32768.0, 32767.0), tf.int16)
