"""The TFLM step runner: an int8 model on the TFLite Micro interpreter, one input per invoke,
its states carried as the firmware carries them (``kws_main.cc``). The counterpart of
:class:`ghost_keras.step_runner.KerasStepRunner`; both return a
:class:`~ghost_keras.step_runner.StepRun`.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from firmware_export.tflite_model import TensorInfo
from firmware_export.tflm import TflmInterpreter, quantize
from ghost_keras.step_runner import StepRun


class StepTensors(Protocol):
    """Which input is the frame, which output the scores, and the state inputs and outputs (in
    the step model's state order) of a model: a ``firmware_export.convert.ExportedModel``."""

    @property
    def frame_input(self) -> int: ...

    @property
    def logits_output(self) -> int: ...

    @property
    def state_inputs(self) -> list[int]: ...

    @property
    def state_outputs(self) -> list[int]: ...


class TflmStepRunner:
    """Runs a model on TFLM one input per invoke as the firmware does, carrying its states.

    A step model gets one int8 feature frame per invoke, and each int8 state output is copied
    into its state input unchanged; a window model is the same without states, each input a
    whole window. The TFLM counterpart of :class:`ghost_keras.step_runner.KerasStepRunner`.

    Args:
        interpreter: The model's interpreter (its arena is reused).
        tensors: The roles of the model's inputs and outputs (an ``ExportedModel``).

    Raises:
        ValueError: a state's output quantization is not its input's, so its bytes could not
            be copied back.
    """

    def __init__(self, interpreter: TflmInterpreter, tensors: StepTensors):
        self.interpreter = interpreter
        self._frame, self._output = tensors.frame_input, tensors.logits_output
        self._state_inputs = list(tensors.state_inputs)
        self._state_outputs = list(tensors.state_outputs)
        for i, (src, dst) in enumerate(zip(self._state_outputs, self._state_inputs)):
            out_t, in_t = interpreter.outputs[src], interpreter.inputs[dst]
            if (out_t.scale, out_t.zero_point, out_t.dtype) != (in_t.scale, in_t.zero_point,
                                                                in_t.dtype):
                raise ValueError(
                    f"state {i}: output quantization (scale {out_t.scale}, zero point "
                    f"{out_t.zero_point}) differs from the input's ({in_t.scale}, "
                    f"{in_t.zero_point}); the firmware could not copy the state back. Re-export "
                    "with firmware_export.convert, which fixes both to one range.")
        self.invoke_seconds = 0.0
        """Time spent in ``Invoke()`` over every :meth:`run` so far."""
        self.reset()

    @property
    def frame_tensor(self) -> TensorInfo:
        """The feature frame (or window) input."""
        return self.interpreter.inputs[self._frame]

    @property
    def output_tensor(self) -> TensorInfo:
        """The scores (or logits) output."""
        return self.interpreter.outputs[self._output]

    def reset(self) -> None:
        """States back to zero (each state input's zero point), as when the firmware starts."""
        self.states = [quantize(np.zeros(t.shape, np.float32), t)
                       for t in (self.interpreter.inputs[i] for i in self._state_inputs)]

    def run(self, inputs: np.ndarray, return_states: bool = False) -> StepRun:
        """Invokes once per entry of ``inputs`` from the current states; leaves the states after
        the last invoke.

        Args:
            inputs: ``[N, ...]`` int8 inputs: feature frames of a step model, windows of a
                window model (each ``frame_tensor``'s size).
            return_states: Also return every state after every invoke.

        Returns:
            A :class:`~ghost_keras.step_runner.StepRun`: ``outputs [N, size]`` as the model
            gives them (int8); ``states``, each ``[N, size]``.
        """
        frame_t, out_t = self.frame_tensor, self.output_tensor
        inputs = np.asarray(inputs)
        if inputs.dtype != np.dtype(frame_t.dtype) or inputs.size != len(inputs) * frame_t.size:
            raise ValueError(f"inputs must be [N, {frame_t.size} values] of {frame_t.dtype} "
                             f"(quantize first), got {inputs.dtype} {inputs.shape}")
        inputs = np.ascontiguousarray(inputs.reshape(len(inputs), *frame_t.shape))
        outputs = np.empty((len(inputs), out_t.size), np.dtype(out_t.dtype))
        kept = [np.empty((len(inputs), self.interpreter.outputs[o].size),
                         np.dtype(self.interpreter.outputs[o].dtype))
                for o in self._state_outputs] if return_states else []
        raw = self.interpreter.raw  # the inputs are checked above, once
        perf = time.perf_counter
        for n, frame in enumerate(inputs):
            raw.set_input(frame, self._frame)
            for state, index in zip(self.states, self._state_inputs):
                raw.set_input(state, index)
            t0 = perf()
            try:
                raw.invoke()
            except RuntimeError:
                self.interpreter.invoke()  # again, with TFLM's log: raises TflmError
            self.invoke_seconds += perf() - t0
            outputs[n] = np.asarray(raw.get_output(self._output)).reshape(-1)
            self.states = [np.array(raw.get_output(o)) for o in self._state_outputs]
            for states, state in zip(kept, self.states):
                states[n] = state.reshape(-1)
        return StepRun(outputs, kept if return_states else None)
