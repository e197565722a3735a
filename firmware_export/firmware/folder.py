"""Writes the firmware folder: model array, op resolver, settings, front end, loop, README.

One call, :func:`write_firmware_folder`, renders every file in memory first (so a bad setting
fails before anything is written), then writes each file atomically. The output is a pure
function of the inputs -- no dates, no absolute paths -- so re-running with the same model and
settings gives byte-identical files; unchanged files are not rewritten (their mtime stays, so
an incremental build does not recompile them).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ghost_keras.features.config import CMSIS_MFCC, MICROFRONTEND, FrontendConfig
from ghost_keras.features.device_settings import manifest_frontend
from ghost_keras.fileio import atomic_write_bytes

from .c_sources import render_c_arrays, render_model_data, validate_c_identifier
from .model_settings import (
    ArenaChoice,
    FirmwareSettings,
    SettingsError,
    build_settings,
    render_model_settings_header,
)
from .op_resolver import (
    FOLDER_KERNELS,
    SAME_SHAPE_KERNEL_OPS,
    TABLE_KERNEL_BYTES,
    folder_kernel_ops,
    render_model_ops_header,
)
from .tensor_roles import tensor_name
from firmware_export.tflite_model import TfliteModelInfo, load_model_bytes, read_tflite
from firmware_export.tflm import measure_arena, recommended_arena_bytes

MANIFEST_NAME = "ghost_kws_manifest.json"
ARENA_MARGIN = 0.10

# Template files copied as they are; the front-end implementation is picked by kind.
_COMMON_TEMPLATES = (
    "Makefile",
    "tflm.mk",
    "kws_main.h",
    "kws_main.cc",
    "kws_frontend.h",
    "recognize_commands.h",
    "recognize_commands.cc",
)
# The folder's own kernels (op_resolver.FOLDER_KERNELS): each header and its .cc, in folders
# whose model uses them.
#: TFLM's requantization, inline, shared by the folder's FULLY_CONNECTED and ADD/SUB/MUL kernels.
REQUANTIZE_HEADER = "kws_requantize.h"
_FRONTEND_TEMPLATES = {
    MICROFRONTEND: "frontend_microfrontend.cc",
    CMSIS_MFCC: "frontend_cmsis_mfcc.cc",
}
TABLE_PREFIX = "kws_"


@dataclass(frozen=True)
class FirmwareFile:
    """One written file: its name inside the folder, size and SHA-256."""

    name: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class FirmwareFolder:
    """What :func:`write_firmware_folder` wrote."""

    path: Path
    files: tuple[FirmwareFile, ...]
    model: TfliteModelInfo
    settings: FirmwareSettings

    @property
    def arena_bytes(self) -> int:
        return self.settings.arena.arena_bytes

    def file(self, name: str) -> FirmwareFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


def template_text(name: str) -> str:
    """The text of ``firmware_export/firmware/templates/<name>``."""
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def frontend_table_spec(frontend: FrontendConfig) -> dict[str, tuple[type, int | None]]:
    """Tables the front-end file needs: name -> (dtype, length or None when it depends on the
    filters). MFCC: ``arm_mfcc_init_q15``'s arguments; microfrontend: the window and filterbank
    tables of the training front end (:mod:`ghost_keras.features.microfrontend_tables`)."""
    n_mel = frontend.num_channels
    if frontend.kind == MICROFRONTEND:
        return {
            "window_coefficients": (np.int16, frontend.window_samples),
            "filterbank_start_index": (np.int32, 1),
            "filterbank_end_index": (np.int32, 1),
            "filterbank_channel_frequency_starts": (np.int16, n_mel + 1),
            "filterbank_channel_weight_starts": (np.int16, n_mel + 1),
            "filterbank_channel_widths": (np.int16, n_mel + 1),
            "filterbank_weights": (np.int16, None),
            "filterbank_unweights": (np.int16, None),
        }
    return {
        "window_coefs": (np.int16, frontend.fft_length),  # q15, applied to fftLen samples
        "filter_pos": (np.uint32, n_mel),
        "filter_lengths": (np.uint32, n_mel),
        "filter_coefs": (np.int16, None),  # q15, sum(filter_lengths) values
        "dct_coefs": (np.int16, frontend.num_coefficients * n_mel),  # q15, [num_mfcc, n_mel]
    }


def check_frontend_tables(tables: Mapping[str, np.ndarray], frontend: FrontendConfig) -> None:
    """Raises ``SettingsError`` unless ``tables`` holds what the front-end file needs."""
    spec = frontend_table_spec(frontend)
    missing = [k for k in spec if k not in tables]
    if missing:
        raise SettingsError(f"the {frontend.kind} front end needs tables {missing} "
                            f"(Frontend.c_tables() must give {list(spec)})")
    extra = sorted(set(tables) - set(spec))
    if extra:
        raise SettingsError(f"tables {extra} are not used by the {frontend.kind} front end")
    for name, (dtype, length) in spec.items():
        array = np.asarray(tables[name])
        if array.dtype != dtype:
            raise SettingsError(f"table {name} must be {np.dtype(dtype)}, is {array.dtype}")
        if length is not None and array.size != length:
            raise SettingsError(f"table {name} must have {length} values, has {array.size}")
    if frontend.kind == MICROFRONTEND:
        if tables["filterbank_weights"].size != tables["filterbank_unweights"].size:
            raise SettingsError("filterbank_weights and filterbank_unweights differ in length")
        return
    total = int(np.asarray(tables["filter_lengths"], dtype=np.int64).sum())
    if np.asarray(tables["filter_coefs"]).size != total:
        raise SettingsError(f"filter_coefs must have sum(filter_lengths) = {total} values")


def _choose_arena(model: bytes, arena_bytes: int | None, margin: float,
                  device: Mapping[str, int] | None, table_bytes: int) -> ArenaChoice:
    if arena_bytes is not None:
        if arena_bytes <= 0 or arena_bytes % 16:
            raise SettingsError(f"arena_bytes {arena_bytes} must be a positive multiple of 16")
        return ArenaChoice(arena_bytes=int(arena_bytes))
    if device is not None:
        return ArenaChoice(
            arena_bytes=recommended_arena_bytes(device["arena_bytes"], margin),
            measured_bytes=device["arena_bytes"], margin=margin, measured_on="cortex-m4",
            frontend_heap_bytes=device.get("frontend_heap_in_use_bytes"),
        )
    measured = measure_arena(model)
    return ArenaChoice(
        arena_bytes=recommended_arena_bytes(measured.smallest_bytes + table_bytes, margin),
        measured_bytes=measured.smallest_bytes,
        recorded_bytes=measured.recorded.total,
        margin=margin,
        table_bytes=table_bytes,
    )


def _kernel_note(kernels: tuple[str, ...]) -> str:
    """The README's sentence on the folder's own kernels (empty without them)."""
    notes = []
    tables = [op for op in kernels if op in TABLE_KERNEL_BYTES]
    if tables:
        notes.append(
            f" int8 {', '.join(tables)} run on 256-entry tables (`kws_activation_tables.cc`): "
            "filled at Prepare by TFLM's own reference code, so the bytes are TFLM's, in a "
            "fraction of the Cortex-M4 instructions; arena per operator: "
            + ", ".join(f"{op} {TABLE_KERNEL_BYTES[op]} B" for op in tables) + ".")
    elementwise = [op for op in kernels if op in SAME_SHAPE_KERNEL_OPS]
    if elementwise:
        notes.append(
            f" int8 {', '.join(elementwise)} run on `kws_elementwise.cc`: TFLM's reference "
            "arithmetic and parameters (the same bytes) with the requantization inline.")
    if "FULLY_CONNECTED" in kernels:
        notes.append(
            " int8 FULLY_CONNECTED runs on `kws_fully_connected.cc`: TFLM's arithmetic and "
            "parameters (the same bytes), four output rows per pass over the input with the "
            "Cortex-M DSP instructions where CMSIS-NN does two, and 2 B of arena scratch per "
            "input value of the widest product on such a core.")
    return "".join(notes)


def _readme(fs: FirmwareSettings, info: TfliteModelInfo, array_name: str,
            names: list[str], model_name: str, kernels: tuple[str, ...]) -> str:
    descriptions = {
        "model_data.h": "declares the model array", "model_data.cc": "the model bytes",
        "model_ops.h": "op resolver with exactly the model's ops",
        "model_settings.h": "every number: audio, front end, tensors, arena, recognizer",
        "kws_main.h": "KwsSetup()/KwsStep() and the board hooks", "kws_main.cc": "the loop",
        "kws_frontend.h": "front-end interface and feature quantization",
        "frontend_microfrontend.cc": "front end on TFLM's microfrontend",
        "frontend_cmsis_mfcc.cc": "front end on CMSIS-DSP arm_mfcc_q15",
        "frontend_tables.h": "front-end tables (window and filterbank, or mel filters and DCT)",
        "frontend_tables.c": "front-end table data",
        "recognize_commands.h": "posterior averaging and detection",
        "recognize_commands.cc": "the recognizer (no heap, no TFLM headers)",
        "kws_activation_tables.h": "int8 LOGISTIC/TANH/SOFTMAX table kernels (TFLM's bytes)",
        "kws_activation_tables.cc": "the table kernels: filled by TFLM's reference at Prepare",
        "kws_fully_connected.h": "int8 FULLY_CONNECTED, four rows per pass (TFLM's bytes)",
        "kws_fully_connected.cc": "the FULLY_CONNECTED kernel (Cortex-M DSP instructions)",
        "kws_elementwise.h": "int8 ADD/SUB/MUL of same-shaped tensors (TFLM's bytes)",
        "kws_elementwise.cc": "the ADD/SUB/MUL kernels, requantization inline",
        "kws_requantize.h": "TFLM's requantization, inline, for the folder's kernels",
        "README.md": "this file", MANIFEST_NAME: "file list with sizes and SHA-256",
        "Makefile": "builds the folder (and TFLM) against a TFLM tree: see Building",
        "tflm.mk": "how the Makefile builds TFLM's library (TFLM's flags)",
    }
    fe = fs.frontend
    heap = fs.arena.frontend_heap_bytes
    if fe.kind == MICROFRONTEND:
        frontend_note = (f"TFLM microfrontend, {fe.window_ms} ms window / {fe.stride_ms} ms "
                         f"stride, {fe.num_channels} channels, with the training front end's "
                         "window and filterbank tables (`frontend_tables.c`)")
        frontend_tree = (
            "# The microfrontend is not in create_tflm_tree.py's output: copy it into the tree.\n"
            "cp -r tensorflow/lite/experimental/microfrontend/lib \\\n"
            "  /path/tflm-tree/tensorflow/lite/experimental/microfrontend/")
        frontend_make = ""
        heap_text = (f"{heap:,} bytes, measured on a Cortex-M4" if heap is not None
                     else "not measured for these settings (`ghost-kws firmware --tflm-tree` "
                     "measures it on a Cortex-M4)")
        frontend_build = (
            "- The microfrontend: the `.c`/`.cc` files of "
            "`tensorflow/lite/experimental/microfrontend/lib` (kissfft is compiled inside its "
            "`kiss_fft_int16.cc`; include dir `third_party/kissfft`). `FrontendPopulateState()` "
            f"takes its buffers from the heap with `malloc`, once in `KwsSetup()`: {heap_text}."
        )
    else:
        frontend_note = (f"CMSIS-DSP arm_mfcc_q15, {fe.window_ms} ms window / {fe.stride_ms}"
                         f" ms stride, FFT {fe.fft_length}, {fe.num_channels} mel filters, "
                         f"{fe.num_coefficients} MFCCs")
        frontend_tree = ""
        frontend_make = " CMSIS_DSP=/path/CMSIS-DSP"
        frontend_build = (
            "- The MFCC front end: CMSIS-DSP (github.com/ARM-software/CMSIS-DSP; the release the "
            "`cmsisdsp` Python package that computed the training features was made from) with "
            "`-DARM_MATH_LOOPUNROLL` (on a Cortex-M4 also `-U__ARM_FEATURE_DSP`, for CMSIS-DSP "
            "and `frontend_cmsis_mfcc.cc` only: its DSP-extension code rounds differently from "
            "the portable code that computed the training features), include dirs `Include` "
            "and `PrivateInclude`, sources: the "
            "bundle files `Source/<X>/<X>.c` of TransformFunctions, CommonTables, "
            "ComplexMathFunctions, StatisticsFunctions, BasicMathFunctions, MatrixFunctions, "
            "FastMathFunctions and SupportFunctions, and `frontend_tables.c`. No heap."
        )
    arena = fs.arena
    if arena.measured_bytes is None:
        arena_note = "chosen by the caller"
    elif arena.measured_on == "cortex-m4":
        arena_note = (f"smallest that allocated and invoked on a Cortex-M4 (QEMU mps2-an386): "
                      f"{arena.measured_bytes}, plus {arena.margin:.0%} for other kernels and "
                      "TFLM version drift, rounded up to 16")
    else:
        tables = (f" plus {arena.table_bytes} for the table kernels" if arena.table_bytes
                  else "")
        arena_note = (f"smallest that allocated and invoked on the 64-bit host TFLM: "
                      f"{arena.measured_bytes}{tables}, plus {arena.margin:.0%}, rounded up to 16; a "
                      "32-bit device needs less (its pointers are half as wide): "
                      "`ghost-kws firmware --tflm-tree` measures it on a Cortex-M4")
    values = {
        "model_name": model_name,
        "file_table": "\n".join(f"| `{n}` | {descriptions.get(n, '')} |" for n in names),
        "model_bytes": str(info.size_bytes),
        "array_name": array_name,
        "op_count": str(len(info.ops)),
        "op_list": ", ".join(info.ops),
        "kernel_note": _kernel_note(kernels),
        "arena_bytes": str(arena.arena_bytes),
        "arena_note": arena_note,
        "frontend_note": frontend_note,
        "frontend_build": frontend_build,
        "frontend_tree": frontend_tree,
        "frontend_make": frontend_make,
        "labels": ", ".join(f"`{label}`" for label in fs.labels),
        "ignored": ", ".join(f"`{label}`" for label in fs.ignore_labels) or "none",
        "average_window_ms": str(fs.recognizer["average_window_ms"]),
        "threshold": str(fs.recognizer["detection_threshold"]),
        "suppression_ms": str(fs.recognizer["suppression_ms"]),
        "minimum_count": str(fs.recognizer["minimum_count"]),
    }
    text = template_text("README.md")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise RuntimeError("README template has an unfilled placeholder")
    return text


def render_firmware_files(
    model: bytes | str | os.PathLike,
    settings: Mapping[str, Any],
    array_name: str = "g_kws_model",
    arena_bytes: int | None = None,
    *,
    frontend_tables: Mapping[str, np.ndarray] | None = None,
    arena_margin: float = ARENA_MARGIN,
    model_name: str = "ghost-keras KWS model",
    device: Mapping[str, int] | None = None,
    folder_kernels: Collection[str] = tuple(FOLDER_KERNELS),
) -> tuple[dict[str, bytes], TfliteModelInfo, FirmwareSettings]:
    """Every file of the folder as ``{name: bytes}``, without writing anything."""
    data = load_model_bytes(model)
    info = read_tflite(data)
    validate_c_identifier(array_name)
    kernels = folder_kernel_ops(info.operator_inputs, folder_kernels,
                                info.operator_input_shapes, info.operator_output_types)
    # fails early on an op TFLM lacks
    ops_header = render_model_ops_header(info.ops, kernels=kernels)
    table_bytes = sum(TABLE_KERNEL_BYTES[op] for op, _ in info.operator_inputs
                      if op in kernels and op in TABLE_KERNEL_BYTES)
    fs = build_settings(settings, info, _choose_arena(data, arena_bytes, arena_margin, device,
                                                      table_bytes), array_name)

    texts: dict[str, str] = {}
    model_src = render_model_data(data, array_name)
    texts[model_src.header_name] = model_src.header
    texts[model_src.source_name] = model_src.source
    texts["model_ops.h"] = ops_header
    texts["model_settings.h"] = render_model_settings_header(fs)
    kernel_headers = tuple(dict.fromkeys(FOLDER_KERNELS[op][1] for op in kernels))
    kernel_files = tuple(f for h in kernel_headers for f in (h, h.replace(".h", ".cc")))
    if set(kernels) - set(TABLE_KERNEL_BYTES):  # the arithmetic kernels share the requantization
        kernel_files += (REQUANTIZE_HEADER,)
    for name in _COMMON_TEMPLATES + kernel_files:
        texts[name] = template_text(name)
    frontend_file = _FRONTEND_TEMPLATES[fs.frontend.kind]
    texts[frontend_file] = template_text(frontend_file)
    if frontend_tables is None:
        raise SettingsError(f"the {fs.frontend.kind} front end needs frontend_tables "
                            "(make_frontend(config).c_tables())")
    check_frontend_tables(frontend_tables, fs.frontend)
    tables_src = render_c_arrays(frontend_tables, base_name="frontend_tables", prefix=TABLE_PREFIX)
    texts[tables_src.header_name] = tables_src.header
    texts[tables_src.source_name] = tables_src.source

    names = sorted(texts) + ["README.md", MANIFEST_NAME]
    texts["README.md"] = _readme(fs, info, array_name, names, model_name, kernels)
    files = {name: text.encode("utf-8") for name, text in texts.items()}
    files[MANIFEST_NAME] = _manifest(files, data, info, fs, array_name)
    return files, info, fs


def _manifest(files: Mapping[str, bytes], model: bytes, info: TfliteModelInfo,
              fs: FirmwareSettings, array_name: str) -> bytes:
    def tensor(t):
        return {"index": t.index, "name": tensor_name(t), "shape": list(t.shape),
                "dtype": t.dtype, "scale": t.scale, "zero_point": t.zero_point}

    doc = {
        "generator": "ghost-keras firmware_export",
        "model": {"sha256": hashlib.sha256(model).hexdigest(), "bytes": len(model),
                  "array_name": array_name, "ops": list(info.ops)},
        "arena": {"arena_bytes": fs.arena.arena_bytes, "min_bytes": fs.arena.measured_bytes,
                  "measured_on": fs.arena.measured_on, "recorded_bytes": fs.arena.recorded_bytes,
                  "margin": fs.arena.margin, "frontend_heap_bytes": fs.arena.frontend_heap_bytes},
        "tensors": {"features": tensor(fs.roles.features), "scores": tensor(fs.roles.scores),
                    "states": [[tensor(i), tensor(o)] for i, o in fs.roles.states]},
        "labels": list(fs.labels),
        "ignore_labels": list(fs.ignore_labels),
        "recognizer": fs.recognizer,
        "frontend": manifest_frontend(fs.frontend),
        "files": {name: {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
                  for name, content in sorted(files.items())},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _previous_files(out_dir: Path) -> set[str]:
    try:
        doc = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return set(doc.get("files", {})) | {MANIFEST_NAME}
    except (OSError, ValueError):
        return set()


def write_firmware_folder(
    tflite_path_or_bytes: bytes | str | os.PathLike,
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike,
    array_name: str = "g_kws_model",
    arena_bytes: int | None = None,
    *,
    frontend_tables: Mapping[str, np.ndarray] | None = None,
    arena_margin: float = ARENA_MARGIN,
    model_name: str = "ghost-keras KWS model",
    device: Mapping[str, int] | None = None,
    folder_kernels: Collection[str] = tuple(FOLDER_KERNELS),
) -> FirmwareFolder:
    """Writes the firmware folder for a converted int8 model and returns what it wrote.

    ``settings``: see :func:`.model_settings.build_settings`. ``arena_bytes``:
    the tensor arena for the device (a multiple of 16); None measures the smallest arena that
    works on the host TFLM and adds ``arena_margin``. ``device``: what
    :func:`firmware_export.device.measure_on_device` measured on the 32-bit target
    (``arena_bytes``, ``frontend_heap_in_use_bytes``); the arena is then sized from it.
    ``folder_kernels``: the ops (of :data:`.op_resolver.FOLDER_KERNELS`) that run on the folder's
    own int8 kernels, TFLM's bytes in fewer Cortex-M4 instructions: LOGISTIC/TANH as 256-entry
    tables (170-380 fewer instructions per element, 256 B more arena per op), FULLY_CONNECTED
    four rows per pass; the other ops, and all with ``()``, register TFLM's own kernels. ``frontend_tables``: the
    ``make_frontend(config).c_tables()`` dict of the front end the model was trained on (names
    in :func:`frontend_table_spec`). Files a previous run wrote into ``out_dir`` (per its manifest) and
    this one does not are removed; nothing else in ``out_dir`` is touched.
    """
    files, info, fs = render_firmware_files(
        tflite_path_or_bytes, settings, array_name, arena_bytes,
        frontend_tables=frontend_tables, arena_margin=arena_margin, model_name=model_name,
        device=device, folder_kernels=folder_kernels,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = _previous_files(out) - set(files)
    for name, content in files.items():
        path = out / name
        if path.is_file() and path.read_bytes() == content:
            continue
        atomic_write_bytes(path, content)
    for name in sorted(stale):
        if "/" not in name and "\\" not in name:  # only plain names a manifest of ours lists
            (out / name).unlink(missing_ok=True)
    written = tuple(
        FirmwareFile(name, len(content), hashlib.sha256(content).hexdigest())
        for name, content in sorted(files.items())
    )
    return FirmwareFolder(path=out, files=written, model=info, settings=fs)
