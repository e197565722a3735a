"""Export of a converted int8 .tflite keyword-spotting model to TensorFlow Lite Micro firmware.

Modules, by stage (the firmware-writing ones import no TensorFlow; conversion, verification and
long-audio evaluation do):

* :mod:`.convert` -- Keras model -> int8 step (or window) .tflite.
* :mod:`.verify` -- every test clip streamed through TFLM: accuracy, agreement, arena, time.
* :mod:`.feature_quantizer` -- front-end output -> int8 feature input, as the device computes it.
* :mod:`.tflite_model` -- what a .tflite holds: ops, input/output tensors and their quantization.
* :mod:`.tflm` -- runs a model on the real TFLM interpreter (tflite-micro wheel), measures the
  tensor arena, explains allocation failures.
* :mod:`.c_sources` -- the model as a C array, constant tables as C arrays.
* :mod:`.op_resolver` -- ``model_ops.h``, a MicroMutableOpResolver with exactly the model's ops.
* :mod:`.model_settings` -- ``model_settings.h``, every number the firmware needs.
* :mod:`.recognizer` -- Python reference of TFLM micro_speech's RecognizeCommands (the C++ port
  is ``templates/recognize_commands.{h,cc}``).
* :mod:`.firmware` -- writes the whole folder (templates/: the C++ sources, Makefile, tflm.mk).
* :mod:`.device` -- builds the folder against a real TFLM tree and runs it on the host or a
  Cortex-M4 under QEMU (bit-exactness tests, device cost).
* :mod:`.stream` -- long-audio evaluation on TFLM (FRR, false accepts per hour, DET), with the
  ``stream_*`` modules beside it; :mod:`.pipeline` -- export, firmware and the run folders.
"""

from .firmware import FirmwareFile, FirmwareFolder, write_firmware_folder
from .recognizer import Detection, RecognizeCommands
from .tflite_model import TensorInfo, TfliteModelInfo, read_tflite
from .tflm import (
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
