"""Training a KWS model into a run folder: data -> features -> model -> fit -> plots.

A run folder holds everything later stages need (export, firmware, evaluation):

    config.json          the TrainConfig (and the front-end config, labels)
    model.keras          the best model on the validation split (float)
    history.json         per-epoch loss/accuracy
    metrics.json         test accuracy, params, epoch time, profile
    learning_curves.png  loss and accuracy per epoch
    confusion_matrix.png on the test split

and, made from its model by later commands, the folders of :data:`DERIVED_DIRS`, which a new
training into the folder removes.

Example:

>>> from ghost_keras.training import TrainConfig, train
>>> result = train(TrainConfig(arch="ghost_gru", epochs=2, out_dir="runs/demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras

from ghost_keras import data as kws_data
from ghost_keras.features import FrontendConfig, make_frontend
from ghost_keras.fileio import atomic_write_json, reading
from ghost_keras.layers import GhostGRU, GhostLSTM  # noqa: F401  (registers them for loading)
from ghost_keras.models import ARCHITECTURES, build_model
from ghost_keras.profile import ModelProfile, profile_model
from ghost_keras.plots import plot_confusion, plot_history
from ghost_keras.progress import Progress
# learning_rate_schedule is also imported from here (stream_training).
from ghost_keras.recipe import SCHEDULES, learning_rate_schedule, make_loss, make_optimizer

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
BEST_FILE = ".best.keras"  # the best model so far, while training
#: Sub-folders that later commands derive from a run's model (``ghost-kws qat``, ``export``,
#: ``firmware``/``demo``, ``stream-eval``, ``ghost_keras.redundancy.analyse_run``): retraining
#: removes them, since results of the earlier model would silently outlive it.
DERIVED_DIRS = ("qat", "export", "firmware", "stream_eval", "redundancy")


@dataclass
class TrainConfig:
    """Everything that determines a training run (saved as ``config.json``).

    Args:
        arch: ``gru``, ``ghost_gru``, ``lstm``, ``ghost_lstm`` or ``ds_cnn``.
        size: ``S``, ``M`` or ``L`` (Hello Edge sizes).
        ratio: Ghost ratio (ghost models).
        cheap_op: Ghost cheap operation (``dense`` or ``depthwise``).
        frontend: ``microfrontend`` (TFLM's, the default) or ``cmsis_mfcc``.
        data_dirs: Speech Commands folders (full or prepared layout); empty: the synthetic set.
        keywords: The keywords (other words become ``_unknown_``).
        epochs: Training epochs.
        batch_size: Batch size (Hello Edge: 100).
        learning_rates: Piecewise-constant schedule, split evenly over the epochs (Hello Edge:
            5e-4, 1e-4, 2e-5).
        seed: Seeds weights, data plans, augmentation and order.
        out_dir: The run folder.
        cache_dir: Feature cache (default: ``<out_dir>/../.cache/features``).
        synthetic_clips_per_word: Size of the synthetic set when no data is given.
        synthetic_train_clips_per_word: eSpeak NG clips per word (10 keywords, 25 other words)
            added to the *training* split of the real data (its own validation and test
            clips are left out, so the scores stay on real speech); 0: none.
        strategy: ``auto`` (MirroredStrategy when several GPUs exist), ``default`` or
            ``mirrored``.
        split_dirs: Folders split by speaker with ``speaker_split`` (e.g. the 12-class test
            folder, whose speakers are then shared out between train, validation and test).
        speaker_split: Train/validation/test fractions by speaker for ``split_dirs``.
        balance_classes: Class-balanced sampling of every training epoch (each label an equal
            share of the epoch; :func:`ghost_keras.data.sampling.balanced_order`).
        time_masks: SpecAugment time masks per training example (0: off).
        time_mask_frames: Maximum width of a time mask, in frames.
        freq_masks: SpecAugment frequency masks per training example (0: off).
        freq_mask_bins: Maximum width of a frequency mask, in feature channels.
        label_smoothing: Label smoothing of the cross-entropy, in [0, 1) (0: off).
        weight_decay: Decoupled weight decay (AdamW) per step, times the learning rate; 0: Adam.
        lr_schedule: ``piecewise`` (``learning_rates`` in equal shares, the original recipe) or
            ``cosine`` (warmup to ``learning_rates[0]``, cosine decay to ``learning_rates[-1]``).
        warmup_epochs: Linear warmup of the ``cosine`` schedule, in epochs (fractions allowed).
        teacher_run: A finished run whose float model teaches this one by knowledge
            distillation (:mod:`ghost_keras.distillation`; same labels and front end); None: off.
        distill_alpha: Weight of the teacher's soft targets in the loss, in [0, 1].
        distill_temperature: Softmax temperature of the soft targets.
        noise_snr_db: ``[low, high]`` dB: background noise is mixed into training clips at an
            SNR drawn uniformly from this range (multi-condition training: an always-listening
            device hears words in noise, e.g. the 10 dB of the streaming suite's test stream)
            instead of Hello Edge's noise volume drawn from [0, 0.1]; None: Hello Edge's.
            The share of clips that get noise stays Hello Edge's 80%.
        normalize_features: Scale and shift the front end's features so that the clean
            training clips' features have mean 0 and standard deviation 1 (one pair for all
            channels, written into the run's front-end config: on device it folds into the int8
            input quantization). With a teacher, the teacher's features are used.

    Every field added after the first release defaults, in an older ``config.json``, to the
    earlier behaviour, so such a file loads and describes the run it made.
    """

    arch: str = "ghost_gru"
    size: str = "S"
    ratio: int = 2
    cheap_op: str = "dense"
    frontend: str = "microfrontend"
    data_dirs: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=lambda: list(kws_data.KEYWORDS_12))
    epochs: int = 20
    batch_size: int = 100
    learning_rates: list[float] = field(default_factory=lambda: [5e-4, 1e-4, 2e-5])
    seed: int = 0
    out_dir: str = "runs/latest"
    cache_dir: str | None = None
    synthetic_clips_per_word: int = 100
    synthetic_train_clips_per_word: int = 0
    strategy: str = "auto"
    split_dirs: list[str] = field(default_factory=list)
    speaker_split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    balance_classes: bool = False
    time_masks: int = 0
    time_mask_frames: int = 0
    freq_masks: int = 0
    freq_mask_bins: int = 0
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str = "piecewise"
    warmup_epochs: float = 0.0
    teacher_run: str | None = None
    distill_alpha: float = 0.5
    distill_temperature: float = 4.0
    normalize_features: bool = True
    noise_snr_db: list[float] | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown arch {self.arch!r}; choose one of {sorted(ARCHITECTURES)}.")
        if self.synthetic_train_clips_per_word < 0:
            raise ValueError(f"synthetic_train_clips_per_word="
                             f"{self.synthetic_train_clips_per_word}: must be >= 0.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1.")
        if not self.learning_rates or min(self.learning_rates) <= 0:
            raise ValueError("learning_rates must be a non-empty list of positive numbers.")
        self.spec_augment()  # refuses negative or fractional mask settings
        if self.noise_snr_db is not None and (len(self.noise_snr_db) != 2
                                              or self.noise_snr_db[0] > self.noise_snr_db[1]):
            raise ValueError(f"noise_snr_db={self.noise_snr_db}: need [low, high] dB with "
                             "low <= high (e.g. [0, 20]), or None.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing={self.label_smoothing}: must be in [0, 1).")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay={self.weight_decay}: must be >= 0.")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose one of "
                             f"{SCHEDULES}.")
        if not 0.0 <= self.distill_alpha <= 1.0 or not self.distill_temperature > 0:
            raise ValueError(f"distill_alpha={self.distill_alpha} must be in [0, 1] and "
                             f"distill_temperature={self.distill_temperature} > 0.")
        if self.warmup_epochs < 0 or (self.warmup_epochs and self.lr_schedule != "cosine"):
            raise ValueError(f"warmup_epochs={self.warmup_epochs}: must be >= 0, and needs "
                             "lr_schedule='cosine'.")

    def spec_augment(self) -> kws_data.SpecAugmentConfig:
        """The SpecAugment masks of this run."""
        return kws_data.SpecAugmentConfig(self.time_masks, self.time_mask_frames,
                                          self.freq_masks, self.freq_mask_bins)

    def augment(self) -> kws_data.AugmentConfig:
        """The per-epoch augmentation of this run's training clips."""
        if self.noise_snr_db is None:
            return kws_data.AugmentConfig()
        low, high = self.noise_snr_db
        return kws_data.AugmentConfig(snr_db=(float(low), float(high)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {sorted(unknown)}; known: {sorted(known)}.")
        # Runs from before feature normalization existed trained on the raw scaled features.
        return cls(**{"normalize_features": False, **values})


def frontend_config(name: str) -> FrontendConfig:
    """The front-end preset of a name."""
    presets = {"microfrontend": FrontendConfig.microfrontend, "cmsis_mfcc": FrontendConfig.cmsis_mfcc}
    if name not in presets:
        raise ValueError(f"unknown front end {name!r}; choose one of {sorted(presets)}.")
    return presets[name]()


def load_index(config: TrainConfig, verbose: int = 0) -> kws_data.SpeechCommandsIndex:
    """Indexes the configured data, or makes (once) and indexes the synthetic set
    (``verbose``: its progress line, :mod:`ghost_keras.progress`)."""
    dirs = list(config.data_dirs)
    if not dirs and not config.split_dirs:
        dirs = [str(_synthetic_set(config.synthetic_clips_per_word, config.seed, verbose))]
    several = (len(dirs) + len(config.split_dirs) > 1
               or config.synthetic_train_clips_per_word > 0)
    indexes = [kws_data.scan(d, config.keywords, allow_missing_keywords=several) for d in dirs]
    for d in config.split_dirs:
        index = kws_data.scan(d, config.keywords, split="none", allow_missing_keywords=several)
        indexes.append(index.with_speaker_split(tuple(config.speaker_split), seed=config.seed))
    if config.synthetic_train_clips_per_word:
        indexes.append(_synthetic_training_clips(config, verbose))
    return indexes[0] if len(indexes) == 1 else kws_data.merge(*indexes)


def _synthetic_set(clips_per_word: int, seed: int, verbose: int) -> Path:
    """The eSpeak NG set's folder (made once, then from the cache), with a progress line."""
    from ghost_keras.data.synthetic import ensure_dataset

    with Progress("speech synthesis (eSpeak NG)", unit="clips", verbose=verbose) as bar:
        return ensure_dataset(clips_per_word=clips_per_word, seed=seed, progress=bar.update)


def _synthetic_training_clips(config: TrainConfig, verbose: int) -> kws_data.SpeechCommandsIndex:
    """The eSpeak NG set of ``synthetic_train_clips_per_word``, every clip in the training split,
    without its generated noise (the real data's background noise stays the only one)."""
    root = _synthetic_set(config.synthetic_train_clips_per_word, config.seed, verbose)
    index = kws_data.scan(root, config.keywords, split="none", allow_missing_keywords=True)
    clips = tuple(dataclasses.replace(c, split="train") for c in index.clips)
    return dataclasses.replace(index, clips=clips, noise_paths=())


def _strategy(name: str) -> tf.distribute.Strategy:
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name not in ("auto", "default", "mirrored"):
        raise ValueError(f"unknown strategy {name!r}; choose auto, default or mirrored.")
    return tf.distribute.get_strategy()


def _schedule(config: TrainConfig, steps_per_epoch: int) -> Any:
    steps_per_epoch = max(steps_per_epoch, 1)
    return learning_rate_schedule(config.learning_rates, config.epochs * steps_per_epoch,
                                  kind=config.lr_schedule,
                                  warmup_steps=int(round(config.warmup_epochs * steps_per_epoch)))


@dataclass
class RunResult:
    """What a training run produced."""

    run_dir: Path
    test_accuracy: float
    profile: ModelProfile
    epoch_seconds: float
    history: dict[str, list[float]]

    @property
    def params(self) -> int:
        return self.profile.params


def _compile(model: keras.Model, config: TrainConfig, learning_rate: Any) -> None:
    model.compile(
        optimizer=make_optimizer(learning_rate, config.weight_decay),
        loss=make_loss(config.label_smoothing),
        metrics=["accuracy"],
    )


def train(config: TrainConfig, verbose: int = 1) -> RunResult:
    """Trains ``config.arch`` on the configured data and writes the run folder.

    Returns:
        A :class:`RunResult` with the test accuracy of the best-validation model.
    """
    run_dir = Path(config.out_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _train_into(run_dir, config, verbose)
    except BaseException:
        # A failed or interrupted run leaves no trace: a new folder goes, an earlier run's
        # folder keeps its files (the new ones are written only once training has finished).
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            (run_dir / BEST_FILE).unlink(missing_ok=True)
        raise


def _train_into(run_dir: Path, config: TrainConfig, verbose: int) -> RunResult:
    keras.utils.set_random_seed(config.seed)
    index = load_index(config, verbose)
    labels = list(index.labels)
    cache = config.cache_dir or str(run_dir.parent / ".cache" / "features")
    teacher = None
    if config.teacher_run:
        teacher, teacher_frontend = _teacher(config.teacher_run, labels,
                                             frontend_config(config.frontend))
        frontend = make_frontend(teacher_frontend)
    else:
        frontend = make_frontend(frontend_config(config.frontend))
        if config.normalize_features:
            mean, std = kws_data.feature_statistics(index, frontend, seed=config.seed,
                                                    cache_dir=cache)
            frontend = make_frontend(frontend.config.normalized(mean, std))
    datasets = kws_data.make_datasets(index, frontend, config.batch_size, seed=config.seed,
                                      cache_dir=cache, spec_augment=config.spec_augment(),
                                      augment_config=config.augment(),
                                      balance_classes=config.balance_classes)
    input_shape = (frontend.config.num_frames, frontend.config.feature_dim)
    steps = int(tf.data.experimental.cardinality(datasets["train"]).numpy())

    best = run_dir / BEST_FILE
    with _strategy(config.strategy).scope():
        model = build_model(config.arch, config.size, input_shape, len(labels),
                            ratio=config.ratio, cheap_op=config.cheap_op)
        trainer, checkpoint = model, keras.callbacks.ModelCheckpoint(
            str(best), monitor="val_accuracy", save_best_only=True)
        if teacher is not None:
            from ghost_keras.distillation import BestStudentCheckpoint, Distiller

            trainer = Distiller(model, teacher, config.distill_alpha, config.distill_temperature)
            checkpoint = BestStudentCheckpoint(model, str(best), monitor="val_accuracy",
                                               save_best_only=True)
        _compile(trainer, config, _schedule(config, steps))
    timer = _EpochTimer()
    history = trainer.fit(
        datasets["train"],
        validation_data=datasets["validation"],
        epochs=config.epochs,
        verbose=verbose,
        callbacks=[checkpoint, timer],
    ).history
    model = keras.models.load_model(best)
    for stale in DERIVED_DIRS:
        shutil.rmtree(run_dir / stale, ignore_errors=True)
    atomic_write_json(run_dir / CONFIG_FILE, {
        "train": config.to_dict(), "frontend": frontend.config.to_dict(), "labels": labels,
        "input_shape": list(input_shape),
    })
    best.replace(run_dir / MODEL_FILE)  # the saved file appears only when complete
    x_test, y_test = datasets.as_numpy("test")
    predictions = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=-1)
    accuracy = float(np.mean(predictions == y_test))
    profile = profile_model(model)
    history = {k: [float(v) for v in vals] for k, vals in history.items()}
    atomic_write_json(run_dir / "history.json", history)
    atomic_write_json(run_dir / "metrics.json", {
        "test_accuracy": accuracy, "test_clips": int(len(y_test)),
        "epoch_seconds": timer.mean, "profile": profile.to_dict(),
        "split_counts": index.counts(),
    })
    plot_history(history, run_dir / "learning_curves.png", title=model.name)
    plot_confusion(y_test, predictions, labels, run_dir / "confusion_matrix.png",
                   title=f"{model.name} test accuracy {accuracy:.1%}")
    return RunResult(run_dir, accuracy, profile, timer.mean, history)


def _teacher(run_dir: str, labels: list[str], frontend: FrontendConfig
             ) -> tuple[keras.Model, FrontendConfig]:
    """The float model of a teacher run and its front end, checked to answer the same labels
    from the same front end (up to the teacher's feature normalization, which the student
    then trains on too)."""
    teacher, run_config = load_run(run_dir)
    if list(run_config["labels"]) != labels:
        raise ValueError(f"teacher {run_dir} answers {run_config['labels']}, this run needs "
                         f"{labels}: distil from a run trained on the same labels.")
    own = FrontendConfig.from_dict(run_config["frontend"])
    if dataclasses.replace(own, input_scale=frontend.input_scale,
                           input_offset=frontend.input_offset) != frontend:
        raise ValueError(f"teacher {run_dir} was trained on other features "
                         f"({run_config['frontend']['kind']}, not these): distil from a run "
                         "with the same front end.")
    return teacher, own


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    @property
    def mean(self) -> float:
        return float(np.mean(self.times)) if self.times else 0.0


def load_run(run_dir: str | Path) -> tuple[keras.Model, dict[str, Any]]:
    """The trained model and ``config.json`` of a run folder, with a clear error if absent."""
    run_dir = Path(run_dir)
    model_path, config_path = run_dir / MODEL_FILE, run_dir / CONFIG_FILE
    for path in (model_path, config_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: {run_dir} is not a finished training run "
                "(make one with `ghost-kws train --out DIR`)."
            )
    fix = f"retrain the run (`ghost-kws train --out {run_dir}`)"
    with reading(model_path, fix):
        model = keras.models.load_model(model_path)
    with reading(config_path, fix):
        return model, json.loads(config_path.read_text())


def run_datasets(run_config: dict[str, Any], batch_size: int = 256, augment: bool = False
                 ) -> tuple[kws_data.SpeechDatasets, kws_data.SpeechCommandsIndex]:
    """The data of a run with the run's front end, labels, seed and training augmentation
    (noise, masks, class balance: QAT fine-tunes on what the run trained on; for other folders
    see :func:`ghost_keras.evaluation.evaluate_folder`)."""
    config = TrainConfig.from_dict(run_config["train"])
    frontend = make_frontend(FrontendConfig.from_dict(run_config["frontend"]))
    index = load_index(config)
    if list(index.labels) != list(run_config["labels"]):
        raise ValueError(f"the data's labels {list(index.labels)} differ from the model's "
                         f"{run_config['labels']}.")
    cache = config.cache_dir or str(Path(config.out_dir).parent / ".cache" / "features")
    per_epoch = ({"spec_augment": config.spec_augment(),
                  "balance_classes": config.balance_classes} if augment else {})
    return kws_data.make_datasets(index, frontend, batch_size, seed=config.seed,
                                  augment=augment, cache_dir=cache,
                                  augment_config=config.augment(), **per_epoch), index


def evaluate(run_dir: str | Path, split: str = "test", snr_db: float | None = None
             ) -> dict[str, Any]:
    """Accuracy of a run's saved model on a split of its own data; with ``snr_db``, with the
    split's noise mixed into every word at that SNR (:meth:`SpeechDatasets.at_snr`)."""
    model, run_config = load_run(run_dir)
    datasets, _ = run_datasets(run_config)
    x, y = datasets.as_numpy(split)
    if snr_db is not None:
        x = datasets.at_snr(split, snr_db)
    predictions = np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1)
    result = {"split": split, "clips": int(len(y)), "accuracy": float(np.mean(predictions == y))}
    return result if snr_db is None else {**result, "snr_db": float(snr_db)}
