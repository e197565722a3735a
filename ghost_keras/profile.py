"""Efficiency accounting: parameters, int8 bytes, MACs and recurrent state of a KWS model.

Counting conventions (those of Hello Edge, so figures compare with its published ones;
docs/design.md, "Parameters and MACs"):
- MACs are the multiply-accumulates of matrix products and convolutions; element-wise gate
  arithmetic, activations, pooling and batch norm (folded into the convolution on export) are
  not counted.
- ``macs_per_decision``: the model run once over one window (e.g. 49 frames = 1 s).
- ``macs_per_frame``: what runs at every stride when streaming. A recurrent model does one
  step plus its head; a window model (DS-CNN) recomputes its whole window.
- ``int8_bytes``: weights at 1 byte, biases at 4 bytes (int32, TFLite's int8 scheme); batch
  norm folds away (0 bytes).
- ``state_bytes``: int8 recurrent state carried between frames (1 byte a value).

Example:

>>> import ghost_keras
>>> from ghost_keras.models import build_model
>>> from ghost_keras.profile import profile_model
>>> p = profile_model(build_model("ghost_gru", "S", input_shape=(49, 10)))
>>> p.params, p.macs_per_frame
(46212, 45661)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

if __name__ == "__main__":
    # `python -m ghost_keras.profile`: the imports below load TensorFlow, whose C++ start-up
    # lines would reach the terminal; load it quietly first.
    from ghost_keras.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from ghost_keras.layers.base import GhostCellBase  # noqa: E402


@dataclass(frozen=True)
class LayerProfile:
    """Figures of one layer."""

    name: str
    kind: str
    params: int
    int8_bytes: int
    macs_per_step: int  # per frame for recurrent layers, per window application otherwise
    steps_per_decision: int  # how many times the layer runs over one window
    state_bytes: int


@dataclass(frozen=True)
class ModelProfile:
    """Figures of a whole model; see the module docstring for the conventions."""

    name: str
    frames: int
    recurrent: bool
    layers: list[LayerProfile] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def int8_bytes(self) -> int:
        return sum(layer.int8_bytes for layer in self.layers)

    @property
    def state_bytes(self) -> int:
        return sum(layer.state_bytes for layer in self.layers)

    @property
    def macs_per_decision(self) -> int:
        return sum(layer.macs_per_step * layer.steps_per_decision for layer in self.layers)

    @property
    def macs_per_frame(self) -> int:
        if not self.recurrent:
            return self.macs_per_decision
        return sum(layer.macs_per_step for layer in self.layers)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("params", "int8_bytes", "state_bytes", "macs_per_decision", "macs_per_frame"):
            out[key] = getattr(self, key)
        return out

    def table(self) -> str:
        """A per-layer table with totals, like larq's model summary."""
        header = ("Layer", "Kind", "Params", "Int8 bytes", "MACs/frame", "MACs/decision", "State B")
        rows = [header]
        for lp in self.layers:
            per_decision = lp.macs_per_step * lp.steps_per_decision
            per_frame = lp.macs_per_step if self.recurrent else per_decision
            rows.append((lp.name, lp.kind, f"{lp.params:,}", f"{lp.int8_bytes:,}",
                         f"{per_frame:,}", f"{per_decision:,}",
                         f"{lp.state_bytes:,}"))
        rows.append(("Total", "", f"{self.params:,}", f"{self.int8_bytes:,}",
                     f"{self.macs_per_frame:,}", f"{self.macs_per_decision:,}",
                     f"{self.state_bytes:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        rule = "-+-".join("-" * w for w in widths)
        lines = [f"{self.name}: {self.frames} frames per decision, "
                 f"{'streams one frame per step' if self.recurrent else 'recomputes its window'}"]
        for i, row in enumerate(rows):
            if i in (1, len(rows) - 1):
                lines.append(rule)
            lines.append(" | ".join(
                c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))
            ))
        return "\n".join(lines)


