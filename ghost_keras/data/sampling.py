"""Class-balanced order of a training epoch.

The real training data is lopsided: mini_speech_commands has no ``on``/``off`` and no other
words, so those classes have about a sixth of the clips of the other keywords, and the unknown
class fewer still. Balancing is done by *sampling*, not by loss weights: training examples are
re-rendered every epoch (time shift, noise, masks), so a scarce clip drawn five times is five
different examples, where a five-fold loss weight would push five times as hard on one rendering
(and make the loss and Keras' accuracy figures weighted ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def balanced_order(label_ids: Sequence[int], size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices into ``label_ids`` for an epoch of ``size`` examples, equal shares per class.

    Every class present gets ``size // classes`` examples (the remainder goes to classes drawn at
    random, one each). Within a class the examples are taken in shuffled rounds, so each one is
    used ``floor`` or ``ceil`` of ``share / class size`` times: a big class is subsampled without
    repeats, a small one repeated as evenly as possible. The result is shuffled.

    Args:
        label_ids: the class of each example of the split.
        size: examples in the epoch (e.g. ``len(label_ids)``, so an epoch costs what it did).
        rng: the epoch's generator (same state -> same order).

    Returns:
        int64 array of ``size`` indices.

    Raises:
        ValueError: no examples, or ``size`` below 1.

    Example:
        >>> order = balanced_order([0, 0, 0, 0, 0, 1], 6, np.random.default_rng(0))
        >>> np.bincount(np.asarray([0, 0, 0, 0, 0, 1])[order]).tolist()
        [3, 3]
    """
    labels = np.asarray(label_ids)
    if labels.size == 0 or size < 1:
        raise ValueError(f"balanced_order: need examples and size >= 1 (got {labels.size} "
                         f"examples, size {size}).")
    classes = np.unique(labels)
    shares = np.full(len(classes), size // len(classes))
    shares[rng.choice(len(classes), size % len(classes), replace=False)] += 1
    picks = []
    for cls, share in zip(classes, shares):
        members = np.flatnonzero(labels == cls)
        rounds = -(-int(share) // len(members))
        picks.append(np.concatenate([rng.permutation(members) for _ in range(rounds)])[:share])
    return rng.permutation(np.concatenate(picks)).astype(np.int64)
