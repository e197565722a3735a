"""Runs a built firmware harness on a WAV (natively, or on a Cortex-M4 under QEMU) and reads
back what the firmware computed: every invoke's features, scores and new state, the
detections, and on the M4 the setup heap and the instructions per invoke and per stride.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_export.convert import ExportedModel

from .build import BuildError

QEMU_MACHINE = "mps2-an386"  # a Cortex-M4 board


@dataclass(frozen=True)
class Detection:
    time_ms: int
    label: str
    score: int


@dataclass
class DeviceRun:
    """What the firmware computed over one WAV.

    Attributes:
        times_ms: int64 [invokes], audio time of each invoke.
        features, scores, states: int8 [invokes, bytes]: the model's feature input, its
            scores and the new state (all states back to back) of each invoke.
        detections: in order.
        profile: ``heap_arena_bytes``, ``heap_in_use_bytes``, ``calibration_*`` (M4 only).
        invoke_instructions, stride_instructions: executed instructions per ``Invoke()`` and
            per ``KwsStep()`` (M4 under QEMU only; instructions, not cycles).
    """

    times_ms: np.ndarray
    features: np.ndarray
    scores: np.ndarray
    states: np.ndarray
    detections: list[Detection]
    profile: dict[str, int] = field(default_factory=dict)
    invoke_instructions: np.ndarray | None = None
    stride_instructions: np.ndarray | None = None


def qemu_command(elf: str | os.PathLike, args: list[str]) -> list[str]:
    """The QEMU command line that runs a Cortex-M4 ELF with semihosting (argv from ``args``).
    ``-icount shift=0``: deterministic, one instruction per nanosecond of virtual time."""
    for a in [str(elf), *args]:
        if "," in a:
            raise BuildError(f"QEMU's -semihosting-config cannot pass a comma: {a}")
    config = ",".join(["enable=on", "target=native", f"arg={elf}", *(f"arg={a}" for a in args)])
    return ["qemu-system-arm", "-M", QEMU_MACHINE, "-nographic", "-monitor", "none",
            "-icount", "shift=0", "-semihosting-config", config, "-kernel", str(elf)]


def _read_profile(path: Path) -> tuple[dict[str, int], list[int], list[int]]:
    profile, invokes, strides = {}, [], []
    for line in path.read_text().splitlines():
        key, value = line.split()
        if key == "invoke":
            invokes.append(int(value))
        elif key == "stride":
            strides.append(int(value))
        else:
            profile[key] = int(value)
    return profile, invokes, strides


def _run(executable: str | os.PathLike, args: list[str], target: str,
         timeout_s: float) -> subprocess.CompletedProcess:
    cmd = qemu_command(executable, args) if target == "cortex-m4" else [str(executable), *args]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"{Path(executable).name} did not finish in {timeout_s:.0f} s") from e
    if result.returncode != 0:
        raise BuildError(f"{Path(executable).name} on {target} exited with "
                         f"{result.returncode}: {(result.stderr or result.stdout)[-2000:]}")
    return result


def run_probe(executable: str | os.PathLike, *, target: str,
              timeout_s: float = 300) -> dict[str, int]:
    """Runs the device probe (:data:`~firmware_export.device.build.PROBE`): ``arena_bytes``,
    the smallest arena that allocates and invokes, and on the M4 ``frontend_heap_in_use_bytes``
    and ``heap_arena_bytes`` (what the heap held after the front end's setup)."""
    out = _run(executable, [], target, timeout_s).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines() if line.strip())}


def operator_instructions(probe: dict[str, int]) -> list[tuple[str, int]]:
    """``(op name, instructions)`` per operator of one Invoke(), in graph order, from a
    :func:`run_probe` result on the M4."""
    rows = []
    for key, value in probe.items():
        if key.startswith("op_instructions_"):
            index, name = key[len("op_instructions_"):].split("_", 1)
            rows.append((int(index), name, value))
    return [(name, value) for _, name, value in sorted(rows)]


def run_harness(executable: str | os.PathLike, wav: str | os.PathLike, exported: ExportedModel,
                *, target: str, timeout_s: float = 900) -> DeviceRun:
    """Runs the harness built by :func:`firmware_export.device.build.build_harness` for the
    folder of ``exported`` on ``wav``."""
    frames = 1 if exported.kind == "step" else exported.frames
    feature_bytes, score_bytes = frames * exported.feature_dim, exported.num_labels
    state_bytes = sum(exported.state_sizes)
    with tempfile.TemporaryDirectory(prefix="kws_run_") as tmp:
        outs = [Path(tmp) / n for n in ("trace.bin", "detections.txt", "profile.txt")]
        _run(executable, [str(Path(wav).resolve()), *map(str, outs)], target, timeout_s)
        record = np.dtype([("time_ms", "<i8"), ("features", "i1", (feature_bytes,)),
                           ("scores", "i1", (score_bytes,)), ("state", "i1", (state_bytes,))])
        if outs[0].stat().st_size % record.itemsize:
            raise BuildError(f"the trace is not whole {record.itemsize}-byte records: the "
                             "harness was built for another model")
        trace = np.fromfile(outs[0], dtype=record)
        detections = []
        for line in outs[1].read_text().splitlines():
            t, label, score = line.split()
            detections.append(Detection(int(t), label, int(score)))
        profile, invokes, strides = _read_profile(outs[2])
    run = DeviceRun(trace["time_ms"], trace["features"], trace["scores"], trace["state"],
                    detections, profile)
    if "calibration_ticks" in profile:
        per_tick = profile["calibration_instructions"] / profile["calibration_ticks"]
        run.invoke_instructions = np.rint(np.asarray(invokes) * per_tick).astype(np.int64)
        run.stride_instructions = np.rint(np.asarray(strides) * per_tick).astype(np.int64)
    return run


def measure_on_device(folder: str | os.PathLike, tree: str | os.PathLike, *,
                      cmsis_dsp: str | os.PathLike | None = None) -> dict[str, int]:
    """Builds ``folder``'s device probe against a Cortex-M4 TFLM tree and runs it under QEMU:
    the smallest arena in which the model allocates and invokes on the 32-bit target
    (``arena_bytes``) and the front end's heap after setup (``frontend_heap_in_use_bytes``)."""
    from .build import PROBE, build_app

    with tempfile.TemporaryDirectory(prefix="kws_probe_") as tmp:
        probe = build_app(folder, tree, tmp, "cortex-m4", app=PROBE, cmsis_dsp=cmsis_dsp)
        return run_probe(probe, target="cortex-m4")
