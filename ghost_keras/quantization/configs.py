"""tfmot ``QuantizeConfig`` for layers that quantize themselves."""

from __future__ import annotations

from typing import Any

import tensorflow_model_optimization as tfmot
import tf_keras as keras


@keras.utils.register_keras_serializable(package="ghost_keras")
class SelfQuantizedConfig(tfmot.quantization.keras.QuantizeConfig):
    """Tells tfmot that a layer does its own fake quantization: quantize nothing around it.

    Used for the quantized recurrent layers, whose cells carry their fake quants inside the
    step. Annotating them (instead of leaving them out) makes ``quantize_apply`` quantize the
    model input in front of them; the ``QuantizeWrapperV2`` it adds is removed afterwards, so the
    QAT model keeps a plain ``keras.layers.RNN`` (``layer.cell`` stays callable, ``cell.kernel``
    stays a variable).
    """

    def get_weights_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def get_activations_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def set_quantize_weights(self, layer: keras.layers.Layer, quantize_weights: list) -> None:
        pass

    def set_quantize_activations(self, layer: keras.layers.Layer, quantize_activations: list):
        pass

    def get_output_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def get_config(self) -> dict[str, Any]:
        return {}

