"""The TFLM runner: same int8 results as tf.lite.Interpreter, arena measurement, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from test_firmware_helpers import tflite_interpreter, tiny_model, unsupported_op_model

from firmware_export import tflm
from firmware_export.firmware.op_resolver import UnsupportedOpError, render_model_ops_header
from firmware_export.tflite_model import read_tflite
from firmware_export.tflm_step_runner import TflmStepRunner


@pytest.fixture(scope="module")
def model() -> bytes:
    return tiny_model()


def _random_inputs(info, rng):
    """A random feature frame and a random state, both int8."""
    frame = next(t for t in info.inputs if t.signature_name == "frame")
    state = next(t for t in info.inputs if t.signature_name == "state")
    return {frame.index: tflm.quantize(rng.normal(size=frame.shape), frame),
            state.index: rng.integers(-128, 128, state.shape, dtype=np.int8)}


def test_tflm_output_matches_tflite_interpreter(model):
    """Same inputs into TFLM (through TflmInterpreter) and tf.lite.Interpreter (reference
    kernels): the int8 scores agree within 1 LSB and the state within 2, and almost every
    value is identical. (Why 2 for the state: see the next test.)"""
    info = read_tflite(model)
    ref = tflite_interpreter(model)
    micro = tflm.TflmInterpreter(model, 16 * 1024)
    rng = np.random.default_rng(1)
    diffs = {t.signature_name: [] for t in info.outputs}
    for _ in range(40):
        inputs = _random_inputs(info, rng)
        for t in info.inputs:
            ref.set_tensor(t.tensor_index, inputs[t.index])
        ref.invoke()
        outs = micro.run([inputs[t.index] for t in info.inputs])
        for t in info.outputs:
            a = ref.get_tensor(t.tensor_index)
            assert outs[t.index].dtype == a.dtype and outs[t.index].shape == a.shape
            diffs[t.signature_name].append(np.abs(a.astype(int) - outs[t.index].astype(int)))
    scores, state = np.concatenate(diffs["scores"]), np.concatenate(diffs["new_state"])
    assert scores.max() <= 1
    assert state.max() <= 2
    assert (np.concatenate([scores.ravel(), state.ravel()]) == 0).mean() >= 0.95


def test_tflm_kernels_differ_from_tflite_by_at_most_one_lsb(model):
    """With every intermediate tensor kept on both sides, the first tensor where TFLM and
    TFLite differ (a FULLY_CONNECTED's requantization, now and then) is off by at most 1 LSB;
    a following TANH can turn that into 2 LSB (its slope exceeds 1 output step per input step
    with these scales)."""
    from tflite_micro.python.tflite_micro import runtime

    info = read_tflite(model)
    ref = tflite_interpreter(model, preserve_all_tensors=True)
    micro = runtime.Interpreter.from_bytes(
        model, arena_size=64 * 1024,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    op_outputs = [t for op in ref._get_ops_details() for t in op["outputs"]]
    rng = np.random.default_rng(1)
    differing_steps = 0
    for _ in range(40):
        inputs = _random_inputs(info, rng)
        for t in info.inputs:
            ref.set_tensor(t.tensor_index, inputs[t.index])
            micro.set_input(inputs[t.index], t.index)
        ref.invoke()
        micro.invoke()
        for tensor_index in op_outputs:  # in execution order
            ours = micro.GetTensor(tensor_index, 0)
            ours = np.asarray(ours["tensor_data"] if isinstance(ours, dict) else ours)
            diff = np.abs(ref.get_tensor(tensor_index).astype(int) - ours.astype(int)).max()
            if diff:
                assert diff <= 1, f"tensor {tensor_index} is the first to differ, by {diff}"
                differing_steps += 1
                break
    assert differing_steps <= 8  # out of 40: rare rounding ties, not a systematic difference


def test_run_sets_all_inputs_and_returns_all_outputs(model):
    micro = tflm.TflmInterpreter(model, 16 * 1024)
    outs = micro.run([np.zeros(t.shape, np.int8) for t in micro.inputs])
    assert [o.shape for o in outs] == [t.shape for t in micro.outputs]
    with pytest.raises(TypeError, match="quantize first"):
        micro.set_input(0, np.zeros((1, 16), np.float32))
    with pytest.raises(ValueError, match="shape"):
        micro.set_input(0, np.zeros((1, 3), np.int8))


def test_smallest_arena_is_tight_and_deterministic(model):
    smallest = tflm.find_smallest_arena(model)
    assert smallest % 16 == 0
    assert tflm.find_smallest_arena(model) == smallest
    tflm.TflmInterpreter(model, smallest).invoke()
    with pytest.raises(tflm.TflmArenaTooSmallError):
        tflm.TflmInterpreter(model, smallest - 16)
    measured = tflm.measure_arena(model)
    assert measured.smallest_bytes == smallest
    # The recording allocator does not count temporaries: it reports less than what is needed.
    assert 0 < measured.recorded.total <= smallest
    assert measured.recorded.total == measured.recorded.head + measured.recorded.tail


def test_too_small_arena_gives_a_clear_error(model):
    with pytest.raises(tflm.TflmArenaTooSmallError, match="needs more than 2048 bytes of tensor arena"):
        tflm.TflmInterpreter(model, 2048)
    # Below ~500 bytes the wheel would segfault: refused before TFLM sees it.
    with pytest.raises(tflm.TflmArenaTooSmallError, match="needs more than 100 bytes"):
        tflm.TflmInterpreter(model, 100)


def test_recommended_arena_adds_margin_and_aligns():
    assert tflm.recommended_arena_bytes(3520) == 3872  # 3872.0 -> already a multiple of 16
    assert tflm.recommended_arena_bytes(3521) % 16 == 0
    assert tflm.recommended_arena_bytes(3521) >= 3521 * 1.1
    assert tflm.recommended_arena_bytes(1000, margin=0) == 1008


def test_missing_op_is_named():
    model = unsupported_op_model()
    assert "TOPK_V2" in read_tflite(model).ops
    with pytest.raises(tflm.TflmMissingOpError, match="TOPK_V2") as err:
        tflm.TflmInterpreter(model, 16 * 1024)
    assert err.value.op == "TOPK_V2"
    # The same answer straight from TFLM's log, without the pre-check.
    with pytest.raises(tflm.TflmMissingOpError, match="TOPK_V2"):
        tflm.TflmInterpreter(model, 16 * 1024, check_ops=False)
    with pytest.raises(UnsupportedOpError, match="TOPK_V2"):
        render_model_ops_header(read_tflite(model).ops)


def test_quantize_dequantize_round_trip(model):
    frame = read_tflite(model).inputs[1]
    lo, hi = (-128 - frame.zero_point) * frame.scale, (127 - frame.zero_point) * frame.scale
    x = np.linspace(lo, hi, 101)
    q = tflm.quantize(x, frame)
    assert q.dtype == np.int8
    assert np.abs(tflm.dequantize(q, frame) - x).max() <= frame.scale / 2 + 1e-6
    assert tflm.quantize(np.array([1e9, -1e9]), frame).tolist() == [127, -128]


def test_time_invoke_reports_microseconds(model):
    timing = tflm.time_invoke(tflm.TflmInterpreter(model, 16 * 1024), repeats=20)
    assert timing.repeats == 20
    assert 0 < timing.min_us <= timing.median_us
    assert timing.mean_us < 10_000  # a 4-op model: microseconds, not milliseconds


def test_step_runner_feeds_the_state_bytes_back_as_the_firmware(model):
    """TflmStepRunner gives what invoking the interpreter by hand gives, each new state fed
    back unchanged; reset() starts again from the zero point; a state whose output has other
    quantization than its input, and float inputs, are refused."""
    from types import SimpleNamespace

    info = read_tflite(model)
    ins = [t.signature_name for t in info.inputs]
    outs = [t.signature_name for t in info.outputs]
    roles = SimpleNamespace(frame_input=ins.index("frame"), logits_output=outs.index("scores"),
                            state_inputs=[ins.index("state")],
                            state_outputs=[outs.index("new_state")])
    runner = TflmStepRunner(tflm.TflmInterpreter(model, 16 * 1024), roles)
    frames = tflm.quantize(np.random.default_rng(2).normal(size=(30, 10)), runner.frame_tensor)
    run = runner.run(frames, return_states=True)
    assert run.outputs.shape == (30, 4) and run.states[0].shape == (30, 16)

    by_hand = tflm.TflmInterpreter(model, 16 * 1024)
    state = np.full((1, 16), info.inputs[roles.state_inputs[0]].zero_point, np.int8)
    for t, frame in enumerate(frames):
        by_hand.set_input(roles.frame_input, frame)
        by_hand.set_input(roles.state_inputs[0], state)
        by_hand.invoke()
        np.testing.assert_array_equal(run.outputs[t], by_hand.get_output(roles.logits_output)[0])
        state = by_hand.get_output(roles.state_outputs[0])
        np.testing.assert_array_equal(run.states[0][t], state[0])
    assert len(np.unique(run.states[0], axis=0)) > 10  # the state moves: carrying it matters
    assert runner.invoke_seconds > 0

    carried = runner.run(frames[:5], return_states=True).states[0]  # from the 30th state on
    runner.reset()
    fresh = runner.run(frames[:5], return_states=True)
    np.testing.assert_array_equal(fresh.outputs, run.outputs[:5])
    assert not np.array_equal(carried, fresh.states[0])

    swapped = SimpleNamespace(**{**vars(roles), "state_outputs": [roles.logits_output]})
    with pytest.raises(ValueError, match="could not copy the state back"):
        TflmStepRunner(runner.interpreter, swapped)
    with pytest.raises(ValueError, match="quantize first"):
        runner.run(np.zeros((3, 10), np.float32))

