"""Which speaker says which word how often, and in which split: the plan of a synthetic set.

Each speaker gets its own base speaking rate and pitch (drawn from the seed) and every clip
jitters both a little (:mod:`~ghost_keras.data.synthetic.clip`), the way one person never says
a word twice the same.

The validation and testing splits are made by *variant* (the variant sets the vocal-tract and
source parameters, i.e. what makes a voice sound like one person), so a variant heard in
training is never heard in validation or testing under another accent either; that is
stricter than speaker-disjoint, and implies it.

Every random choice comes from :func:`keyed_rng`: a stream derived from the seed and the
choice's own identity (word, speaker, repetition), never from the order in which workers
finish, so the same seed gives the same set whatever the number of workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ghost_keras.data.synthetic.config import BASE_PITCH, BASE_RATE_WPM, SyntheticConfig
from ghost_keras.data.synthetic.espeak import Voice

SPLIT_NAMES = ("training", "validation", "testing")


def keyed_rng(seed: int, *key: object) -> np.random.Generator:
    """A random stream that depends only on the seed and a key (never on execution order)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=words))


@dataclass(frozen=True)
class Speaker:
    """A voice with its split and its own base speaking rate (wpm) and pitch."""

    voice: Voice
    split: str
    base_rate: float
    base_pitch: float


def _split_counts(total: int, fractions: Sequence[float], at_least_one: bool) -> list[int]:
    """Split ``total`` by ``fractions`` (the first takes the rest), giving each nonzero
    fraction at least one item when ``at_least_one`` and there are enough items."""
    counts = [0] + [int(round(total * f)) for f in fractions[1:]]
    if at_least_one:
        for i, f in enumerate(fractions[1:], start=1):
            if f > 0 and counts[i] == 0 and total >= len(fractions):
                counts[i] = 1
    counts[0] = total - sum(counts[1:])
    return counts


def plan_speakers(voices: Sequence[Voice], config: SyntheticConfig) -> list[Speaker]:
    """Every voice as a speaker of one split, with its base rate and pitch."""
    # Split by variant, separately for female and male variants so both are in every split.
    # The accent's own voice ("" variant) is a variant like any other.
    genders: dict[str, set[str]] = {}
    for v in voices:
        genders.setdefault("F" if v.gender == "F" else "M", set()).add(v.variant)
    split_of: dict[str, str] = {}
    for gender in sorted(genders):
        names = sorted(genders[gender] - set(split_of))
        order = keyed_rng(config.seed, "split", gender).permutation(len(names))
        counts = _split_counts(len(names), config.fractions, at_least_one=gender == "M")
        bounds = np.cumsum(counts)
        for rank, idx in enumerate(order):
            split_of[names[idx]] = SPLIT_NAMES[int(np.searchsorted(bounds, rank, side="right"))]
    speakers = []
    for v in voices:
        r = keyed_rng(config.seed, "speaker", v.spec)
        rate, pitch = float(r.uniform(*BASE_RATE_WPM)), float(r.uniform(*BASE_PITCH))
        speakers.append(Speaker(v, split_of[v.variant], rate, pitch))
    return speakers


def plan_clips(
    speakers: Sequence[Speaker], config: SyntheticConfig
) -> list[tuple[str, Speaker, int]]:
    """``(word, speaker, repetition)`` of every clip of the set.

    Raises:
        ValueError: a split that should have clips has no speaker.
    """
    # Every word gets the same share of clips per split. Within a split, a word's clips go to
    # that split's speakers in a seeded order, one each before anyone says it twice (_nohash_1).
    by_split: dict[str, list[Speaker]] = {}
    for s in speakers:
        by_split.setdefault(s.split, []).append(s)
    counts = _split_counts(config.clips_per_word, config.fractions, at_least_one=True)
    plan = []
    for word in config.all_words:
        for split, count in zip(SPLIT_NAMES, counts):
            pool = by_split.get(split, [])
            if count and not pool:
                raise ValueError(f"no speaker left for the {split} split; lower its fraction")
            order = keyed_rng(config.seed, "order", word, split).permutation(len(pool)) if pool else []
            for i in range(count):
                plan.append((word, pool[order[i % len(pool)]], i // len(pool)))
    return plan
