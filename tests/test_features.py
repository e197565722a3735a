"""Front ends: each one's output on real clips equals the reference library call.

References are written out independently here (literal op parameters, tables built from
cmsisdsp directly), so a wrong parameter, window, table or framing in ghost_keras.features
makes these fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ghost_keras  # noqa: F401  (tf-keras before tensorflow)
from ghost_keras.features import FrontendConfig, make_frontend, to_int16

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clips(test12_dir: Path) -> list[np.ndarray]:
    """Three real one-second keyword clips (int16)."""
    out = []
    for word in ("yes", "no", "stop"):
        path = sorted((test12_dir / word).glob("*.wav"))[0]
        audio, sr = sf.read(path, dtype="int16")
        assert sr == 16000 and audio.shape == (16000,)
        out.append(audio)
    return out


@pytest.fixture(scope="module")
def noise(test12_dir: Path) -> np.ndarray:
    """1.5 s of real background noise (int16), 75 strides of 320 samples."""
    paths = sorted((test12_dir / "_silence_").glob("*.wav"))[:2]
    audio = np.concatenate([sf.read(p, dtype="int16")[0] for p in paths])
    return audio[:24000]


@pytest.fixture(scope="module")
def micro():
    return make_frontend(FrontendConfig.microfrontend())


@pytest.fixture(scope="module")
def mfcc():
    return make_frontend(FrontendConfig.cmsis_mfcc())


# ---------------------------------------------------------------------------- shapes


def test_preset_sizes():
    m = FrontendConfig.microfrontend()
    assert (m.window_samples, m.stride_samples, m.num_frames, m.feature_dim) == (480, 320, 49, 40)
    c = FrontendConfig.cmsis_mfcc()
    assert (c.window_samples, c.stride_samples, c.num_frames, c.feature_dim) == (640, 320, 49, 10)
    assert (c.fft_length, c.num_channels, c.q15, c.input_scale) == (1024, 40, True, 1 / 128)
    assert m.input_scale == 10 / 256
    assert FrontendConfig() == m  # the microfrontend is the default
    assert [m.frames_for(n) for n in (479, 480, 799, 800, 16000)] == [0, 1, 1, 2, 49]


def test_output_shapes_and_dtypes(micro, mfcc, clips):
    assert micro.compute(clips[0]).shape == (49, 40)
    assert micro.compute(clips[0]).dtype == np.float32
    assert micro.compute_raw(clips[0]).dtype == np.uint16
    assert mfcc.compute(clips[0]).shape == (49, 10)
    assert mfcc.compute_raw(clips[0]).dtype == np.int16


# ---------------------------------------------------------------------------- reference equality


def test_microfrontend_equals_tf_op(micro, clips):
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op

    for clip in clips:
        ref = audio_microfrontend_op.audio_microfrontend(
            tf.constant(clip), sample_rate=16000, window_size=30, window_step=20,
            num_channels=40, upper_band_limit=7500.0, lower_band_limit=125.0,
            smoothing_bits=10, even_smoothing=0.025, odd_smoothing=0.06,
            min_signal_remaining=0.05, enable_pcan=True, pcan_strength=0.95, pcan_offset=80.0,
            gain_bits=21, enable_log=True, scale_shift=6, out_type=tf.uint16,
        ).numpy()
        assert ref.shape == (49, 40) and ref.max() > 0
        np.testing.assert_array_equal(micro.compute_raw(clip), ref)
        # micro_speech's training: float output of the op times 10/256, in float32.
        ref_float = audio_microfrontend_op.audio_microfrontend(
            tf.constant(clip), window_size=30, window_step=20, num_channels=40,
            out_type=tf.float32,
        ) * (10.0 / 256.0)
        np.testing.assert_array_equal(micro.compute(clip), ref_float.numpy())


def _reference_mfcc_q15(audio: np.ndarray):
    """Hello Edge MFCC straight from cmsisdsp: 640-sample periodic Hann in a 1024 FFT."""
    import cmsisdsp as dsp
    import cmsisdsp.datatype as dt
    import cmsisdsp.mfcc as cm
    import scipy.signal

    n_fft, win, hop = 1024, 640, 320
    lengths, positions, coefs = cm.melFilterMatrix(dt.Q15, 20, 4000, 40, 16000, n_fft)
    dct = cm.dctMatrix(dt.Q15, 10, 40)
    window = np.zeros(n_fft)
    window[:win] = scipy.signal.windows.hann(win, sym=False)
    window = dt.convert(window, dt.Q15)
    inst = dsp.arm_mfcc_instance_q15()
    assert dsp.arm_mfcc_init_q15(inst, n_fft, 40, 10, dct, positions, lengths, coefs, window) == 0
    tmp = np.zeros(dsp.arm_mfcc_tmp_buffer_size(dt.Q15, n_fft, 1), np.int32)
    rows = []
    for start in range(0, len(audio) - win + 1, hop):
        frame = np.zeros(n_fft, np.int16)
        frame[:win] = audio[start : start + win]
        status, out = dsp.arm_mfcc_q15(inst, frame, tmp)
        assert status == 0
        rows.append(out)
    tables = {"dct_coefs": dct, "filter_pos": positions, "filter_lengths": lengths,
              "filter_coefs": coefs, "window_coefs": window}
    return np.array(rows), tables


def test_cmsis_q15_equals_library_0_lsb(mfcc, clips):
    for clip in clips:
        ref, tables = _reference_mfcc_q15(clip)
        assert ref.shape == (49, 10)
        raw = mfcc.compute_raw(clip)
        assert raw.dtype == np.int16
        np.testing.assert_array_equal(raw, ref)  # 0 LSB
        np.testing.assert_array_equal(mfcc.compute(clip), ref.astype(np.float32) / 128)
    got = mfcc.c_tables()
    assert set(got) == set(tables)
    for name, ref_table in tables.items():
        np.testing.assert_array_equal(got[name], np.asarray(ref_table), err_msg=name)
    assert got["window_coefs"].dtype == np.int16 and got["filter_pos"].dtype == np.uint32
    assert not got["window_coefs"][640:].any()  # zero padding up to the FFT length


def test_cmsis_q15_output_is_q8_7(clips):
    """The q15 MFCC / 128 matches the float library on loud frames (wrong scale would not)."""
    q15 = make_frontend(FrontendConfig.cmsis_mfcc())
    f32 = make_frontend(FrontendConfig.cmsis_mfcc(q15=False))
    assert f32.compute_raw(clips[0]).dtype == np.float32
    diffs = []
    for clip in clips:
        peak = np.abs(np.lib.stride_tricks.sliding_window_view(clip, 640)[::320]).max(axis=1)
        loud = peak > 4000
        diffs.append(np.abs(q15.compute(clip) - f32.compute(clip))[loud])
    diffs = np.concatenate(diffs)
    assert diffs.size >= 10 and np.median(diffs) < 0.5


def test_microfrontend_c_tables_and_config_for_c(micro):
    # The device installs these tables (TensorFlow's double-precision ones); the firmware tests
    # prove on real speech that it then computes these features bit for bit.
    t = micro.c_tables()
    w = t["window_coefficients"]
    assert w.dtype == np.int16 and w.shape == (480,) and np.array_equal(w, w[::-1])
    assert 0 <= w.min() and w.max() <= 4096
    n = micro.config.num_channels + 1
    for name in ("channel_frequency_starts", "channel_weight_starts", "channel_widths"):
        assert t[f"filterbank_{name}"].shape == (n,)
    weights, unweights = t["filterbank_weights"], t["filterbank_unweights"]
    used = (weights + unweights) > 0
    assert np.all(np.abs(weights[used] + unweights[used] - 4096) <= 1)  # q12 w and 1 - w
    assert 0 < t["filterbank_start_index"][0] < t["filterbank_end_index"][0] <= 257
    c = micro.config.microfrontend_c_config()
    assert c["window.size_ms"] == 30 and c["pcan_gain_control.enable_pcan"] == 1


# ---------------------------------------------------------------------------- context / streams


def test_microfrontend_context_is_continuous_run(micro, clips, noise):
    clip = clips[0]
    with_ctx = micro.compute(clip, context=noise)
    full = micro.compute(np.concatenate([noise, clip]))
    assert full.shape[0] == 75 + 49
    np.testing.assert_array_equal(with_ctx, full[-49:])
    # State matters: a fresh front end gives clearly different features for the same clip.
    fresh = micro.compute(clip)
    assert np.abs(with_ctx - fresh).mean() > 0.5


def test_context_is_trimmed_to_stride_boundary(micro, clips, noise):
    clip = clips[1]
    odd = np.concatenate([noise[:123], noise])  # 123 extra samples at the start
    got = micro.compute(clip, context=odd)
    np.testing.assert_array_equal(got, micro.compute(np.concatenate([noise, clip]))[-49:])
    misaligned = micro.compute(np.concatenate([odd, clip]))[-49:]
    assert not np.array_equal(got, misaligned)


def test_cmsis_is_stateless_with_context(mfcc, clips, noise):
    clip = clips[0]
    np.testing.assert_array_equal(mfcc.compute(clip, context=noise), mfcc.compute(clip))
    np.testing.assert_array_equal(
        mfcc.compute(clip), mfcc.compute(np.concatenate([noise, clip]))[-49:]
    )


def test_long_stream_carries_state(micro, mfcc, clips, noise):
    stream = np.concatenate([clips[0], noise, clips[1], clips[2]])  # 4.5 s
    for fe in (micro, mfcc):
        out = fe.compute(stream)
        assert out.shape == (fe.config.frames_for(stream.size), fe.config.feature_dim)
        np.testing.assert_array_equal(out[:49], fe.compute(stream[:16000]))
    # Second 2..3 of the stream: with the state carried it is the context result.
    last = micro.compute(stream)[-49:]
    np.testing.assert_array_equal(last, micro.compute(clips[2], context=stream[:-16000]))
    np.testing.assert_array_equal(mfcc.compute(stream)[-49:], mfcc.compute(clips[2]))


# ---------------------------------------------------------------------------- audio input


def test_float_audio_equals_int16(micro, mfcc, test12_dir):
    path = sorted((test12_dir / "go").glob("*.wav"))[0]
    as_int, _ = sf.read(path, dtype="int16")
    as_float, _ = sf.read(path, dtype="float32")
    for fe in (micro, mfcc):
        np.testing.assert_array_equal(fe.compute(as_float), fe.compute(as_int))
    conv = to_int16(np.array([1.0, -1.0, 0.5, 1 / 32768, -0.0], np.float64))
    np.testing.assert_array_equal(conv, np.array([32767, -32768, 16384, 1, 0], np.int16))


@pytest.mark.parametrize(
    "make_audio, match",
    [
        (lambda c: c.astype(np.int32), "dtype int32"),
        (lambda c: np.stack([c, c], axis=1), "stereo"),
        (lambda c: np.stack([c, c], axis=0), "stereo"),
        (lambda c: c[:, None], r"\[:, 0\]"),
        (lambda c: c[:400], "shorter than one window"),
        (lambda c: c[:0], "empty"),
        (lambda c: c.astype(np.float32), r"\[-1, 1\]"),  # int16 values as float: not scaled
        (lambda c: np.full(16000, np.nan, np.float32), "NaN"),
    ],
)
def test_bad_audio_raises(micro, mfcc, clips, make_audio, match):
    bad = make_audio(clips[0])
    for fe in (micro, mfcc):
        with pytest.raises(ValueError, match=match):
            fe.compute(bad)


def test_bad_context_raises(micro, clips, noise):
    with pytest.raises(ValueError, match="context .*stereo"):
        micro.compute(clips[0], context=np.stack([noise, noise], axis=1))


# ---------------------------------------------------------------------------- tf.data


def test_tf_compute_in_dataset_matches_compute(micro, mfcc, clips, noise):
    import tensorflow as tf

    batch = np.stack(clips)
    for fe in (micro, mfcc):
        ds = tf.data.Dataset.from_tensor_slices(batch).map(fe.tf_compute)
        assert ds.element_spec.shape == (49, fe.config.feature_dim)
        for got, clip in zip(ds, clips):
            np.testing.assert_array_equal(got.numpy(), fe.compute(clip))
        # Unknown length, float input (the microfrontend op's own shape function breaks here).
        lengths = [16000, 12345]
        gen = lambda: (c[:n].astype(np.float32) / 32768 for c, n in zip(clips, lengths))
        ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec([None], tf.float32))
        ds = ds.map(fe.tf_compute)
        assert ds.element_spec.shape.as_list() == [None, fe.config.feature_dim]
        for got, clip, n in zip(ds, clips, lengths):
            np.testing.assert_array_equal(got.numpy(), fe.compute(clip[:n]))
    # With context, as training on device-like features does.
    ctx = tf.data.Dataset.from_tensors(noise[:-100]).repeat(len(clips))
    ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(batch), ctx)).map(micro.tf_compute)
    for got, clip in zip(ds, clips):
        np.testing.assert_array_equal(got.numpy(), micro.compute(clip, context=noise[:-100]))


def test_normalized_features_are_the_affine_map_in_both_paths(micro, mfcc, clips, noise):
    """A normalized front end gives (features - mean) / std up to float32 rounding, and its
    numpy and TensorFlow paths agree bit for bit (the training pipeline uses the first, a
    ``tf.data`` user the second)."""
    import tensorflow as tf

    for fe in (micro, mfcc):
        plain = fe.compute(clips[0], context=noise)
        mean, std = float(plain.mean()), float(plain.std())
        norm = make_frontend(fe.config.normalized(mean, std))
        got = norm.compute(clips[0], context=noise)
        np.testing.assert_allclose(got, (plain - mean) / std, atol=1e-5)
        assert abs(float(got.mean())) < 1e-4 and abs(float(got.std()) - 1) < 1e-4
        tf_got = norm.tf_compute(tf.constant(clips[0]), tf.constant(noise)).numpy()
        np.testing.assert_array_equal(tf_got, got)


def test_normalized_refuses_degenerate_statistics():
    cfg = FrontendConfig.microfrontend()
    assert cfg.input_offset == 0.0
    with pytest.raises(ValueError, match="std > 0.*constant features"):
        cfg.normalized(mean=1.0, std=0.0)
    with pytest.raises(ValueError, match="input_offset=nan must be a finite number"):
        FrontendConfig.microfrontend(input_offset=float("nan"))


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "cfg",
    [
        FrontendConfig.microfrontend(),
        FrontendConfig.cmsis_mfcc(),
        FrontendConfig.cmsis_mfcc(q15=False, window_type="hamming", num_coefficients=13),
        FrontendConfig.microfrontend(num_channels=32, enable_pcan=False, input_scale=0.5),
        FrontendConfig.microfrontend().normalized(mean=4.9, std=7.9),
    ],
)
def test_config_round_trip(cfg):
    text = json.dumps(cfg.to_dict())
    back = FrontendConfig.from_dict(json.loads(text))
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()


def test_from_dict_rejects_unknown():
    d = FrontendConfig.microfrontend().to_dict()
    with pytest.raises(ValueError, match="unknown key.*'window'"):
        FrontendConfig.from_dict({**d, "window": 30})
    with pytest.raises(ValueError, match="kind='mel'.*unknown"):
        FrontendConfig.from_dict({**d, "kind": "mel"})
    with pytest.raises(ValueError, match="missing 'kind'"):
        FrontendConfig.from_dict({"window_ms": 30})
    with pytest.raises(ValueError, match="does not apply"):  # microfrontend fields on cmsis
        FrontendConfig.from_dict({**d, "kind": "cmsis_mfcc"})


def test_device_settings_are_the_firmware_view():
    """One row per model_settings.h macro; ints stay ints and booleans become 0/1, so the
    header renders each with the right literal kind; the C fields exist only for the
    microfrontend; a float MFCC has no firmware front end."""
    from ghost_keras.features.device_settings import device_kind, manifest_frontend

    micro = FrontendConfig.microfrontend(pcan_offset=80, enable_pcan=False)
    rows = micro.device_settings()
    assert len({r.macro for r in rows}) == len({r.key for r in rows}) == len(rows)
    by_key = {r.key: r.value for r in rows}
    assert by_key["enable_pcan"] == 0 and type(by_key["enable_pcan"]) is int
    assert by_key["pcan_offset"] == 80.0 and type(by_key["pcan_offset"]) is float
    assert manifest_frontend(micro) == {"kind": "microfrontend", **by_key}
    mfcc = FrontendConfig.cmsis_mfcc()
    assert device_kind(mfcc) == "cmsis_mfcc_q15"
    assert not any(r.c_field for r in mfcc.device_settings())
    with pytest.raises(ValueError, match="arm_mfcc_q15"):
        FrontendConfig.cmsis_mfcc(q15=False).device_settings()


def test_config_is_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        FrontendConfig.microfrontend().window_ms = 40


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "cmsis_mfcc", "fft_length": 512}, "fft_length=512 is shorter than the window.*1024"),
        ({"kind": "cmsis_mfcc", "fft_length": 1000}, "fft_length=1000 .*one of"),
        ({"kind": "cmsis_mfcc", "num_coefficients": 41}, "num_coefficients=41 exceeds"),
        ({"kind": "cmsis_mfcc", "window_type": "kaiser"}, "window_type"),
        ({"kind": "microfrontend", "num_coefficients": 10}, "num_coefficients.*does not apply"),
        ({"kind": "microfrontend", "sample_rate": 22050}, "sample_rate"),
        ({"kind": "microfrontend", "stride_ms": 40}, "stride_ms=40 is longer"),
        ({"kind": "microfrontend", "upper_band_hz": 8000.0}, "upper_band_hz"),
        ({"kind": "microfrontend", "lower_band_hz": 8000.0, "upper_band_hz": 7000.0}, "lower_band_hz <"),
        ({"kind": "microfrontend", "window_ms": 30.5}, "window_ms=30.5 must be an integer"),
        ({"kind": "microfrontend", "window_ms": True}, "window_ms=True"),
        ({"kind": "microfrontend", "input_scale": 0}, "input_scale"),
        ({"kind": "microfrontend", "clip_samples": 100}, "clip_samples=100"),
        ({"kind": "microfrontend", "enable_pcan": 1}, "enable_pcan"),
        ({"kind": "cmsis_mfcc", "sample_rate": 11025}, "whole number of samples"),
        ({"kind": "stft"}, "kind='stft' is unknown"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FrontendConfig(**kwargs)


def test_make_frontend_checks(mfcc):
    with pytest.raises(ValueError, match="narrower than one FFT bin"):
        make_frontend(FrontendConfig.cmsis_mfcc(num_channels=128, num_coefficients=10, fft_length=256, window_ms=16, stride_ms=10))
    with pytest.raises(ValueError, match="needs a FrontendConfig"):
        make_frontend("microfrontend")
    assert make_frontend(FrontendConfig.cmsis_mfcc().to_dict()).config == mfcc.config
