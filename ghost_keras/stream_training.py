"""Step models trained to be read at every frame, on long audio.

A recurrent model trained on 1-s clips is only ever asked for an answer at the end of a clip,
from a zero state. On the device it is read at every 20-ms frame with its state carried for
hours: mid-word, just after a word, in long noise. Measured here, that is where a clip-trained
GRU false-accepts (docs/design.md, "Always listening"). :func:`stream_train` fine-tunes a
clip-trained recurrent run for that use:

- **Audio like the device hears it**: long streams built from the run's *training* split with
  :func:`ghost_keras.data.long_stream.make_long_stream` (keywords, unknown words and silence
  at random gaps in background noise, random gain, an SNR drawn per segment), a new stream
  every epoch.
- **Features like the device computes them**: the front end runs continuously over each
  segment (:func:`ghost_keras.features.stream.stream_features`), frame times included.
- **Per-frame targets** (:func:`frame_targets`): a word's label from ``lead_ms`` before its
  end until ``hold_ms`` after it, silence everywhere else, and no loss while the word is still
  being spoken (the model cannot know it yet). ``hold_ms`` defaults to the recognizer's
  averaging window, so a confident model's averaged score reaches 1 just as the window fills.
- **Long sequences**: the features are cut into chunks of ``chunk_frames`` (default 15 s),
  each starting from a zero state at a random place in the stream, so the model learns to
  answer and to forget inside one sequence. Measured on GhostGRU-S r2 (60-min test stream,
  int8 on TFLM): 15-s chunks gave FRR 0.88/0.78/0.64 at 1/5/20 false accepts per hour (the
  ``streaming`` suite in docs/results.md), 5-s chunks 0.88/0.86/0.68, and a 0.5-s hold instead
  of 1 s 0.92/0.86/0.71 (runs made while choosing these defaults).
- **Clips kept in view** (``clip_share``, off by default): a share of the run's training clips,
  read from a zero state with their label at the last frame, mixed into every epoch's batches.
  Pure stream training fits the generator's streams and loses clip accuracy (GhostGRU-S r2, 30
  epochs: 86.5% -> 78.7%; 86.6% with ``clip_share=0.25``, the ``streaming`` suite); the clips
  are real speech in the conditions the model first learned.
- **Negatives** (``keyword_fraction``, ``unknown_fraction``, ``whole_unknown``, off by
  default): more unknown words in the training streams, and their frames labelled
  ``_unknown_`` while they are spoken, against the last false accepts of a stream-trained model,
  unknown words it takes for keywords with a high score.

The result is a normal run folder: ``model.keras`` is the clip-shaped model (same weights: the
head reads the last state) so evaluate, export, firmware and stream-eval work on it unchanged;
``config.json`` gains a ``stream_training`` section. The best epoch by validation loss on a
fixed stream from the validation split is kept (epoch 0 = the clip-trained model).

Example:

>>> from ghost_keras.stream_training import StreamTrainConfig, stream_train
>>> stream_train("runs/gru", "runs/gru_stream", StreamTrainConfig(epochs=4))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras

from ghost_keras.data.long_stream import TruthItem, make_long_stream
from ghost_keras.data.speech_commands import SILENCE, UNKNOWN, SpeechCommandsIndex
from ghost_keras.features import FrontendConfig
from ghost_keras.features.stream import stream_features
from ghost_keras.fileio import atomic_write_json

#: The recognizer's averaging window (firmware default): the default target hold.
DEFAULT_HOLD_MS = 1000


@dataclass
class StreamTrainConfig:
    """How a run is fine-tuned on long audio (saved in the new run's ``config.json``).

    Args:
        epochs: Fine-tuning epochs, each on a newly generated stream.
        minutes_per_epoch: Audio per epoch.
        segment_minutes: Length of one generated stream (front end restarted per segment).
        chunk_frames: Frames per training sequence (zero state at its start).
        batch_size: Sequences per batch.
        learning_rates: Adam rates, piecewise constant over equal shares of the steps.
        snr_db: (low, high) SNR of a word against the noise bed, drawn per segment.
        gap_s: (low, high) seconds between items.
        gain_db: (low, high) gain of each word in dB.
        hold_ms: Frames up to this long after a word's end get the word's label.
        lead_ms: ... and from this long before its end.
        validation_minutes: Length of the fixed validation stream.
        clip_share: Share of the run's training clips (a new random draw each epoch) mixed
            into the epoch as sequences with their label at the last frame; 0: streams only.
        keyword_fraction: Share of the training streams' items that are keywords.
        unknown_fraction: ... that are unknown words (the rest are silence items).
        whole_unknown: Frames while an unknown word is spoken get ``_unknown_`` too, instead of
            no loss: the model is taught never to name a keyword during another word (a
            keyword's own frames before ``lead_ms`` keep no loss).
        seed: Seeds the streams, chunking, order and weights' updates.
    """

    epochs: int = 12
    minutes_per_epoch: float = 120.0
    segment_minutes: float = 10.0
    chunk_frames: int = 750
    batch_size: int = 8
    learning_rates: list[float] = field(default_factory=lambda: [1e-3, 3e-4, 1e-4])
    snr_db: list[float] = field(default_factory=lambda: [5.0, 25.0])
    gap_s: list[float] = field(default_factory=lambda: [0.3, 2.0])
    gain_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    hold_ms: int = DEFAULT_HOLD_MS
    lead_ms: int = 100
    validation_minutes: float = 10.0
    clip_share: float = 0.0
    keyword_fraction: float = 0.6
    unknown_fraction: float = 0.25
    whole_unknown: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.chunk_frames < 2:
            raise ValueError("epochs and batch_size must be >= 1 and chunk_frames >= 2.")
        if min(self.minutes_per_epoch, self.segment_minutes, self.validation_minutes) <= 0:
            raise ValueError("minutes_per_epoch, segment_minutes and validation_minutes must "
                             "be > 0.")
        if self.hold_ms <= 0 or self.lead_ms < 0:
            raise ValueError(f"hold_ms={self.hold_ms} must be > 0 and lead_ms={self.lead_ms} "
                             ">= 0.")
        if not 0.0 <= self.clip_share <= 1.0:
            raise ValueError(f"clip_share={self.clip_share} must be in [0, 1].")
        if (min(self.keyword_fraction, self.unknown_fraction) < 0
                or self.keyword_fraction + self.unknown_fraction > 1 + 1e-9):
            raise ValueError(f"keyword_fraction={self.keyword_fraction} and unknown_fraction="
                             f"{self.unknown_fraction} must be >= 0 and sum to at most 1 (the "
                             "rest are silence items).")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def frame_targets(truth: Sequence[TruthItem], times_ms: np.ndarray, labels: Sequence[str], *,
                  hold_ms: int = DEFAULT_HOLD_MS, lead_ms: int = 100,
                  whole_unknown: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame label ids and loss weights of a stream from its truth.

    Silence everywhere; a keyword or unknown word ``[start, end]`` makes frames with times in
    ``[start, end - lead)`` weight 0 (still being spoken) and frames in ``[end - lead,
    end + hold)`` its label; with ``whole_unknown`` an unknown word's label starts at its
    ``start``. Items are applied in time order, so a word starting inside the previous word's
    hold takes over from its start.

    Example:
        >>> t = np.arange(0, 3000, 500)                      # frames at 0, 0.5, ..., 2.5 s
        >>> y, w = frame_targets([TruthItem("yes", 0.4, 1.2)], t, ["_silence_", "yes"],
        ...                      hold_ms=1000, lead_ms=0)
        >>> y.tolist(), w.tolist()
        ([0, 0, 1, 1, 0, 0], [1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    """
    labels = list(labels)
    if SILENCE not in labels:
        raise ValueError(f"the labels {labels} have no {SILENCE!r}: per-frame targets need it.")
    t = np.asarray(times_ms, np.float64) / 1000.0
    targets = np.full(len(t), labels.index(SILENCE), np.int32)
    weights = np.ones(len(t), np.float32)
    for item in sorted(truth, key=lambda i: i.start):
        if item.label == SILENCE:
            continue
        if item.label not in labels:
            raise ValueError(f"truth label {item.label!r} is not one of the model's {labels}.")
        care = (item.start if whole_unknown and item.label == UNKNOWN
                else item.end - lead_ms / 1000.0)
        speaking = (t >= item.start) & (t < care)
        weights[speaking] = 0.0
        held = (t >= max(care, item.start)) & (t < item.end + hold_ms / 1000.0)
        targets[held] = labels.index(item.label)
        weights[held] = 1.0
    return targets, weights


def stream_examples(index: SpeechCommandsIndex, frontend: FrontendConfig,
                    labels: Sequence[str], split: str, minutes: float, seed: int,
                    config: StreamTrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training sequences cut from new long streams of one split.

    Returns:
        ``(x [N, chunk_frames, F], y [N, chunk_frames], w [N, chunk_frames])``.
    """
    rng = np.random.default_rng(seed)
    segments = max(1, math.ceil(minutes / config.segment_minutes))
    seconds = 60.0 * minutes / segments
    xs, ys, ws = [], [], []
    n = config.chunk_frames
    for s in range(segments):
        audio, truth = make_long_stream(
            index, seconds, seed=int(rng.integers(2**31)), split=split,
            snr_db=float(rng.uniform(*config.snr_db)), gap_s=tuple(config.gap_s),
            gain_db=tuple(config.gain_db), keyword_fraction=config.keyword_fraction,
            unknown_fraction=config.unknown_fraction)
        features, times = stream_features(audio, frontend)
        y, w = frame_targets(truth, times, labels, hold_ms=config.hold_ms,
                             lead_ms=config.lead_ms, whole_unknown=config.whole_unknown)
        offset = int(rng.integers(n))
        count = (len(features) - offset) // n
        if count < 1:
            continue
        end = offset + count * n
        xs.append(features[offset:end].reshape(count, n, -1))
        ys.append(y[offset:end].reshape(count, n))
        ws.append(w[offset:end].reshape(count, n))
    if not xs:
        raise ValueError(f"{minutes} minutes of stream give no sequence of {n} frames; "
                         "lower chunk_frames or raise the minutes.")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def clip_examples(x: np.ndarray, y: np.ndarray, share: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random ``share`` of clips as per-frame training sequences.

    Each clip is answered at its last frame only, as the clip-trained model was: its label
    there with weight ``frames`` (so a batch's mean per-frame loss is its mean per-clip loss,
    the scale of a stream batch's), weight 0 elsewhere.

    Args:
        x: Clip features ``[N, frames, F]``.
        y: Clip label ids ``[N]``.
        share: Share of the clips drawn (at least one).
        seed: Seeds the draw.

    Returns:
        ``(x [M, frames, F], y [M, frames], w [M, frames])``.
    """
    keep = np.random.default_rng(seed).permutation(len(y))[:max(1, round(share * len(y)))]
    frames = x.shape[1]
    targets = np.repeat(np.asarray(y, np.int32)[keep, None], frames, axis=1)
    weights = np.zeros(targets.shape, np.float32)
    weights[:, -1] = frames
    return x[keep], targets, weights


def epoch_batches(streams: tuple[np.ndarray, ...], clips: tuple[np.ndarray, ...] | None,
                  batch_size: int, seed: int) -> tuple[tf.data.Dataset, int]:
    """One epoch of ``(x, y, w)`` batches in random order, and its number of batches.

    Stream sequences come ``batch_size`` at a time; clip sequences (if any) in batches of about
    as many frames, so both kinds cost a step alike.
    """
    def batched(data: tuple[np.ndarray, ...], size: int) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(data).shuffle(
            len(data[0]), seed=seed).batch(size)

    batches = batched(streams, batch_size)
    count = math.ceil(len(streams[0]) / batch_size)
    if clips is not None and len(clips[0]):
        size = batch_size * max(1, streams[0].shape[1] // clips[0].shape[1])
        batches = batches.concatenate(batched(clips, size))
        count += math.ceil(len(clips[0]) / size)
        batches = batches.shuffle(count, seed=seed)
    return batches, count


def per_frame_twin(model: keras.Model) -> keras.Model:
    """The model with logits at every frame, sharing nothing but a weight copy.

    Each layer is rebuilt from its own config, the recurrent ones with
    ``return_sequences=True``, on sequences of any length: whatever the layers are (a hand-built
    model as well as one of ``build_model``'s), the twin is the same network read per frame.

    Args:
        model: A streamable clip model (recurrent layers followed by frame-wise layers).
    """

    def per_frame(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, keras.layers.RNN):
            config["return_sequences"] = True
        return type(layer).from_config(config)

    frames_any = keras.Input((None, int(model.input_shape[-1])))  # sequences of any length
    twin = keras.models.clone_model(model, input_tensors=frames_any, clone_function=per_frame)
    twin.set_weights(model.get_weights())
    return twin


def stream_datasets(run_config: dict[str, Any], seed: int
                    ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Per-frame ``(x, y, w)`` batches of a stream-trained run, made as its stream training made
    them (its ``StreamTrainConfig``): one epoch's worth of new training streams (seeded by
    ``seed``) and its fixed validation stream. For fine-tuning it further, e.g. with QAT
    (:func:`ghost_keras.quantization.qat_run`)."""
    from ghost_keras.training import TrainConfig, load_index

    config = StreamTrainConfig(**run_config["stream_training"])
    labels = list(run_config["labels"])
    frontend = FrontendConfig.from_dict(run_config["frontend"])
    index = load_index(TrainConfig.from_dict(run_config["train"]))
    train = stream_examples(index, frontend, labels, "train", config.minutes_per_epoch, seed,
                            config)
    val = stream_examples(index, frontend, labels, "validation", config.validation_minutes,
                          config.seed + 7919, config)
    clips = (clip_examples(*_training_clips(run_config), config.clip_share, seed)
             if config.clip_share else None)
    batches, _ = epoch_batches(train, clips, config.batch_size, seed)
    return batches, tf.data.Dataset.from_tensor_slices(val).batch(64)


def _training_clips(run_config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The run's clean training clips (features of its front end) and their label ids."""
    from ghost_keras.training import run_datasets

    datasets, _ = run_datasets(run_config)
    return datasets.as_numpy("train")


def stream_train(run_dir: str | Path, out_dir: str | Path,
                 config: StreamTrainConfig | None = None, verbose: int = 1) -> dict[str, Any]:
    """Fine-tunes a clip-trained recurrent run per frame on long audio into a new run folder.

    Args:
        run_dir: A finished recurrent training run (``ghost-kws train``).
        out_dir: The new run folder (its old qat/export/firmware products are removed).
        config: :class:`StreamTrainConfig` (defaults if None).
        verbose: 0 silent, 1 one line per epoch.

    Returns:
        The new run's metrics (also written to ``metrics.json``): clip test accuracy,
        validation loss per epoch and the epoch kept.

    Raises:
        ValueError: the run is a window model (DS-CNN): it is re-run on windows, not stepped.
    """
    from ghost_keras.profile import profile_model
    from ghost_keras.streaming import is_streamable
    from ghost_keras.training import (CONFIG_FILE, MODEL_FILE, TrainConfig,
                                      learning_rate_schedule, load_index, load_run,
                                      run_datasets)

    config = config or StreamTrainConfig()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if run_dir.resolve() == out_dir.resolve():
        raise ValueError("out_dir must differ from run_dir: the clip-trained run is kept as "
                         "the baseline.")
    model, run_config = load_run(run_dir)
    if not is_streamable(model):
        raise ValueError(f"{run_dir} holds a window model ({run_config['train']['arch']}): it "
                         "is re-run on the last window, not stepped; stream training is for "
                         "recurrent models (gru, ghost_gru, lstm, ghost_lstm).")
    keras.utils.set_random_seed(config.seed)
    labels = list(run_config["labels"])
    frontend = FrontendConfig.from_dict(run_config["frontend"])
    index = load_index(TrainConfig.from_dict(run_config["train"]))
    x_val, y_val, w_val = stream_examples(index, frontend, labels, "validation",
                                          config.validation_minutes, config.seed + 7919, config)
    clips = _training_clips(run_config) if config.clip_share else None
    twin = per_frame_twin(model)
    steps_per_epoch = None
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_accuracy": []}

    def validate() -> tuple[float, float]:
        loss, acc = twin.evaluate(x_val, y_val, sample_weight=w_val, batch_size=64, verbose=0)
        return float(loss), float(acc)

    twin.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 weighted_metrics=["accuracy"])
    best_loss, acc = validate()
    history["val_loss"].append(best_loss)
    history["val_accuracy"].append(acc)
    best_weights, best_epoch = twin.get_weights(), 0
    for epoch in range(1, config.epochs + 1):
        epoch_seed = config.seed * 1000 + epoch
        sequences = stream_examples(index, frontend, labels, "train", config.minutes_per_epoch,
                                    epoch_seed, config)
        batches, count = epoch_batches(
            sequences, None if clips is None else clip_examples(*clips, config.clip_share,
                                                                  epoch_seed),
            config.batch_size, epoch_seed)
        if steps_per_epoch is None:  # the schedule needs the step count: set on first data
            steps_per_epoch = count
            schedule = learning_rate_schedule(config.learning_rates,
                                              config.epochs * steps_per_epoch)
            twin.compile(optimizer=keras.optimizers.Adam(schedule),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         weighted_metrics=["accuracy"])
        fit = twin.fit(batches, epochs=1, verbose=0)
        loss, acc = validate()
        history["loss"].append(float(fit.history["loss"][0]))
        history["val_loss"].append(loss)
        history["val_accuracy"].append(acc)
        if loss < best_loss:
            best_loss, best_weights, best_epoch = loss, twin.get_weights(), epoch
        if verbose:
            print(f"stream epoch {epoch}/{config.epochs}: {count} batches, loss "
                  f"{history['loss'][-1]:.4f}, val loss {loss:.4f}, val frame accuracy "
                  f"{acc:.3f}", flush=True)

    model.set_weights(best_weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("qat", "export", "firmware"):
        shutil.rmtree(out_dir / stale, ignore_errors=True)
    partial = out_dir / (".partial." + MODEL_FILE)
    model.save(partial)
    partial.replace(out_dir / MODEL_FILE)
    train = dict(run_config["train"], out_dir=str(out_dir))
    if not train.get("cache_dir"):  # keep the source's feature cache
        train["cache_dir"] = str(run_dir.parent / ".cache" / "features")
    new_config = dict(run_config, train=train, stream_training=config.to_dict(),
                      source_run=str(run_dir))
    atomic_write_json(out_dir / CONFIG_FILE, new_config)
    datasets, _ = run_datasets(new_config)
    x_test, y_test = datasets.as_numpy("test")
    predictions = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=-1)
    metrics = {
        "test_accuracy": float(np.mean(predictions == y_test)), "test_clips": int(len(y_test)),
        "source_test_accuracy": json.loads((run_dir / "metrics.json").read_text()).get(
            "test_accuracy") if (run_dir / "metrics.json").is_file() else None,
        "kept_epoch": best_epoch, "stream_val_loss": history["val_loss"],
        "stream_val_frame_accuracy": history["val_accuracy"],
        "profile": profile_model(model).to_dict(),
    }
    atomic_write_json(out_dir / "history.json", history)
    atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics
