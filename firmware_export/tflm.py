"""Runs a .tflite model on the real TFLite Micro interpreter (PyPI ``tflite-micro``).

What the wheel's ``tflite_micro.runtime.Interpreter`` offers, and what this module adds:

* ``Interpreter.from_bytes(model, arena_size=N)`` allocates a heap arena of N bytes and runs
  ``AllocateTensors()`` in the constructor; on failure it raises only
  ``RuntimeError("TFLM failed to allocate tensors")``. The reason (arena too small by how many
  bytes, an op without kernel) is printed by TFLM's ``MicroPrintf`` on the C-level stderr. This
  module captures file descriptor 2 around the call and turns the log into
  :class:`TflmArenaTooSmallError` / :class:`TflmMissingOpError`.
* Arena measurement: there is no ``arena_used_bytes()``. With the default
  ``InterpreterConfig.kAllocationRecording`` the arena is managed by a
  ``RecordingMicroAllocator`` whose ``print_allocations()`` prints (to C stderr)
  "Arena allocation total/head/tail N bytes"; :meth:`TflmInterpreter.arena_usage` parses that.
  The recorded total is *less* than the smallest arena that works (temporary allocations made
  while preparing kernels are not counted), so :func:`find_smallest_arena` bisects on real
  interpreters instead.
* Arenas below ~500 bytes crash the process (segfault: the allocator cannot place itself and
  TFLM does not check). :data:`MIN_ARENA_BYTES` keeps every probe above that.
* ``set_input`` / ``invoke`` / ``get_output`` / ``reset`` work by input/output index, the same
  order as ``tf.lite.Interpreter`` and ``MicroInterpreter::input(i)``.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from tflite_micro.python.tflite_micro import runtime as tflm_runtime

from ghost_keras.quiet import capture_c_stderr

from firmware_export.firmware.op_resolver import TFLM_OP_METHODS
from firmware_export.tflite_model import TensorInfo, TfliteModelInfo, load_model_bytes, read_tflite

ARENA_ALIGNMENT = 16
"""TFLM aligns every arena allocation to 16 bytes (MicroArenaBufferAlignment()); sizes probed
and recommended are multiples of it."""

MIN_ARENA_BYTES = 1024
"""Smallest arena ever handed to the wheel: below ~500 bytes the RecordingMicroAllocator cannot
place itself and the process segfaults instead of raising (measured, tflite-micro 2026-10)."""

MAX_ARENA_BYTES = 64 * 1024 * 1024
"""Upper bound of the arena search: a keyword-spotting model needing more is a mistake."""


class TflmError(RuntimeError):
    """TFLM refused the model or failed to run it; the message carries TFLM's own log."""


class TflmMissingOpError(TflmError):
    """The model uses an operator TFLM has no kernel for (``op`` names it)."""

    def __init__(self, op: str, log: str = ""):
        self.op = op
        super().__init__(
            f"TFLM has no kernel for operator {op}; change the model so the converter does not "
            f"emit it" + (f"\nTFLM log:\n{log}" if log else "")
        )


class TflmArenaTooSmallError(TflmError):
    """``AllocateTensors()`` ran out of tensor arena."""

    def __init__(self, arena_bytes: int, missing_bytes: int | None, log: str = ""):
        self.arena_bytes = arena_bytes
        self.missing_bytes = missing_bytes
        shortfall = f" (one allocation alone was {missing_bytes} bytes short)" if missing_bytes else ""
        super().__init__(
            f"model needs more than {arena_bytes} bytes of tensor arena{shortfall}; "
            "give a larger arena_bytes, or let firmware_export.tflm.find_smallest_arena() "
            "measure it" + (f"\nTFLM log:\n{log}" if log else "")
        )


@dataclass(frozen=True)
class ArenaUsage:
    """What TFLM's RecordingMicroAllocator recorded (``print_allocations()``), in bytes.

    ``head`` is the non-persistent (planned, reused) part, ``tail`` the persistent part
    (tensor structs, kernel data, the allocator itself); ``total = head + tail``.
    """

    total: int
    head: int
    tail: int


@dataclass(frozen=True)
class ArenaMeasurement:
    """Arena needs of a model on the host TFLM."""

    smallest_bytes: int
    """Smallest multiple of 16 for which ``AllocateTensors()`` and one ``Invoke()`` succeed."""
    recorded: ArenaUsage
    """What the recording allocator reports with that arena."""


@dataclass(frozen=True)
class InvokeTiming:
    """Host wall-clock time of ``Invoke()`` in microseconds (a relative measure only: the
    reference kernels on a PC say little about a Cortex-M)."""

    repeats: int
    mean_us: float
    median_us: float
    min_us: float


# -- C-level stderr capture ---------------------------------------------------------------------

_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")
_MISSING_CUSTOM = re.compile(r"Didn't find op for custom opcode '([^']+)'")
_MISSING_BYTES = re.compile(r"missing: (\d+)")
# Every way TFLM's allocator and memory planner report running out of arena (read from
# micro_allocator.cc, single_arena_buffer_allocator.cc, greedy_memory_planner.cc). The greedy
# planner sizes its bookkeeping from the arena left over, so "Too many buffers" is a shortage too.
_ALLOC_FAILURE = re.compile(
    r"Failed to (allocate|resize)|Unable to allocate|bytes required|Too many buffers"
    r"|Requested: \d+, available \d+"
)
_RECORDED = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def _check_ops_known(info: TfliteModelInfo) -> None:
    """Raises :class:`TflmMissingOpError` for the first op no TFLM resolver can register."""
    for op in info.ops:
        if op.startswith("CUSTOM:") or op not in TFLM_OP_METHODS:
            raise TflmMissingOpError(op)


class TflmInterpreter:
    """One TFLM ``MicroInterpreter`` with a fixed arena, fed and read through numpy.

    Raises :class:`TflmMissingOpError` if the model uses an op TFLM lacks (checked before TFLM
    sees the model, and again from TFLM's log) and :class:`TflmArenaTooSmallError` if
    ``arena_bytes`` is not enough.
    """

    def __init__(
        self,
        model: bytes | str | os.PathLike,
        arena_bytes: int,
        *,
        check_ops: bool = True,
    ):
        self.model_bytes = load_model_bytes(model)
        self.info = read_tflite(self.model_bytes)
        if check_ops:
            _check_ops_known(self.info)
        if arena_bytes < MIN_ARENA_BYTES:
            # Never hand TFLM such an arena: it segfaults instead of reporting.
            raise TflmArenaTooSmallError(
                arena_bytes, None,
                f"(not tried: arenas under {MIN_ARENA_BYTES} bytes crash the TFLM Python wrapper)")
        self.arena_bytes = int(arena_bytes)
        with capture_c_stderr() as log:
            try:
                self._interp = tflm_runtime.Interpreter.from_bytes(
                    self.model_bytes, arena_size=self.arena_bytes
                )
                error = None
            except RuntimeError as e:  # the wheel's only message: "failed to allocate tensors"
                error = e
        if error is not None:
            raise _explain_failure(self.arena_bytes, log[0], error) from error

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        return self.info.inputs

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        return self.info.outputs

    def set_input(self, index: int, data: np.ndarray) -> None:
        """Copies ``data`` into input ``index``; its dtype must be the tensor's, its size equal
        (a flat array or any shape with the same element count is reshaped)."""
        tensor = self._tensor(self.info.inputs, index, "input")
        array = np.asarray(data)
        if array.dtype != np.dtype(tensor.dtype):
            raise TypeError(
                f"input {index} ({tensor.signature_name or tensor.name}) is {tensor.dtype}, "
                f"got {array.dtype}; quantize first (firmware_export.tflm.quantize)"
            )
        if array.size != tensor.size:
            raise ValueError(
                f"input {index} ({tensor.signature_name or tensor.name}) has shape "
                f"{tensor.shape}, got {array.shape}"
            )
        self._interp.set_input(np.ascontiguousarray(array.reshape(tensor.shape)), index)

    def invoke(self) -> None:
        """Runs the model once; raises :class:`TflmError` with TFLM's log if it fails."""
        with capture_c_stderr() as log:
            try:
                self._interp.invoke()
                error = None
            except RuntimeError as e:
                error = e
        if error is not None:
            raise TflmError(f"TFLM Invoke() failed: {error}\nTFLM log:\n{log[0]}") from error

    def get_output(self, index: int) -> np.ndarray:
        """A copy of output ``index`` after the last :meth:`invoke`."""
        self._tensor(self.info.outputs, index, "output")
        return np.array(self._interp.get_output(index))

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Sets every input (in input order), invokes once, returns every output."""
        if len(inputs) != len(self.info.inputs):
            raise ValueError(f"model has {len(self.info.inputs)} inputs, got {len(inputs)}")
        for i, data in enumerate(inputs):
            self.set_input(i, data)
        self.invoke()
        return [self.get_output(i) for i in range(len(self.info.outputs))]

    @property
    def raw(self) -> "tflm_runtime.Interpreter":
        """The wheel's interpreter, for hot loops that checked their inputs once:
        :meth:`invoke`'s log capture (a temporary file per call) costs more than a KWS step."""
        return self._interp

    def reset(self) -> None:
        """TFLM ``Reset()``: back to the state right after allocation (zeroes variables)."""
        self._interp.reset()

    def arena_usage(self) -> ArenaUsage:
        """What the RecordingMicroAllocator recorded for this interpreter."""
        with capture_c_stderr() as log:
            self._interp.print_allocations()
        found = dict((k, int(v)) for k, v in _RECORDED.findall(log[0]))
        if set(found) != {"total", "head", "tail"}:
            raise TflmError(f"could not parse TFLM's allocation report:\n{log[0]}")
        return ArenaUsage(total=found["total"], head=found["head"], tail=found["tail"])

    @staticmethod
    def _tensor(tensors: tuple[TensorInfo, ...], index: int, kind: str) -> TensorInfo:
        if not 0 <= index < len(tensors):
            raise IndexError(f"model has {len(tensors)} {kind}s, no {kind} {index}")
        return tensors[index]


