"""Capture of C-level stderr: TensorFlow's and TFLM's C++ write there, past ``sys.stderr``."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator

_libc = ctypes.CDLL(None)

#: TensorFlow start-up and converter lines that say nothing to a user.
NOISE = ("All log messages before absl::InitializeLog", "port.cc:", "cudart_stub.cc:",
         "cpu_feature_guard.cc:", "To enable the following instructions", "cuda_platform.cc:",
         "cuda_executor.cc:", "Unable to register cu", "fully_quantize:")


@contextlib.contextmanager
def capture_c_stderr() -> Iterator[list[str]]:
    """Redirects file descriptor 2 to a temporary file; yields a list that receives the text.

    C++ code writes with ``fprintf(stderr, ...)``, which Python's ``sys.stderr`` never sees, so
    the redirection has to happen at the descriptor level.
    """
    sink: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            os.dup2(tmp.fileno(), 2)
            yield sink
        finally:
            _libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", errors="replace"))


@contextlib.contextmanager
def filtered_c_stderr() -> Iterator[None]:
    """Runs the block with C-level stderr captured, then passes on all but :data:`NOISE`."""
    with capture_c_stderr() as log:
        yield
    for line in log[0].splitlines():
        if not any(noise in line for noise in NOISE):
            print(line, file=sys.stderr)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow without its C++ start-up lines (oneDNN, CUDA probing): they are
    printed before TensorFlow reads its log-level variable, so no setting hides them."""
    import ghost_keras  # noqa: F401  (selects tf-keras before TensorFlow loads)

    with filtered_c_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
