"""Ghost recurrent layers: GhostGRU and GhostLSTM, their cells and the cheap operation."""

from ghost_keras.layers.cheap_ops import CHEAP_OPS, GhostMap, intrinsic_units
from ghost_keras.layers.ghost_gru import GhostGRU, GhostGRUCell
from ghost_keras.layers.ghost_lstm import GhostLSTM, GhostLSTMCell

__all__ = [
    "CHEAP_OPS",
    "GhostGRU",
    "GhostGRUCell",
    "GhostLSTM",
    "GhostLSTMCell",
    "GhostMap",
    "intrinsic_units",
]
