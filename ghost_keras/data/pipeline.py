"""Features and labels for training: an index + a front end -> ``tf.data`` datasets.

Each split is first *planned* (:func:`plan_split`): its keyword clips, plus unknown-word clips
and silence examples in TensorFlow speech_commands' proportions (a percentage of the keyword
count, rounded up). Then every example is rendered
(:func:`~ghost_keras.data.augment.render_example`) and featurized by the front end after
``context_seconds`` of background noise, because the device's microfrontend is stateful and
has been running for minutes (docs/design.md, "Front ends").

- validation / test: rendered without augmentation, featurized once, kept in memory and (with
  ``cache_dir``) on disk, keyed by a hash of everything that determines them.
- train: with ``augment=True`` re-rendered and re-featurized every epoch in a generator (time
  shift, noise, silence and SpecAugment masks re-drawn; optionally class-balanced, see
  :func:`~ghost_keras.data.sampling.balanced_order`); with ``augment=False`` featurized once and
  cached like the evaluation splits, then reshuffled every epoch.

The same ``seed`` gives the same batches (epoch ``k`` of one run equals epoch ``k`` of another).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ghost_keras.data.audio import read_clip
from ghost_keras.data.augment import AugmentConfig, NoisePool, render_example
from ghost_keras.data.sampling import balanced_order
from ghost_keras.data.spec_augment import SpecAugmentConfig, mask_features
from ghost_keras.data.speech_commands import SILENCE, SPLITS, UNKNOWN, Clip, SpeechCommandsIndex
from ghost_keras.fileio import atomic_write_bytes

if TYPE_CHECKING:
    import tensorflow as tf

log = logging.getLogger(__name__)

#: Bump when rendering or featurization changes meaning, so old caches are not reused.
CACHE_VERSION = 1


class FrontendConfig(Protocol):
    """What the pipeline needs of a front end's configuration."""

    num_frames: int
    feature_dim: int
    sample_rate: int
    clip_samples: int

    def to_dict(self) -> dict[str, Any]: ...


class Frontend(Protocol):
    """A feature front end: int16 audio (after ``context``) -> float32 (frames, feature_dim)."""

    config: FrontendConfig

    def compute(self, audio: np.ndarray, context: np.ndarray | None = None) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class Example:
    """One planned example of a split.

    Attributes:
        clip: the recording, or None for silence generated from background noise.
        label_id: integer class (see :attr:`SpeechCommandsIndex.labels`).
    """

    clip: Clip | None
    label_id: int


def plan_split(
    index: SpeechCommandsIndex,
    split: str,
    *,
    silence_percentage: float | None = 10.0,
    unknown_percentage: float | None = 10.0,
    seed: int = 0,
) -> list[Example]:
    """The examples of one split: keywords, some unknowns, some silence (TF proportions).

    Args:
        index: the clips.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        silence_percentage: silence examples as a percent of the split's keyword clips, rounded
            up (TensorFlow's rule). Real ``_silence_`` clips of the split are used first, the
            rest is generated from background noise. None: exactly the real silence clips.
        unknown_percentage: unknown-word clips as a percent of the keyword clips, drawn at
            random from the split's unknown clips (all of them if there are fewer, with a
            warning). None: all unknown clips.
        seed: seeds the draws.

    Returns:
        Keyword clips, then unknowns, then real silence, then generated silence (None clips).

    Example:
        >>> plan = plan_split(index, "test", seed=0)  # doctest: +SKIP
        >>> sum(e.clip is None for e in plan)  # generated silence  # doctest: +SKIP
    """
    clips = index.split(split)
    keyword = [c for c in clips if c.label not in (SILENCE, UNKNOWN)]
    unknown = [c for c in clips if c.label == UNKNOWN]
    silence = [c for c in clips if c.label == SILENCE]
    rng = np.random.default_rng([seed, SPLITS.index(split), 1])

    def want(pct: float | None, available: int) -> int:
        return available if pct is None else int(math.ceil(len(keyword) * pct / 100.0))

    n_unknown = want(unknown_percentage, len(unknown))
    if n_unknown > len(unknown):
        log.warning(
            "%s: %d unknown clips wanted (%s%% of %d keyword clips), only %d available",
            split, n_unknown, unknown_percentage, len(keyword), len(unknown),
        )
        n_unknown = len(unknown)
    picked = sorted(rng.choice(len(unknown), n_unknown, replace=False))
    picked_unknown = [unknown[i] for i in picked]
    n_silence = want(silence_percentage, len(silence))
    n_real = min(n_silence, len(silence))
    picked_silence = [silence[i] for i in sorted(rng.choice(len(silence), n_real, replace=False))]

    sil_id = index.label_id(SILENCE)
    return (
        [Example(c, index.label_id(c.label)) for c in keyword + picked_unknown + picked_silence]
        + [Example(None, sil_id)] * (n_silence - n_real)
    )


