"""ghost-keras: GhostRNN keyword spotting, from Keras training to TFLite Micro firmware.

Importing this package selects Keras 2 (tf-keras) for TensorFlow, which
tensorflow-model-optimization 0.8 requires, and keeps TensorFlow's C++ logging quiet.
Import ``ghost_keras`` before ``tensorflow`` so the choice takes effect.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# Level 3: TF 2.21 prints oneDNN/CUDA probing lines at level 2 too; set the variable to see them.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
