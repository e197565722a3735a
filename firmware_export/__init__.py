"""Export of a converted int8 .tflite keyword-spotting model to TensorFlow Lite Micro firmware.

Subpackages and modules, by stage (``firmware/`` imports no TensorFlow; conversion,
verification and long-audio evaluation do):

* convert -- :mod:`.convert` (Keras model -> int8 step or window .tflite), :mod:`.tflite_model`
  (what a .tflite holds: ops, tensors, quantization), :mod:`.feature_quantizer` (front-end
  output -> int8 feature input, as the device computes it).
* verify -- :mod:`.tflm` (the real TFLM interpreter of the tflite-micro wheel, arena
  measurement, allocation errors explained), :mod:`.tflm_step_runner` (a model run invoke by
  invoke with its states carried, as the firmware does), :mod:`.verify` (every test clip streamed through
  TFLM: accuracy, agreement, arena, time).
* firmware -- :mod:`.firmware` (the C++ folder: settings and op headers, C arrays, templates,
  the recognizer's Python reference).
* device -- :mod:`.device` (builds the folder against a real TFLM tree and runs it on the host
  or a Cortex-M4 under QEMU: bit-exactness tests, device cost).
* evaluate -- :mod:`.evaluate` (long audio on TFLM as the firmware runs it: FRR, false accepts
  per hour, DET).
* :mod:`.pipeline` -- the run folder's export and firmware, stage after stage.
"""

from firmware_export.firmware.folder import FirmwareFile, FirmwareFolder, write_firmware_folder
from firmware_export.firmware.recognizer import Detection, RecognizeCommands
from firmware_export.tflite_model import TensorInfo, TfliteModelInfo, read_tflite
from firmware_export.tflm import (
    TflmArenaTooSmallError,
    TflmError,
    TflmInterpreter,
    TflmMissingOpError,
    find_smallest_arena,
    measure_arena,
)

__all__ = [
    "Detection",
    "FirmwareFile",
    "FirmwareFolder",
    "RecognizeCommands",
    "TensorInfo",
    "TflmArenaTooSmallError",
    "TflmError",
    "TflmInterpreter",
    "TflmMissingOpError",
    "TfliteModelInfo",
    "find_smallest_arena",
    "measure_arena",
    "read_tflite",
    "write_firmware_folder",
]