class SpeechDatasets(dict):
    """``{"train", "validation", "test"}`` -> ``tf.data.Dataset`` of ``(features, label)``
    batches, plus the plans and numpy access for small sets.

    Attributes:
        labels: label names by id.
        plans: split -> list of :class:`Example`.
    """

    def __init__(self, builder: _Builder, datasets: dict[str, tf.data.Dataset]) -> None:
        super().__init__(datasets)
        self._builder = builder
        self.labels = builder.index.labels
        self.plans = builder.plans

    def as_numpy(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(features [n, frames, dim] float32, labels [n] int32)`` of a split, unaugmented.

        Validation/test are the arrays behind their datasets; train is its clean features
        (computed on first use and cached, no augmentation).
        """
        return self._builder.clean(split)

    def at_snr(self, split: str, snr_db: float) -> np.ndarray:
        """``features [n, frames, dim]`` of a split with noise mixed into every word at
        ``snr_db`` dB (the split's own noise, seeded; the labels are :meth:`as_numpy`'s): how
        a model does when words come in noise, as on an always-listening device."""
        return self._builder.at_snr(split, snr_db)

    def label_counts(self, split: str) -> dict[str, int]:
        """Examples per label in a split's plan."""
        counts = np.bincount([e.label_id for e in self.plans[split]], minlength=len(self.labels))
        return dict(zip(self.labels, counts.tolist()))


class _Builder:
    """Renders and featurizes planned examples; owns the caches of one ``make_datasets`` call."""

    def __init__(
        self,
        index: SpeechCommandsIndex,
        frontend: Frontend,
        *,
        seed: int,
        silence_percentage: float | None,
        unknown_percentage: float | None,
        cache_dir: str | os.PathLike | None,
        context_seconds: float,
        augment_config: AugmentConfig,
        spec_augment: SpecAugmentConfig,
        balance_classes: bool,
    ) -> None:
        self.index = index
        self.frontend = frontend
        self.cfg = frontend.config
        self.seed = seed
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.context_samples = int(round(context_seconds * self.cfg.sample_rate))
        self.augment_config = augment_config
        self.spec_augment = spec_augment
        self.balance_classes = balance_classes
        self.plans = {
            s: plan_split(
                index, s, silence_percentage=silence_percentage,
                unknown_percentage=unknown_percentage, seed=seed,
            )
            for s in SPLITS
        }
        self._clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._pools: dict[str, NoisePool] = {}
        self.train_audio: list[np.ndarray | None] = []

    def _noise_sources(self, split: str) -> list[Clip]:
        # Each split draws noise only from its own _silence_ clips (plus the shared noise folder),
        # so evaluation noise never leaks into training.
        return [c for c in self.index.split(split) if c.label == SILENCE]

    def pool(self, split: str) -> NoisePool:
        """Noise for a split: ``_background_noise_`` files + the split's ``_silence_`` clips."""
        if split not in self._pools:
            rate = self.cfg.sample_rate
            recordings = self.index.background_noise(rate) + [
                read_clip(c.path, rate) for c in self._noise_sources(split)
            ]
            self._pools[split] = NoisePool(recordings, seed=self.seed, sample_rate=rate)
        return self._pools[split]

    def featurize(self, audio: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        feats = np.asarray(self.frontend.compute(audio, context=context), dtype=np.float32)
        want = (self.cfg.num_frames, self.cfg.feature_dim)
        if feats.shape != want:
            raise ValueError(
                f"frontend.compute returned shape {feats.shape}, its config says {want}"
            )
        return feats

    def render(
        self, example: Example, audio: np.ndarray | None, split: str, rng: np.random.Generator,
        training: bool, config: AugmentConfig | None = None,
    ) -> np.ndarray:
        clip, context = render_example(
            audio,
            clip_samples=self.cfg.clip_samples,
            context_samples=self.context_samples,
            noise=self.pool(split),
            rng=rng,
            config=config or self.augment_config,
            training=training,
            sample_rate=self.cfg.sample_rate,
        )
        return self.featurize(clip, context)

    def cache_key(self, split: str) -> str:
        """Hash of everything that determines a split's clean features."""

        def file_id(path: Path) -> list[Any]:
            st = path.stat()
            return [str(path), st.st_size, st.st_mtime_ns]

        desc = {
            "version": CACHE_VERSION,
            "split": split,
            "seed": self.seed,
            "plan": [
                [file_id(e.clip.path) if e.clip else None, e.label_id] for e in self.plans[split]
            ],
            "noise": [file_id(p) for p in self.index.noise_paths]
            + [file_id(c.path) for c in self._noise_sources(split)],
            "frontend": self.cfg.to_dict(),
            "context_samples": self.context_samples,
            "augment": self.augment_config.to_dict(),
        }
        blob = json.dumps(desc, sort_keys=True, default=str).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:20]

    def _featurize_clean(self, split: str) -> np.ndarray:
        return self._featurize(split, 2, training=False)

    def _featurize(self, split: str, stream: int, training: bool,
                   config: AugmentConfig | None = None,
                   silence_from: np.ndarray | None = None) -> np.ndarray:
        """Features of a split's plan; ``silence_from``: features whose silence rows are kept
        as they are (those examples are not rendered again)."""
        plan = self.plans[split]
        start = time.perf_counter()
        x = (np.zeros((len(plan), self.cfg.num_frames, self.cfg.feature_dim), np.float32)
             if silence_from is None else silence_from.copy())
        for i, ex in enumerate(plan):
            if silence_from is not None and ex.clip is None:
                continue
            audio = read_clip(ex.clip.path, self.cfg.sample_rate) if ex.clip else None
            # A generator per example: its features do not depend on the order or the others.
            rng = np.random.default_rng([self.seed, SPLITS.index(split), stream, i])
            x[i] = self.render(ex, audio, split, rng, training=training, config=config)
        log.info(
            "%s: %d examples featurized in %.1f s", split, len(plan), time.perf_counter() - start
        )
        return x

    def at_snr(self, split: str, snr_db: float) -> np.ndarray:
        """Features of a split's examples with the split's own noise mixed into every word at
        ``snr_db`` (over the whole clip; no shift or gain); silence examples as in
        :meth:`clean`. Seeded: the same noise every call."""
        config = AugmentConfig(time_shift_ms=0.0, background_frequency=1.0,
                               snr_db=(float(snr_db), float(snr_db)),
                               context_volume=self.augment_config.context_volume)
        return self._featurize(split, 3, training=True, config=config,
                               silence_from=self.clean(split)[0])

    def clean(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Unaugmented features and labels of a split: memory, else disk cache, else computed."""
        if split in self._clean:
            return self._clean[split]
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / f"{split}-{self.cache_key(split)}.npz"
            if path.is_file():
                with np.load(path) as z:
                    self._clean[split] = (z["x"], z["y"])
                log.info("%s: features read from %s", split, path)
                return self._clean[split]
        x = self._featurize_clean(split)
        y = np.array([e.label_id for e in self.plans[split]], np.int32)
        if path is not None:
            buffer = io.BytesIO()
            np.savez(buffer, x=x, y=y)
            atomic_write_bytes(path, buffer.getvalue())
        self._clean[split] = (x, y)
        return x, y

    def statistics(self, split: str) -> tuple[float, float]:
        """Mean and standard deviation over every value of a split's clean features, kept in
        ``cache_dir`` as a small JSON file (not the features: a training split is ~70 MB)."""
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / f"{split}-{self.cache_key(split)}.stats.json"
            if path.is_file():
                stats = json.loads(path.read_text())
                return float(stats["mean"]), float(stats["std"])
        x = self._clean[split][0] if split in self._clean else self._featurize_clean(split)
        mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        if path is not None:
            atomic_write_bytes(path, json.dumps({"mean": mean, "std": std}).encode("utf-8"))
        return mean, std

    def load_train_audio(self) -> None:
        """Reads the train clips into memory (32 kB each), so bad files fail here, not inside
        tf.data, and epochs do not re-decode them."""
        self.train_audio = [
            read_clip(e.clip.path, self.cfg.sample_rate) if e.clip else None
            for e in self.plans["train"]
        ]
        self.pool("train")

    def train_epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.int32]]:
        """Epoch ``epoch`` of augmented training examples, shuffled (class-balanced when asked);
        a pure function of seed and epoch."""
        plan = self.plans["train"]
        order_rng = np.random.default_rng([self.seed, 0, 3, epoch])
        if self.balance_classes:
            order = balanced_order([e.label_id for e in plan], len(plan), order_rng)
        else:
            order = order_rng.permutation(len(plan))
        repeats: Counter[int] = Counter()
        for i in map(int, order):
            # A balanced epoch repeats scarce examples; each repeat gets its own draws. The first
            # occurrence keeps the key it always had, so unbalanced epochs are unchanged.
            repeat = repeats[i]
            repeats[i] += 1
            rng = np.random.default_rng([self.seed, 0, 4, epoch, i] + ([repeat] if repeat else []))
            feats = self.render(plan[i], self.train_audio[i], "train", rng, training=True)
            yield mask_features(feats, self.spec_augment, rng), np.int32(plan[i].label_id)


def feature_statistics(
    index: SpeechCommandsIndex,
    frontend: Frontend,
    seed: int = 0,
    split: str = "train",
    silence_percentage: float | None = 10.0,
    unknown_percentage: float | None = 10.0,
    cache_dir: str | os.PathLike | None = None,
    context_seconds: float = 1.5,
) -> tuple[float, float]:
    """Mean and standard deviation over every value of a split's clean (unaugmented) features,
    planned as :func:`make_datasets` plans it with the same arguments: what training
    normalizes its features with (:meth:`ghost_keras.features.FrontendConfig.normalized`).

    Example:
        >>> mean, std = feature_statistics(index, frontend, seed=0)  # doctest: +SKIP
        >>> frontend = make_frontend(frontend.config.normalized(mean, std))  # doctest: +SKIP
    """
    builder = _Builder(index, frontend, seed=seed, silence_percentage=silence_percentage,
                       unknown_percentage=unknown_percentage, cache_dir=cache_dir,
                       context_seconds=context_seconds, augment_config=AugmentConfig(),
                       spec_augment=SpecAugmentConfig(), balance_classes=False)
    return builder.statistics(split)


def make_datasets(
    index: SpeechCommandsIndex,
    frontend: Frontend,
    batch_size: int,
    seed: int = 0,
    silence_percentage: float | None = 10.0,
    unknown_percentage: float | None = 10.0,
    cache_dir: str | os.PathLike | None = None,
    augment: bool = True,
    context_seconds: float = 1.5,
    augment_config: AugmentConfig | None = None,
    drop_remainder: bool = False,
    spec_augment: SpecAugmentConfig | None = None,
    balance_classes: bool = False,
) -> SpeechDatasets:
    """Batched ``(features float32 [batch, frames, dim], label int32 [batch])`` datasets.

    Args:
        index: split clips (:func:`~ghost_keras.data.speech_commands.scan`).
        frontend: object with ``config`` (``num_frames``, ``feature_dim``, ``sample_rate``,
            ``clip_samples``, ``to_dict()``) and ``compute(audio_int16, context=None)``.
        batch_size: examples per batch.
        seed: determines the plans, noise, augmentation and order.
        silence_percentage: see :func:`plan_split`.
        unknown_percentage: see :func:`plan_split`.
        cache_dir: where clean features are kept between runs (``<split>-<hash>.npz``).
        augment: re-draw time shift / noise / gain for train every epoch (validation and test
            are never augmented).
        context_seconds: background noise fed to the front end before each clip; 0 for none.
        augment_config: defaults to :class:`AugmentConfig` () (Hello Edge).
        drop_remainder: drop each split's last partial batch.
        spec_augment: time/frequency masks on the training features, re-drawn every epoch
            (:mod:`~ghost_keras.data.spec_augment`); None or all zero: none. Needs ``augment``.
        balance_classes: every training epoch gives each class an equal share of its examples
            (:func:`~ghost_keras.data.sampling.balanced_order`). Needs ``augment``.

    Returns:
        A :class:`SpeechDatasets` (a dict with keys ``train``, ``validation``, ``test``).

    Raises:
        AudioFormatError: a clip that is not mono PCM at ``frontend.config.sample_rate``
            (raised here, before any dataset is iterated).

    Example:
        >>> data = make_datasets(index, frontend, batch_size=100, seed=1,
        ...                      cache_dir="cache/features")  # doctest: +SKIP
        >>> model.fit(data["train"], validation_data=data["validation"],
        ...           epochs=30)  # doctest: +SKIP
        >>> x_test, y_test = data.as_numpy("test")  # doctest: +SKIP
    """
    # TensorFlow is imported here, not at module level, so that indexing and augmentation stay
    # usable (and fast to import) without it.
    import tensorflow as tf

    spec_augment = spec_augment or SpecAugmentConfig()
    if not augment and (spec_augment.enabled or balance_classes):
        raise ValueError("spec_augment and balance_classes act on the per-epoch training "
                         "examples: they need augment=True.")
    builder = _Builder(
        index,
        frontend,
        seed=seed,
        silence_percentage=silence_percentage,
        unknown_percentage=unknown_percentage,
        cache_dir=cache_dir,
        context_seconds=context_seconds,
        augment_config=augment_config or AugmentConfig(),
        spec_augment=spec_augment,
        balance_classes=balance_classes,
    )
    if augment:
        builder.load_train_audio()
        epochs = itertools.count()
        spec = (
            tf.TensorSpec((frontend.config.num_frames, frontend.config.feature_dim), tf.float32),
            tf.TensorSpec((), tf.int32),
        )
        # Every iteration of the dataset (every Keras epoch) calls the generator again and
        # takes the next epoch number, so the augmentation is re-drawn.
        train = tf.data.Dataset.from_generator(
            lambda: builder.train_epoch(next(epochs)), output_signature=spec
        ).apply(tf.data.experimental.assert_cardinality(len(builder.plans["train"])))
    else:
        x, y = builder.clean("train")
        train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
            max(len(y), 1), seed=seed, reshuffle_each_iteration=True
        )
    datasets = {"train": train.batch(batch_size, drop_remainder=drop_remainder).prefetch(2)}
    for split in ("validation", "test"):
        x, y = builder.clean(split)
        datasets[split] = tf.data.Dataset.from_tensor_slices((x, y)).batch(
            batch_size, drop_remainder=drop_remainder
        )
    return SpeechDatasets(builder, datasets)