def _weight_bytes(layer: keras.layers.Layer) -> int:
    """Weights at 1 byte, biases (rank-1 or the (2, n) GRU bias) at 4 bytes, BN at 0."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return 0
    total = 0
    for w in layer.weights:
        size = int(np.prod(w.shape))
        is_bias = "bias" in w.name.split("/")[-1]
        total += 4 * size if is_bias else size
    return total


def rnn_cell_macs(cell: keras.layers.Layer, input_dim: int) -> int:
    """Multiply-accumulates of one step of a recurrent cell."""
    if isinstance(cell, GhostCellBase):
        m, units = cell.intrinsic_units, cell.units
        ghost = cell.ghost_map.macs() if cell.ghost_map is not None else 0
        if cell.num_gates == 3:  # GRU: gates read [h, g]; candidate: W_hc on h, W_gc on g
            return input_dim * 3 * m + units * 2 * m + m * m + (units - m) * m + ghost
        return (input_dim + units) * cell.num_gates * m + ghost
    gates = {keras.layers.GRUCell: 3, keras.layers.LSTMCell: 4, keras.layers.SimpleRNNCell: 1}
    for cell_class, count in gates.items():
        if isinstance(cell, cell_class):
            return (input_dim + cell.units) * count * cell.units
    raise ValueError(
        f"cannot count MACs of recurrent cell {type(cell).__name__}; supported: GRU, LSTM, "
        "SimpleRNN and the Ghost cells."
    )


def _state_values(cell: keras.layers.Layer) -> int:
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return int(sum(int(s) for s in sizes))


def _layer_profile(layer: keras.layers.Layer, frames: int) -> LayerProfile | None:
    params = layer.count_params()
    kind = type(layer).__name__
    in_shape = layer.input_shape
    out_shape = layer.output_shape
    if isinstance(layer, keras.layers.Bidirectional):
        inner = [_layer_profile(layer.forward_layer, frames), _layer_profile(layer.backward_layer, frames)]
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer),
                            sum(p.macs_per_step for p in inner), frames,
                            sum(p.state_bytes for p in inner))
    if isinstance(layer, keras.layers.RNN):
        macs = rnn_cell_macs(layer.cell, int(in_shape[-1]))
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer), macs, frames,
                            _state_values(layer.cell))
    if isinstance(layer, keras.layers.Dense):
        # A Dense on [batch, time, features] runs once per frame.
        steps = frames if len(in_shape) == 3 else 1
        macs = int(in_shape[-1]) * layer.units
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer), macs, steps, 0)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        macs = int(np.prod(out_shape[1:3])) * kh * kw * int(out_shape[-1])
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer), macs, 1, 0)
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        macs = int(np.prod(out_shape[1:])) * kh * kw * int(in_shape[-1]) // layer.groups
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer), macs, 1, 0)
    if params:
        return LayerProfile(layer.name, kind, params, _weight_bytes(layer), 0, 1, 0)
    return None  # Input, Reshape, ReLU, pooling: nothing to count


def profile_model(model: keras.Model) -> ModelProfile:
    """Counts parameters, int8 bytes, MACs and state of a model built here.

    Args:
        model: A built ``keras.Model`` with input ``[batch, frames, features]``.

    Returns:
        A :class:`ModelProfile`; ``print(profile.table())`` shows it per layer.
    """
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or shape[1] is None:
        raise ValueError(
            f"profile_model needs one input of shape (batch, frames, features) with a fixed "
            f"frame count; {model.name} has {shape}."
        )
    frames = int(shape[1])
    rows = [p for p in (_layer_profile(layer, frames) for layer in model.layers) if p]
    recurrent = any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
                    for layer in model.layers)
    if any(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers):
        recurrent = False  # a backward pass needs the whole window: it cannot stream
    return ModelProfile(model.name, frames, recurrent, rows)



def compare_sizes(input_shape: tuple[int, int] = (49, 10), num_labels: int = 12,
                  ratios: tuple[int, ...] = (2, 4)) -> str:
    """A table of GRU vs GhostGRU (each ratio) at the Hello Edge S/M/L sizes."""
    from ghost_keras.models import build_model  # models imports the layers; keep profile light

    header = ("model", "params", "int8 bytes", "MACs/frame", "MACs/decision", "vs GRU params",
              "vs GRU MACs")
    rows = [header]
    for size in "SML":
        gru = profile_model(build_model("gru", size, input_shape, num_labels))
        variants = [("GRU", gru)] + [
            (f"GhostGRU r{r}", profile_model(build_model("ghost_gru", size, input_shape,
                                                         num_labels, ratio=r)))
            for r in ratios
        ]
        for label, p in variants:
            rows.append((f"{label}-{size}", f"{p.params:,}", f"{p.int8_bytes:,}",
                         f"{p.macs_per_frame:,}", f"{p.macs_per_decision:,}",
                         f"{p.params / gru.params - 1:+.1%}",
                         f"{p.macs_per_decision / gru.macs_per_decision - 1:+.1%}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [" | ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m ghost_keras.profile``: GRU vs GhostGRU sizes."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--input-shape", type=int, nargs=2, default=(49, 10),
                        metavar=("FRAMES", "FEATURES"))
    parser.add_argument("--labels", type=int, default=12)
    args = parser.parse_args(argv)
    print(compare_sizes(tuple(args.input_shape), args.labels))


if __name__ == "__main__":
    main()
