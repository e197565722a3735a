"""Device cost of an exported run on a Cortex-M4: its firmware folder built with the folder's
Makefile against TFLM (CMSIS-NN and reference kernels) and run under QEMU on real audio.

Per kernel set: flash (text + data) and static RAM (data + bss) of the whole test firmware
(folder + TFLM + front end + newlib with semihosting + the WAV harness), the heap the front end
takes at setup, the smallest tensor arena that allocates and invokes (bisected on the M4), and
the executed instructions per ``Invoke()`` and per 20 ms stride (front end + invoke +
recognizer), medians over the audio. The folder runs int8 LOGISTIC/TANH/SOFTMAX (tables),
FULLY_CONNECTED and ADD/SUB/MUL on its own kernels (TFLM's bytes, fewer instructions); for
CMSIS-NN also side by side in the same run with only the folder's LOGISTIC/TANH tables
(``cmsis_nn_activation_tables``: what the other kernels remove) and with none
(``cmsis_nn_tflm_kernels``: TFLM's and CMSIS-NN's kernels only). Instructions, not cycles: QEMU counts instructions
(``-icount``); a Cortex-M4 spends more cycles than that on loads, multiplies and branches.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from firmware_export.firmware.op_resolver import FOLDER_KERNELS

KERNELS = {"cmsis_nn": "cortex_m4_cmsis_nn", "reference": "reference"}
#: Rows measured besides one per kernel set: (row, kernel set, the folder's own kernels).
CMSIS_NN_VARIANTS = (("cmsis_nn_activation_tables", "cmsis_nn", ("LOGISTIC", "TANH")),
                     ("cmsis_nn_tflm_kernels", "cmsis_nn", ()))


def tflm_trees() -> Path | None:
    """The folder holding the TFLM trees (``reference/``, ``cortex_m4_cmsis_nn/``):
    ``$GHOST_KERAS_TFLM_TREES``, else ``shared/third_party/tflite-micro`` beside the checkout."""
    root = Path(os.environ.get("GHOST_KERAS_TFLM_TREES", Path(__file__).resolve().parents[2]
                               / "shared" / "third_party" / "tflite-micro"))
    return root if all((root / t).is_dir() for t in KERNELS.values()) else None


def elf_sizes(elf: Path) -> dict[str, int]:
    """``arm-none-eabi-size`` (Berkeley): text, data, bss of an ELF."""
    out = subprocess.run(["arm-none-eabi-size", "-B", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    return {"text": int(out[0]), "data": int(out[1]), "bss": int(out[2])}


def speech_wav(clips_dir: Path, seconds: int, path: Path) -> Path:
    """``seconds`` of real clips from a Speech Commands folder, back to back, as a WAV."""
    import wave

    import soundfile as sf

    files = sorted(clips_dir.glob("*/*.wav"))
    if len(files) < seconds:
        raise SystemExit(f"{clips_dir} has fewer than {seconds} clips for the device benchmark")
    files = files[:: len(files) // seconds][:seconds]
    audio = np.concatenate([sf.read(f, dtype="int16")[0] for f in files])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(audio.tobytes())
    return path


def device_cost(run_dir: Path, wav: Path, trees: Path,
                kernels: tuple[str, ...] = tuple(KERNELS),
                variants: tuple[tuple[str, str, tuple[str, ...]], ...] = CMSIS_NN_VARIANTS,
                ) -> dict[str, Any]:
    """The Cortex-M4 figures of one exported run (see the module docstring), per kernel set
    and per row of ``variants`` (:data:`CMSIS_NN_VARIANTS`, measured when ``kernels`` has
    CMSIS-NN)."""
    from firmware_export.device.build import HARNESS, PROBE, build_app, cmsis_dsp_sources
    from firmware_export.device.run import run_harness, run_probe
    from firmware_export.pipeline import write_run_firmware
    from firmware_export.evaluate import load_export

    loaded = load_export(run_dir)
    cmsis = cmsis_dsp_sources() if loaded.frontend.kind != "microfrontend" else None
    row: dict[str, Any] = {}
    rows = [(k, k, tuple(FOLDER_KERNELS)) for k in kernels]
    if "cmsis_nn" in kernels:
        rows += variants
    folders: dict[tuple[str, ...], Path] = {}
    with tempfile.TemporaryDirectory(prefix="device_cost_") as tmp:
        for name, kernel_set, own in rows:
            if own not in folders:
                folders[own] = write_run_firmware(run_dir, Path(tmp) / f"fw-{len(folders)}",
                                                  tflm_tree=trees / KERNELS["cmsis_nn"],
                                                  folder_kernels=own).path
            folder = folders[own]
            tree = KERNELS[kernel_set]
            build = Path(tmp) / name
            probe = run_probe(build_app(folder, trees / tree, build, "cortex-m4", app=PROBE,
                                        cmsis_dsp=cmsis), target="cortex-m4")
            harness = build_app(folder, trees / tree, build, "cortex-m4", app=HARNESS,
                                cmsis_dsp=cmsis, arena_bytes=probe["arena_bytes"])
            run = run_harness(harness, wav, loaded.exported, target="cortex-m4")
            size = elf_sizes(harness)
            row[name] = {
                "flash_bytes": size["text"] + size["data"],
                "static_ram_bytes": size["data"] + size["bss"],
                "frontend_heap_bytes": probe.get("frontend_heap_in_use_bytes"),
                "arena_bytes": probe["arena_bytes"],
                "instructions_per_invoke": int(np.median(run.invoke_instructions)),
                "instructions_per_stride": int(np.median(run.stride_instructions)),
                "instructions_per_stride_mean": int(np.mean(run.stride_instructions)),
                "invokes": len(run.invoke_instructions),
            }
    row["model_bytes"] = len(loaded.exported.tflite)
    return row
