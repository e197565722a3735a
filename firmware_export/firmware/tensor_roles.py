"""Which tensor of a converted model is the feature input, the score output and each state pair,
and the checks that let the firmware copy a state's bytes back as they are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_export.tflite_model import TensorInfo, TfliteModelInfo


class SettingsError(ValueError):
    """The settings dict or the model does not describe a usable firmware."""


@dataclass(frozen=True)
class TensorRoles:
    """Which model tensor is what for the streaming loop."""

    features: TensorInfo
    scores: TensorInfo
    states: tuple[tuple[TensorInfo, TensorInfo], ...]
    """(input, output) pairs; the firmware copies each output's bytes into its input."""


def tensor_name(t: TensorInfo) -> str:
    """The tensor's name in the serving signature, which the Python code chose; the flatbuffer
    tensor name only for a model without a signature."""
    return t.signature_name or t.name


def _find(tensors: Sequence[TensorInfo], name: str, kind: str) -> TensorInfo:
    hits = [t for t in tensors if t.matches(name)]
    if len(hits) != 1:
        known = [tensor_name(t) for t in tensors]
        raise SettingsError(f"no single model {kind} named {name!r}; the {kind}s are {known}")
    return hits[0]


def _is_state(t: TensorInfo) -> bool:
    # Not the flatbuffer name when there is a signature: the converter names every output of a
    # tf.function "StatefulPartitionedCall:<k>", which would make each one look like a state.
    return "state" in tensor_name(t).lower()


def resolve_tensor_roles(
    model: TfliteModelInfo, num_labels: int, names: Mapping[str, Any] | None = None
) -> TensorRoles:
    """Finds the feature input, the score output and the (input, output) state pairs.

    With ``names`` (``{"features": ..., "scores": ..., "states": [[in, out], ...]}``, each a
    signature or tensor name) they are looked up. Without, they are inferred from the serving
    signature's names (see :func:`tensor_name`): a state is an input/output pair of equal shape
    and type (names containing "state" first); the scores are the output with ``num_labels``
    values; the features the remaining input. Anything ambiguous
    is an error asking for ``names``. (The converter orders inputs/outputs its own way -- e.g.
    state before frame -- so the index alone means nothing.)
    """
    if names:
        features = _find(model.inputs, names["features"], "input")
        scores = _find(model.outputs, names["scores"], "output")
        states = tuple(
            (_find(model.inputs, i, "input"), _find(model.outputs, o, "output"))
            for i, o in names.get("states", [])
        )
    else:
        hint = 'pass settings["tensors"] = {"features": ..., "scores": ..., "states": [[in, out]]}'
        score_candidates = [
            t for t in model.outputs if t.size == num_labels and not _is_state(t)
        ] or [t for t in model.outputs if t.size == num_labels]
        if len(score_candidates) != 1:
            raise SettingsError(
                f"cannot tell which output holds the {num_labels} scores "
                f"({[tensor_name(t) for t in score_candidates]}); {hint}"
            )
        scores = score_candidates[0]
        free_inputs = list(model.inputs)
        pairs = []
        # State outputs named "...state..." pick their input first, so a frame of the same
        # shape as the state cannot steal the pairing.
        state_outputs = sorted(
            (t for t in model.outputs if t is not scores), key=lambda t: not _is_state(t)
        )
        for out in state_outputs:
            same = [t for t in free_inputs if t.shape == out.shape and t.dtype == out.dtype]
            named = [t for t in same if _is_state(t)]
            choice = named if len(named) == 1 else same
            if len(choice) != 1:
                raise SettingsError(
                    f"cannot pair state output {tensor_name(out)} {out.shape} "
                    f"with one input ({[tensor_name(t) for t in same]}); {hint}"
                )
            pairs.append((choice[0], out))
            free_inputs.remove(choice[0])
        if len(free_inputs) != 1:
            raise SettingsError(
                f"expected one feature input besides the states, found "
                f"{[tensor_name(t) for t in free_inputs]}; {hint}"
            )
        features = free_inputs[0]
        states = tuple(sorted(pairs, key=lambda p: p[0].index))
    return TensorRoles(features=features, scores=scores, states=states)


def check_roles(roles: TensorRoles, num_labels: int) -> None:
    """Checks types and that every state output can be copied byte for byte into its input."""
    f, s = roles.features, roles.scores
    if f.dtype != "int8" or not f.is_quantized:
        raise SettingsError(f"feature input {tensor_name(f)} must be per-tensor int8, "
                            f"is {f.type_name}")
    if s.dtype not in ("int8", "uint8") or not s.is_quantized:
        raise SettingsError(f"score output {tensor_name(s)} must be int8/uint8, "
                            f"is {s.type_name}")
    if s.size != num_labels:
        raise SettingsError(f"{num_labels} labels but the score output has {s.size} values")
    for i, o in roles.states:
        if i.shape != o.shape or i.dtype != o.dtype:
            raise SettingsError(
                f"state input {tensor_name(i)} {i.shape} {i.type_name} and output "
                f"{tensor_name(o)} {o.shape} {o.type_name} differ in shape or type"
            )
        if not (i.is_quantized and o.is_quantized):
            raise SettingsError(f"state {tensor_name(i)} is not per-tensor quantized")
        if np.float32(i.scale) != np.float32(o.scale) or i.zero_point != o.zero_point:
            raise SettingsError(
                f"state input {tensor_name(i)} (scale {i.scale}, zero point "
                f"{i.zero_point}) and output {tensor_name(o)} (scale {o.scale}, zero "
                f"point {o.zero_point}) are quantized differently, but the firmware copies the "
                "output bytes into the input; convert with a fixed state range (e.g. "
                "fake_quant min=-1, max=127/128 on the state in and out)"
            )
