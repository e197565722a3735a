"""SpecAugment-style masks on feature frames (Park et al., Interspeech 2019, arXiv 1904.08779).

Training clips are featurized anew every epoch (:mod:`ghost_keras.data.pipeline`), so the masks
are drawn anew every epoch too, from the example's own seeded generator. A mask sets a band of
consecutive feature channels (frequency mask) or of consecutive frames (time mask) to the clip's
mean feature value: SpecAugment masks with zero on mean-normalized features, i.e. with the mean,
and the mean is also neutral for both front ends here (a zero MFCC c0 or a zero microfrontend
channel would be an input the device never computes on speech).

Only the model's input changes; the front end and its state do not, so what the device computes
is unaffected. Validation and test features are never masked.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class SpecAugmentConfig:
    """How many masks of which maximum width (0 masks: off).

    Attributes:
        time_masks: time masks per training example.
        time_mask_frames: maximum width of a time mask in frames; each width is drawn uniformly
            from [0, this] (a 20-ms stride: 10 frames = 200 ms).
        freq_masks: frequency masks per training example.
        freq_mask_bins: maximum width of a frequency mask in feature channels, drawn uniformly
            from [0, this].
    """

    time_masks: int = 0
    time_mask_frames: int = 0
    freq_masks: int = 0
    freq_mask_bins: int = 0

    def __post_init__(self) -> None:
        for name in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SpecAugmentConfig.{name}={value!r}: need an integer >= 0.")

    @property
    def enabled(self) -> bool:
        """Whether any mask can have a width above 0."""
        return bool(self.time_masks * self.time_mask_frames
                    or self.freq_masks * self.freq_mask_bins)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dataclasses.asdict(self)


def _bands(size: int, count: int, max_width: int, rng: np.random.Generator
           ) -> list[tuple[int, int]]:
    """``count`` (start, width) bands inside ``size``, widths uniform in [0, max_width]."""
    bands = []
    for _ in range(count):
        width = int(rng.integers(0, min(max_width, size) + 1))
        start = int(rng.integers(0, size - width + 1))
        bands.append((start, width))
    return bands


def mask_features(features: np.ndarray, config: SpecAugmentConfig, rng: np.random.Generator
                  ) -> np.ndarray:
    """A copy of ``features`` ``(frames, channels)`` with the configured masks applied.

    Frequency masks are drawn first, then time masks; masks may overlap. With no mask enabled
    the input is returned unchanged and ``rng`` is not used, so turning SpecAugment off leaves
    every other random draw as it was.

    Args:
        features: float32 features of one clip, ``(frames, channels)``.
        config: number and maximum width of the masks.
        rng: the example's generator (same state -> same masks).

    Returns:
        The masked features (same shape and dtype).

    Example:
        >>> x = np.ones((49, 40), np.float32)
        >>> x[:, 0] = 3.0
        >>> cfg = SpecAugmentConfig(time_masks=1, time_mask_frames=10)
        >>> y = mask_features(x, cfg, np.random.default_rng(0))
        >>> y.shape, bool((y == x).all())
        ((49, 40), False)
    """
    if not config.enabled:
        return features
    out = np.array(features, copy=True)
    fill = out.dtype.type(np.mean(features))
    frames, channels = out.shape
    for start, width in _bands(channels, config.freq_masks, config.freq_mask_bins, rng):
        out[:, start:start + width] = fill
    for start, width in _bands(frames, config.time_masks, config.time_mask_frames, rng):
        out[start:start + width, :] = fill
    return out
