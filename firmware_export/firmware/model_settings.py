"""``model_settings.h``: every number the firmware needs, in one generated header.

Why ``#define``s and not ``constexpr`` in a namespace: the header is included from C as well as
C++ -- the TFLM microfrontend and CMSIS-DSP front ends are C, and a board's audio driver often is
-- and only the preprocessor is common to both. Macros are prefixed ``KWS_``; integers are plain
literals, floats are ``float`` literals that convert to exactly the model's float32 value,
per-label and per-state lists are brace initializers (``static const int8_t x[] = KWS_...;``).

Quantization numbers (feature input, scores, states) are read from the model's tensors, never
passed in: a re-converted model cannot silently disagree with its header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ghost_keras.features.config import FrontendConfig
from ghost_keras.features.device_settings import DEVICE_KINDS, device_kind

from .c_sources import c_float_literal, header_guard, validate_c_identifier
from firmware_export.feature_quantizer import FeatureQuantizer
from .recognizer import default_ignore_labels, probability_to_threshold, recognizer_capacity
from .tensor_roles import (
    SettingsError,
    TensorRoles,
    check_roles,
    resolve_tensor_roles,
    tensor_name,
)
from firmware_export.tflite_model import TensorInfo, TfliteModelInfo


@dataclass(frozen=True)
class ArenaChoice:
    """The tensor arena written into the header and how it was chosen."""

    arena_bytes: int
    measured_bytes: int | None = None
    """Smallest arena that allocated and invoked where it was measured (None: the caller gave
    ``arena_bytes``)."""
    recorded_bytes: int | None = None
    """RecordingMicroAllocator total at that size (host only)."""
    margin: float | None = None
    measured_on: str = "host"
    """``host``: the 64-bit tflite-micro wheel, an upper bound for a 32-bit device (pointers are
    twice as wide); ``cortex-m4``: the device itself, under QEMU (:mod:`firmware_export.device`)."""
    frontend_heap_bytes: int | None = None
    """Heap the front end holds after its setup, measured on the Cortex-M4 (None: not measured)."""
    table_bytes: int = 0
    """Arena the folder's table kernels take on top of a host measurement (the wheel runs TFLM's
    own LOGISTIC/TANH); a Cortex-M4 measurement already includes them."""


@dataclass(frozen=True)
class Macro:
    """One ``#define``: ``kind`` is int, float, str or list (a brace initializer)."""

    name: str
    value: str
    kind: str
    comment: str = ""
    overridable: bool = False
    """Rendered inside ``#ifndef``: a build may set it with ``-D`` (e.g. the arena of a 64-bit
    host build of a folder sized for a 32-bit device)."""


@dataclass(frozen=True)
class FirmwareSettings:
    """Validated settings, ready to render."""

    labels: tuple[str, ...]
    ignore_labels: tuple[str, ...]
    roles: TensorRoles
    frontend: FrontendConfig
    recognizer: dict[str, int]
    arena: ArenaChoice
    feature_quant_mult: float
    """float32 ``input_scale / feature scale`` (KWS_FEATURE_QUANT_MULT)."""
    feature_quant_offset: float
    """float32 ``input_offset / feature scale`` (KWS_FEATURE_QUANT_OFFSET)."""
    macros: tuple[Macro, ...] = field(repr=False)

    def macro(self, name: str) -> Macro:
        for m in self.macros:
            if m.name == name:
                return m
        raise KeyError(name)


# -- settings -----------------------------------------------------------------------------------


