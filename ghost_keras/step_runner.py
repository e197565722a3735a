"""The Keras step runner: a step model driven frame by frame, its state carried.

Every Python path that runs a Keras step model (:func:`ghost_keras.streaming.step_model`) over
frames goes through :class:`KerasStepRunner`: the checks that a step model reproduces its
sequence model, the hidden states of :mod:`ghost_keras.redundancy`, the float baseline of a
long stream (:mod:`firmware_export.evaluate.runners`). Its TFLite Micro counterpart, which runs
the exported int8 model the same way, is :class:`firmware_export.tflm_step_runner.TflmStepRunner`; both
return a :class:`StepRun`.

Example:

>>> import ghost_keras, numpy as np
>>> from ghost_keras.models import build_model
>>> from ghost_keras.step_runner import KerasStepRunner
>>> from ghost_keras.streaming import step_model
>>> model = build_model("ghost_gru", "S", input_shape=(49, 10))
>>> x = np.zeros((2, 49, 10), "float32")
>>> run = KerasStepRunner(step_model(model), batch=2).run(x)
>>> np.allclose(run.outputs[:, -1], model.predict(x, verbose=0), atol=1e-5)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tf_keras as keras

#: Frames per compiled scan: bounds the states kept in memory on an hours-long stream.
DEFAULT_CHUNK = 1024


@dataclass
class StepRun:
    """What a step runner gave for the frames of one :meth:`run` call.

    Attributes:
        outputs: The step's first output after every frame (scores or logits).
        states: With ``return_states``: each state after every frame (the value carried into
            the next frame), in the step model's state order; else None.
    """

    outputs: np.ndarray
    states: list[np.ndarray] | None = None


class KerasStepRunner:
    """Runs a Keras step model over frames, carrying its states from call to call.

    The frames of a chunk run in one compiled ``tf.scan``: an eager Keras call per frame costs
    about a millisecond, which an hour of 20-ms frames cannot afford.

    Args:
        step: A step model: inputs ``[frame, *states]``, outputs ``[output, *new_states]``.
        batch: Sequences run side by side (each with its own state).
        chunk: Frames per compiled scan.
    """

    def __init__(self, step: keras.Model, batch: int = 1, chunk: int = DEFAULT_CHUNK):
        # TensorFlow is imported where it is used, not with the module: the TFLM runner shares
        # StepRun, and runs where TensorFlow need not load.
        import tensorflow as tf

        if chunk < 1:
            raise ValueError(f"chunk={chunk} must be >= 1")
        self.step = step
        self.chunk = int(chunk)
        self.state_sizes = [int(t.shape[-1]) for t in step.inputs[1:]]
        self.output_size = int(step.outputs[0].shape[-1])
        self._scan = tf.function(self._scan_frames)
        self.reset(batch)

    def reset(self, batch: int | None = None) -> None:
        """Zero states, for ``batch`` sequences (default: as many as before)."""
        import tensorflow as tf

        self.batch = self.batch if batch is None else int(batch)
        self.states = [tf.zeros((self.batch, size)) for size in self.state_sizes]

    def _scan_frames(self, frames, *states):
        """``frames [T, batch, F]`` -> (outputs ``[T, batch, out]``, each state ``[T, ...]``)."""
        import tensorflow as tf

        def body(carried, frame):
            out = self.step([frame, *carried[1:]], training=False)
            return (out[0], *out[1:])

        start = (tf.zeros([frames.shape[1], self.output_size]), *states)
        result = tf.scan(body, frames, initializer=start)
        return result[0], list(result[1:])

    def run(self, frames: np.ndarray, return_states: bool = False) -> StepRun:
        """Runs ``frames`` from the current states, which it leaves after the last frame.

        Args:
            frames: ``[batch, T, features]`` float features.
            return_states: Also return every state after every frame.

        Returns:
            A :class:`StepRun`: ``outputs [batch, T, out]``; ``states``, each
            ``[batch, T, size]``.
        """
        import tensorflow as tf

        frames = np.asarray(frames, np.float32)
        if frames.ndim != 3 or len(frames) != self.batch:
            raise ValueError(f"frames must be [{self.batch}, T, features] (the runner's batch), "
                             f"got {frames.shape}")
        # Empty pieces first: zero frames give empty arrays of the right shapes.
        outputs = [np.zeros((self.batch, 0, self.output_size), np.float32)]
        states = [[np.zeros((self.batch, 0, size), np.float32)] for size in self.state_sizes]
        for start in range(0, frames.shape[1], self.chunk):
            time_major = tf.constant(np.swapaxes(frames[:, start:start + self.chunk], 0, 1))
            out, carried = self._scan(time_major, *self.states)
            outputs.append(np.swapaxes(out.numpy(), 0, 1))
            self.states = [c[-1] for c in carried]
            if return_states:
                for kept, c in zip(states, carried):
                    kept.append(np.swapaxes(c.numpy(), 0, 1))
        return StepRun(np.concatenate(outputs, axis=1),
                       [np.concatenate(s, axis=1) for s in states] if return_states else None)
