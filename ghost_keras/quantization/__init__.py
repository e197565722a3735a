"""Quantization-aware training (QAT) for int8 TensorFlow Lite Micro.

``quantize_model(model)`` returns a QAT copy of a KWS model whose fake quantization mirrors the
int8 model the TFLite converter makes, recurrent step included: the quantized Ghost GRU / LSTM
cells fake-quantize every int8 tensor of their step, and the recurrent state has one fixed int8
quantization (scale 1/128, zero point 0) at the step's input and output, so the firmware copies
the new state back unchanged. ``calibrate`` sets the learned ranges from data; ``fine_tune``
calibrates and fine-tunes; ``quantize_scope`` loads saved QAT models (``.h5`` / ``.keras``).

Example:

>>> import ghost_keras
>>> from ghost_keras.models import build_model
>>> from ghost_keras.quantization import quantize_model
>>> qat = quantize_model(build_model("ghost_gru", "S", input_shape=(49, 10)))
>>> [type(layer).__name__ for layer in qat.layers]
['InputLayer', 'QuantizeLayer', 'QuantizedGhostGRU', 'QuantizeWrapperV2']
"""

from ghost_keras.quantization.cells import (
    DEFAULT_CELL_STATE_PERCENTILE,
    DEFAULT_CELL_STATE_RANGE,
    SIGMOID_MAX,
    SIGMOID_MIN,
    STATE_MAX,
    STATE_MIN,
    QuantizedGhostGRU,
    QuantizedGhostGRUCell,
    QuantizedGhostLSTM,
    QuantizedGhostLSTMCell,
    state_fake_quant,
)
from ghost_keras.quantization.configs import SelfQuantizedConfig
from ghost_keras.quantization.qat import (
    CUSTOM_OBJECTS,
    calibrate,
    fine_tune,
    quantize_model,
    quantize_scope,
)
from ghost_keras.quantization.run import load_qat_model, qat_model_path, qat_run

__all__ = [
    "CUSTOM_OBJECTS",
    "DEFAULT_CELL_STATE_PERCENTILE",
    "DEFAULT_CELL_STATE_RANGE",
    "QuantizedGhostGRU",
    "QuantizedGhostGRUCell",
    "QuantizedGhostLSTM",
    "QuantizedGhostLSTMCell",
    "SIGMOID_MAX",
    "SIGMOID_MIN",
    "STATE_MAX",
    "STATE_MIN",
    "SelfQuantizedConfig",
    "calibrate",
    "fine_tune",
    "load_qat_model",
    "qat_model_path",
    "qat_run",
    "quantize_model",
    "quantize_scope",
    "state_fake_quant",
]
