"""``model_ops.h``: a ``tflite::MicroMutableOpResolver`` that registers exactly the model's ops.

A ``MicroMutableOpResolver<N>`` links only the kernels it is told to add, so registering just the
model's ops keeps flash small; ``N`` must be at least the number of ``AddXxx()`` calls, and a
missing op only shows at ``AllocateTensors()`` on the device ("Didn't find op for builtin opcode").
Generating the list from the flatbuffer's operator codes makes both mistakes impossible.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

# BuiltinOperator name -> MicroMutableOpResolver method, read from TFLM's
# tensorflow/lite/micro/micro_mutable_op_resolver.h (tflite-micro main, 2026-08): every
# `AddXxx()` that registers a builtin. An op absent here has no TFLM kernel.
TFLM_OP_METHODS: dict[str, str] = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ADD_N": "AddAddN",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo",
    "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast",
    "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "COS": "AddCos",
    "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice",
    "ELU": "AddElu",
    "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish",
    "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MAXIMUM": "AddMaximum",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable",
    "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax",
    "REDUCE_MIN": "AddReduceMin",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "REVERSE_V2": "AddReverseV2",
    "ROUND": "AddRound",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SIN": "AddSin",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "SVDF": "AddSvdf",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile",
    "ZEROS_LIKE": "AddZerosLike",
}

_METHOD_OPS = {method: op for op, method in TFLM_OP_METHODS.items()}


class UnsupportedOpError(ValueError):
    """The model uses an operator TFLM's MicroMutableOpResolver cannot register."""

    def __init__(self, op: str, detail: str = ""):
        self.op = op
        hint = (
            "TFLM has no kernel for it; change the model so the converter does not emit it "
            "(e.g. no WHILE/TensorList from a non-unrolled RNN, no Flex/SELECT_TF_OPS ops)"
        )
        super().__init__(f"operator {op} is not supported by TFLite Micro: {detail or hint}")


def resolver_method(op: str) -> str:
    """The ``MicroMutableOpResolver`` method that registers builtin ``op`` (``AddTanh``...)."""
    if op.startswith("CUSTOM:"):
        raise UnsupportedOpError(
            op,
            "custom ops need a registration written for TFLM and "
            "resolver.AddCustom(name, registration); this generator does not emit them",
        )
    try:
        return TFLM_OP_METHODS[op]
    except KeyError:
        raise UnsupportedOpError(op) from None


def op_for_method(method: str) -> str:
    """The inverse of :func:`resolver_method` (``AddTanh`` -> ``TANH``)."""
    return _METHOD_OPS[method]


#: int8 ops the folder can run with its own kernel instead of TFLM's: the same output bytes
#: (each proven against TFLM's kernel by a check in ``firmware_export/device``), fewer
#: instructions on a Cortex-M4. LOGISTIC/TANH: 256-entry tables (``kws_activation_tables.cc``,
#: a few instructions per element instead of 170-380); SOFTMAX: its exps as a 256-entry table
#: (same file); FULLY_CONNECTED: four rows per pass over
#: the input (``kws_fully_connected.cc``); ADD/SUB/MUL of same-shaped tensors with an inline
#: requantization (``kws_elementwise.cc``). Op -> (registration, header).
FOLDER_KERNELS: dict[str, tuple[str, str]] = {
    "LOGISTIC": ("kws::Register_LOGISTIC_INT8_TABLE()", "kws_activation_tables.h"),
    "TANH": ("kws::Register_TANH_INT8_TABLE()", "kws_activation_tables.h"),
    "SOFTMAX": ("kws::Register_SOFTMAX_INT8_TABLE()", "kws_activation_tables.h"),
    "FULLY_CONNECTED": ("kws::Register_FULLY_CONNECTED_INT8()", "kws_fully_connected.h"),
    "ADD": ("kws::Register_ADD_INT8()", "kws_elementwise.h"),
    "SUB": ("kws::Register_SUB_INT8()", "kws_elementwise.h"),
    "MUL": ("kws::Register_MUL_INT8()", "kws_elementwise.h"),
}
#: The ops whose folder kernel is a 256-entry table: the arena each operator's table takes.
TABLE_KERNEL_BYTES: dict[str, int] = {"LOGISTIC": 256, "TANH": 256, "SOFTMAX": 1024}
#: The ops whose folder kernel also needs an int8 output (TFLM's SOFTMAX may write int16).
INT8_OUTPUT_KERNEL_OPS = ("SOFTMAX",)
#: The ops whose folder kernel takes two inputs of one shape (no broadcasting).
SAME_SHAPE_KERNEL_OPS = ("ADD", "SUB", "MUL")