def _require(d: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise SettingsError(f"{where} lacks {missing}")


def _int(value: Any, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise SettingsError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _frontend(cfg: FrontendConfig | Mapping[str, Any]) -> FrontendConfig:
    """The run's front end: the one schema, :class:`FrontendConfig`, checks it."""
    try:
        config = cfg if isinstance(cfg, FrontendConfig) else FrontendConfig.from_dict(cfg)
        device_kind(config)
    except ValueError as e:
        raise SettingsError(f'settings["frontend"]: {e}') from e
    return config


def _recognizer(
    cfg: Mapping[str, Any], scores: TensorInfo, result_period_ms: int
) -> dict[str, int]:
    _require(cfg, ["average_window_ms", "suppression_ms", "minimum_count"],
             'settings["recognizer"]')
    if ("detection_threshold" in cfg) == ("detection_probability" in cfg):
        raise SettingsError(
            'settings["recognizer"] needs exactly one of detection_threshold (score units '
            "0..255, int8 score + 128) or detection_probability (0..1, converted with the score "
            "output's scale and zero point)"
        )
    if "detection_threshold" in cfg:
        threshold = _int(cfg["detection_threshold"], "detection_threshold", 0)
        if threshold > 255:
            raise SettingsError("detection_threshold is in score units 0..255")
    else:
        threshold = probability_to_threshold(
            float(cfg["detection_probability"]), scores.scale, scores.zero_point, scores.dtype
        )
    window = _int(cfg["average_window_ms"], "average_window_ms", 1)
    return {
        "average_window_ms": window,
        "detection_threshold": threshold,
        "suppression_ms": _int(cfg["suppression_ms"], "suppression_ms", 0),
        "minimum_count": _int(cfg["minimum_count"], "minimum_count", 1),
        "capacity": recognizer_capacity(window, result_period_ms),
    }


def build_settings(
    settings: Mapping[str, Any],
    model: TfliteModelInfo,
    arena: ArenaChoice,
    array_name: str = "g_kws_model",
) -> FirmwareSettings:
    """Validates ``settings`` against ``model`` and computes every header value.

    ``settings`` keys: ``labels`` (one per score); ``frontend`` (the :class:`FrontendConfig` the
    model was trained on, or its ``to_dict()``; it gives the sample rate too); ``recognizer``
    (``average_window_ms``, ``detection_threshold`` or ``detection_probability``,
    ``suppression_ms``, ``minimum_count``, optional ``ignore_labels``); optional
    ``frames_per_decision`` (default 1) and ``tensors`` (see :func:`resolve_tensor_roles`).
    """
    _require(settings, ["labels", "frontend", "recognizer"], "settings")
    unknown = set(settings) - {"labels", "frontend", "recognizer", "frames_per_decision",
                               "tensors"}
    if unknown:
        raise SettingsError(f"unknown settings {sorted(unknown)}")
    labels = tuple(str(label) for label in settings["labels"])
    if len(set(labels)) != len(labels) or not labels:
        raise SettingsError(f"labels must be unique and non-empty: {labels}")
    for label in labels:
        if not label.isprintable() or '"' in label or "\\" in label:
            raise SettingsError(f"label {label!r} cannot go into a C string as is")

    roles = resolve_tensor_roles(model, len(labels), settings.get("tensors"))
    check_roles(roles, len(labels))
    frontend = _frontend(settings["frontend"])
    if roles.features.size % frontend.feature_dim:
        raise SettingsError(
            f"feature input has {roles.features.size} values, not a whole number of "
            f"{frontend.feature_dim}-value frames"
        )
    frames_per_input = roles.features.size // frontend.feature_dim
    frames_per_decision = _int(settings.get("frames_per_decision", 1), "frames_per_decision", 1)
    if roles.states and frames_per_decision != 1:
        raise SettingsError("a model that carries state must run on every frame: "
                            "frames_per_decision must be 1")
    rec_cfg = settings["recognizer"]
    recognizer = _recognizer(rec_cfg, roles.scores, frontend.stride_ms * frames_per_decision)
    ignore = tuple(rec_cfg.get("ignore_labels", default_ignore_labels(labels)))
    if set(ignore) - set(labels):
        raise SettingsError(f"ignore_labels not among the labels: {sorted(set(ignore) - set(labels))}")
    if arena.arena_bytes % 16 or arena.arena_bytes <= 0:
        raise SettingsError(f"arena_bytes {arena.arena_bytes} must be a positive multiple of 16")

    validate_c_identifier(array_name)
    quantizer = FeatureQuantizer.for_model(roles.features, frontend)
    macros = _macros(labels, ignore, roles, frontend, quantizer, frames_per_input,
                     frames_per_decision, recognizer, arena, model, array_name)
    return FirmwareSettings(labels, ignore, roles, frontend, recognizer, arena, quantizer.mult,
                            quantizer.offset, macros)


def feature_quantizer(fs: FirmwareSettings) -> FeatureQuantizer:
    """The feature quantization the firmware's ``kws::QuantizeFeature`` does."""
    return FeatureQuantizer.for_model(fs.roles.features, fs.frontend)


# -- rendering ----------------------------------------------------------------------------------


def _paren(text: str) -> str:
    # A negative value in parentheses behaves as one operand wherever the macro is expanded.
    return f"({text})" if text.startswith("-") else text


def _i(name: str, value: int, comment: str = "") -> Macro:
    return Macro(name, _paren(str(int(value))), "int", comment)


def _f(name: str, value: float, comment: str = "") -> Macro:
    return Macro(name, _paren(c_float_literal(value)), "float", comment)


def _list(name: str, values: Sequence[str], comment: str = "") -> Macro:
    return Macro(name, "{" + ", ".join(values) + "}", "list", comment)


def _macros(labels, ignore, roles, fe: FrontendConfig, quantizer: FeatureQuantizer,
            frames_per_input, frames_per_decision, rec, arena, model, array_name
            ) -> tuple[Macro, ...]:
    f, s = roles.features, roles.scores
    mult, offset = quantizer.mult, quantizer.offset
    kind = device_kind(fe)
    m: list[Macro] = [
        _i("KWS_SAMPLE_RATE_HZ", fe.sample_rate),
        Macro("KWS_MODEL_DATA", array_name, "ident", "the model array of model_data.h"),
        _i("KWS_MODEL_BYTES", model.size_bytes, "size of the .tflite flatbuffer"),
        *(_i(f"KWS_FRONTEND_{name.upper()}", k + 1) for k, name in enumerate(DEVICE_KINDS)),
        _i("KWS_FRONTEND_KIND", DEVICE_KINDS.index(kind) + 1, kind),
    ]
    m += [(_f if isinstance(d.value, float) else _i)(d.macro, d.value, d.comment)
          for d in fe.device_settings()]
    m += [
        _i("KWS_FRAMES_PER_INPUT", frames_per_input, "frames in the model's feature input"),
        _i("KWS_FRAMES_PER_DECISION", frames_per_decision, "frames between two invokes"),
        _i("KWS_FEATURE_INPUT_INDEX", f.index, tensor_name(f)),
        _i("KWS_FEATURE_INPUT_SIZE", f.size),
        _f("KWS_FEATURE_INPUT_SCALE", f.scale),
        _i("KWS_FEATURE_INPUT_ZERO_POINT", f.zero_point),
        _f("KWS_FEATURE_QUANT_MULT", mult, "input_scale / feature input scale"),
        _f("KWS_FEATURE_QUANT_OFFSET", offset, "input_offset / feature input scale"),
        _i("KWS_SCORES_OUTPUT_INDEX", s.index, tensor_name(s)),
        _i("KWS_SCORES_ARE_INT8", int(s.dtype == "int8"), "else uint8"),
        _f("KWS_SCORES_SCALE", s.scale),
        _i("KWS_SCORES_ZERO_POINT", s.zero_point),
        _i("KWS_NUM_LABELS", len(labels)),
        _list("KWS_LABEL_STRINGS", [f'"{label}"' for label in labels]),
        _list("KWS_IGNORED_LABELS", ["1" if label in ignore else "0" for label in labels],
              "1: never reported as a detection"),
        _i("KWS_NUM_STATES", len(roles.states)),
        _i("KWS_STATE_TOTAL_BYTES", sum(i.nbytes for i, _ in roles.states)),
    ]
    for k, (si, so) in enumerate(roles.states):
        m += [
            _i(f"KWS_STATE{k}_INPUT_INDEX", si.index, tensor_name(si)),
            _i(f"KWS_STATE{k}_OUTPUT_INDEX", so.index, tensor_name(so)),
            _i(f"KWS_STATE{k}_BYTES", si.nbytes),
            _f(f"KWS_STATE{k}_SCALE", si.scale, "same for input and output"),
            _i(f"KWS_STATE{k}_ZERO_POINT", si.zero_point),
        ]
    if roles.states:  # C has no empty initializer lists: defined only when there is a state
        m += [
            _list("KWS_STATE_INPUT_INDICES", [str(i.index) for i, _ in roles.states]),
            _list("KWS_STATE_OUTPUT_INDICES", [str(o.index) for _, o in roles.states]),
            _list("KWS_STATE_BYTES", [str(i.nbytes) for i, _ in roles.states]),
            _list("KWS_STATE_ZERO_POINTS", [_paren(str(i.zero_point)) for i, _ in roles.states]),
        ]
    where = {"host": "host (64-bit) TFLM", "cortex-m4": "Cortex-M4"}[arena.measured_on]
    tables = f" + tables {arena.table_bytes}" if arena.table_bytes else ""
    arena_note = (
        f"{where} minimum {arena.measured_bytes}{tables} + {arena.margin:.0%}, rounded up to 16"
        if arena.measured_bytes is not None else "given by the caller"
    )
    m += [Macro("KWS_TENSOR_ARENA_BYTES", str(int(arena.arena_bytes)), "int", arena_note,
                overridable=True)]
    if arena.measured_bytes is not None:
        name = {"host": "KWS_TENSOR_ARENA_HOST_MIN_BYTES",
                "cortex-m4": "KWS_TENSOR_ARENA_M4_MIN_BYTES"}[arena.measured_on]
        m += [_i(name, arena.measured_bytes,
                 f"smallest arena that allocated + invoked on the {where}")]
    if arena.recorded_bytes is not None:
        m += [_i("KWS_TENSOR_ARENA_RECORDED_BYTES", arena.recorded_bytes,
                 "RecordingMicroAllocator total (no temporaries)")]
    m += [
        _i("KWS_AVERAGE_WINDOW_MS", rec["average_window_ms"]),
        _i("KWS_DETECTION_THRESHOLD", rec["detection_threshold"], "score units 0..255"),
        _i("KWS_SUPPRESSION_MS", rec["suppression_ms"]),
        _i("KWS_MINIMUM_COUNT", rec["minimum_count"]),
        _i("KWS_RECOGNIZER_CAPACITY", rec["capacity"], "results the averaging window holds"),
    ]
    return tuple(m)


def render_model_settings_header(fs: FirmwareSettings, file_name: str = "model_settings.h") -> str:
    """Text of ``model_settings.h``: one ``#define`` per :class:`Macro`."""
    guard = header_guard(file_name)
    width = max(len(m.name) for m in fs.macros) + 1
    lines = []
    for m in fs.macros:
        line = f"#define {m.name.ljust(width)}{m.value}"
        if m.comment:
            line += f"  /* {m.comment} */"
        if m.overridable:
            line = f"#ifndef {m.name}  /* may be set with -D{m.name}=N */\n{line}\n#endif"
        lines.append(line)
    return (
        f"/* {file_name}: settings of the keyword-spotting firmware. Generated by ghost-keras\n"
        " * firmware_export from the model's tensors and the export settings; do not edit,\n"
        " * regenerate instead. Plain #defines so that C (front end, drivers) and C++ share it.\n"
        " */\n"
        f"#ifndef {guard}\n#define {guard}\n\n" + "\n".join(lines) + f"\n\n#endif  /* {guard} */\n"
    )


def quantize_features(raw: np.ndarray, fs: FirmwareSettings) -> np.ndarray:
    """Front-end integer outputs -> int8 feature input, exactly as ``kws::QuantizeFeature``
    (kws_frontend.h) does on the device (see :mod:`firmware_export.feature_quantizer`)."""
    return feature_quantizer(fs).quantize_raw(raw)