def _explain_failure(arena_bytes: int, log: str, error: Exception) -> TflmError:
    """Turns TFLM's log of a failed ``AllocateTensors()`` into the matching error."""
    if m := _MISSING_OP.search(log):
        return TflmMissingOpError(m.group(1), log)
    if m := _MISSING_CUSTOM.search(log):
        return TflmMissingOpError(f"CUSTOM:{m.group(1)}", log)
    if _ALLOC_FAILURE.search(log):
        missing = [int(x) for x in _MISSING_BYTES.findall(log)]
        return TflmArenaTooSmallError(arena_bytes, max(missing) if missing else None, log)
    return TflmError(f"TFLM could not load the model: {error}\nTFLM log:\n{log}")


# -- arena measurement --------------------------------------------------------------------------


def _align_up(n: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return -(-int(n) // alignment) * alignment


def _works(model: bytes, arena_bytes: int) -> bool:
    """True if TFLM allocates the model in ``arena_bytes`` and one invoke on zeros succeeds."""
    try:
        interp = TflmInterpreter(model, arena_bytes, check_ops=False)
        for t in interp.inputs:
            interp.set_input(t.index, np.zeros(t.shape, dtype=t.dtype))
        interp.invoke()
    except TflmArenaTooSmallError:
        # Includes kernels that fail to prepare for lack of scratch memory: TFLM logs an
        # allocation failure for those too. Any other TflmError is a real problem and
        # propagates rather than being mistaken for "too small".
        return False
    return True


def find_smallest_arena(
    model: bytes | str | os.PathLike, *, upper_bytes: int | None = None
) -> int:
    """The smallest arena (a multiple of 16 bytes) in which the host TFLM allocates the model
    and invokes it once. Deterministic: the wheel's arena comes from ``new uint8_t[]`` (16-byte
    aligned on 64-bit glibc), so the same model always gives the same number.

    Bisection between :data:`MIN_ARENA_BYTES` and a working upper bound (``upper_bytes``, else
    doubled from 16 KiB until it works, at most :data:`MAX_ARENA_BYTES`).
    """
    data = load_model_bytes(model)
    _check_ops_known(read_tflite(data))
    hi = _align_up(upper_bytes) if upper_bytes else 16 * 1024
    while not _works(data, hi):
        if upper_bytes:
            raise TflmArenaTooSmallError(hi, None)
        if hi >= MAX_ARENA_BYTES:
            raise TflmError(f"model does not allocate even with {MAX_ARENA_BYTES} bytes of arena")
        hi *= 2
    if _works(data, MIN_ARENA_BYTES):
        return MIN_ARENA_BYTES
    lo = MIN_ARENA_BYTES
    while hi - lo > ARENA_ALIGNMENT:  # invariant: lo fails, hi works
        mid = _align_up((lo + hi) // 2)
        if mid >= hi:
            break
        if _works(data, mid):
            hi = mid
        else:
            lo = mid
    return hi


def measure_arena(model: bytes | str | os.PathLike) -> ArenaMeasurement:
    """Smallest working arena plus the recording allocator's report at that size."""
    data = load_model_bytes(model)
    smallest = find_smallest_arena(data)
    return ArenaMeasurement(
        smallest_bytes=smallest, recorded=TflmInterpreter(data, smallest).arena_usage()
    )


def recommended_arena_bytes(measured_bytes: int, margin: float = 0.10) -> int:
    """``measured_bytes`` plus ``margin`` (default 10 %), rounded up to 16 bytes.

    Why a margin: the host measurement uses TFLM's reference kernels on a 64-bit build. A
    Cortex-M build has 4-byte pointers (smaller tensor structs, so usually *less* arena), but
    optimized kernels (CMSIS-NN) request scratch buffers the reference kernels do not, and
    allocator overhead shifts between TFLM versions. 10 % covers that for small KWS models
    without wasting much RAM; the rounding keeps the arena a whole number of 16-byte blocks.
    """
    if margin < 0:
        raise ValueError("margin must be >= 0")
    # Exact decimal arithmetic: 3520 * 1.1 in binary floating point is 3872.0000000000005.
    needed = math.ceil(measured_bytes * (1 + Fraction(repr(float(margin)))))
    return _align_up(needed)


# -- quantization helpers -----------------------------------------------------------------------


def _qparams(tensor: TensorInfo) -> tuple[float, int, np.dtype]:
    if not tensor.is_quantized:
        raise ValueError(
            f"tensor {tensor.signature_name or tensor.name} is not per-tensor quantized"
        )
    return float(tensor.scale), int(tensor.zero_point), np.dtype(tensor.dtype)


def quantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float ``values`` -> the tensor's integer type: ``round(x / scale) + zero_point``, clipped.

    Rounds half to even (numpy), as TFLite's own QUANTIZE reference does for float inputs.
    """
    scale, zp, dtype = _qparams(tensor)
    info = np.iinfo(dtype)
    q = np.round(np.asarray(values, dtype=np.float64) / scale) + zp
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Integer ``values`` of the tensor -> float32 ``(q - zero_point) * scale``."""
    scale, zp, _ = _qparams(tensor)
    return ((np.asarray(values, dtype=np.int32) - zp) * scale).astype(np.float32)


# -- timing -------------------------------------------------------------------------------------


def time_invoke(
    interpreter: TflmInterpreter,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    repeats: int = 100,
    warmup: int = 3,
) -> InvokeTiming:
    """Times ``repeats`` invokes (after ``warmup``) on the host; inputs are set once (zeros if
    not given), so only ``Invoke()`` is measured."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    if inputs is None:
        inputs = [np.zeros(t.shape, dtype=t.dtype) for t in interpreter.inputs]
    for i, data in enumerate(inputs):
        interpreter.set_input(i, data)
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(repeats)
    for r in range(repeats):
        t0 = time.perf_counter()
        interpreter.raw.invoke()  # the bare call: no log capture inside the timed region
        times[r] = time.perf_counter() - t0
    times *= 1e6
    return InvokeTiming(
        repeats=repeats,
        mean_us=float(times.mean()),
        median_us=float(np.median(times)),
        min_us=float(times.min()),
    )