def folder_kernel_ops(operator_inputs: Sequence[tuple[str, str]],
                      wanted: Collection[str] = tuple(FOLDER_KERNELS),
                      input_shapes: Sequence[Sequence[Sequence[int]]] | None = None,
                      output_types: Sequence[str] | None = None) -> tuple[str, ...]:
    """The ops of ``wanted`` (keys of :data:`FOLDER_KERNELS`) whose every operator reads an
    int8 input -- for :data:`SAME_SHAPE_KERNEL_OPS` two inputs of one shape (``input_shapes``),
    for :data:`INT8_OUTPUT_KERNEL_OPS` an int8 output (``output_types``); both parallel to
    ``operator_inputs``, and without them those ops keep TFLM's kernels -- in order of first
    use: they get the folder's kernel."""
    unknown = set(wanted) - set(FOLDER_KERNELS)
    if unknown:
        raise ValueError(f"no folder kernel for {sorted(unknown)}; "
                         f"the folder has kernels for {list(FOLDER_KERNELS)}")
    for given in (input_shapes, output_types):
        if given is not None and len(given) != len(operator_inputs):
            raise ValueError("input_shapes and output_types must have one entry per operator")

    def eligible(k: int) -> bool:
        op, type_name = operator_inputs[k]
        if type_name != "INT8":
            return False
        if op in INT8_OUTPUT_KERNEL_OPS:
            return output_types is not None and output_types[k] == "INT8"
        if op not in SAME_SHAPE_KERNEL_OPS:
            return True
        shapes = [tuple(s) for s in input_shapes[k]] if input_shapes is not None else []
        return len(shapes) == 2 and shapes[0] == shapes[1]

    names = [op for op, _ in operator_inputs if op in wanted]
    return tuple(op for op in dict.fromkeys(names)
                 if all(eligible(k) for k, (o, _) in enumerate(operator_inputs) if o == op))


def render_model_ops_header(ops: Sequence[str], *, model_note: str = "",
                            kernels: Sequence[str] = ()) -> str:
    """Text of ``model_ops.h`` registering exactly ``ops`` (ordered, unique builtin names).

    Defines ``kModelOpCount``, ``ModelOpResolver`` (= ``tflite::MicroMutableOpResolver<N>``) and
    ``RegisterModelOps(ModelOpResolver&)``. The ops in ``kernels`` (see
    :func:`folder_kernel_ops`) get the folder's own kernels. Raises :class:`UnsupportedOpError`
    naming the first op TFLM cannot register.
    """
    if len(set(ops)) != len(ops):
        raise ValueError(f"op list has duplicates: {list(ops)}")
    if not ops:
        raise ValueError("the model has no operators")
    methods = [resolver_method(op) for op in ops]
    calls = "\n".join(
        f"  if (resolver.{m}({FOLDER_KERNELS[op][0] if op in kernels else ''}) != kTfLiteOk) "
        f"return kTfLiteError;  // {op}"
        for op, m in zip(ops, methods)
    )
    note = f"// {model_note}\n" if model_note else ""
    headers = dict.fromkeys(FOLDER_KERNELS[op][1] for op in kernels)
    kernel_include = "".join(f'#include "{h}"\n' for h in headers)
    kernel_note = (f"// {', '.join(kernels)}: this folder's int8 kernels "
                   f"({', '.join(h.replace('.h', '.cc') for h in headers)}), the same bytes as "
                   "TFLM's.\n" if kernels else "")
    return f"""\
// model_ops.h: the TFLite Micro op resolver for this model. Generated by ghost-keras
// firmware_export from the model's operator codes; do not edit, regenerate instead.
{note}//
// Ops ({len(ops)}): {", ".join(ops)}
//
// With OPTIMIZED_KERNEL_DIR=cmsis_nn the same AddXxx() calls register the CMSIS-NN kernels.
{kernel_note}#ifndef GHOST_KWS_MODEL_OPS_H_
#define GHOST_KWS_MODEL_OPS_H_

{kernel_include}#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

constexpr unsigned int kModelOpCount = {len(ops)};

using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOpCount>;

// Adds every operator the model uses. Returns kTfLiteError if one cannot be added
// (TFLM logs why); call once, before constructing the MicroInterpreter.
inline TfLiteStatus RegisterModelOps(ModelOpResolver& resolver) {{
{calls}
  return kTfLiteOk;
}}

#endif  // GHOST_KWS_MODEL_OPS_H_
"""
