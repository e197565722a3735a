"""The firmware folder: the C++ application around TFLite Micro that a user builds and flashes.

* :mod:`.folder` -- writes the whole folder (``templates/``: the C++ sources, Makefile, tflm.mk)
  and its README and manifest.
* :mod:`.model_settings` -- ``model_settings.h``, every number the firmware needs.
* :mod:`.tensor_roles` -- which model tensor is the feature input, the scores and each state.
* :mod:`.op_resolver` -- ``model_ops.h``, a MicroMutableOpResolver with exactly the model's ops
  (and the int8 LOGISTIC/TANH table kernels).
* :mod:`.c_sources` -- the model as a C array, constant tables as C arrays.
* :mod:`.recognizer` -- Python reference of TFLM micro_speech's RecognizeCommands (the C++ port
  is ``templates/recognize_commands.{h,cc}``).

None of these imports TensorFlow.
"""

from firmware_export.firmware.folder import FirmwareFile, FirmwareFolder, write_firmware_folder
from firmware_export.firmware.recognizer import Detection, RecognizeCommands

__all__ = ["Detection", "FirmwareFile", "FirmwareFolder", "RecognizeCommands",
           "write_firmware_folder"]
