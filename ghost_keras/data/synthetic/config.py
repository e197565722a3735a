"""What a synthetic keyword set is made of: its parameters (:class:`SyntheticConfig`, the
cache key) and the fixed levels and speaking ranges every set shares.

The fixed values are not configurable on purpose: they are not part of the cache key, so
changing one must bump :data:`GENERATOR_VERSION` instead.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "GENERATOR_VERSION",
    "KEYWORDS",
    "UNKNOWN_WORDS",
    "DEFAULT_CLIPS_PER_WORD",
    "SyntheticConfig",
]

#: Bumped whenever the output for the same parameters changes; part of the cache key.
GENERATOR_VERSION = 1

#: The ten keywords of the 12-label Speech Commands task (plus _silence_ and _unknown_).
KEYWORDS: tuple[str, ...] = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
)  # fmt: skip

#: The other 25 words of Speech Commands v2, which the 12-label task folds into _unknown_.
UNKNOWN_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
)  # fmt: skip

#: 35 words x 100 clips = 3,500 clips: a few thousand, generated in well under a minute.
DEFAULT_CLIPS_PER_WORD = 100

# Level of the background files: about as loud as the real ones; the standard pipeline scales
# them down (background_volume) before mixing anyway.
BACKGROUND_RMS_DBFS = -20.0

# Speech level (RMS of the trimmed word). A MEMS microphone of -26 dBFS at 94 dB SPL hears
# speech at 0.3-1 m (60-75 dB SPL) at about -60..-45 dBFS; devices apply 20-30 dB of digital
# gain before keyword spotting, and Speech Commands clips (phones, laptops with AGC) sit about
# -35..-15 dBFS too. So: uniform in dB over that range, and never closer than 1 dB to clipping.
SPEECH_RMS_DBFS = (-35.0, -15.0)
PEAK_LIMIT_DBFS = -1.0
# Signal-to-noise ratio of the noise mixed into every clip, uniform in dB.
SNR_DB = (10.0, 40.0)
# Per-clip noise kind: (kind, probability). Pink and brown are closest to room/fan/traffic noise.
CLIP_NOISE_KINDS: tuple[tuple[str, float], ...] = (
    ("white", 0.2), ("pink", 0.35), ("brown", 0.25), ("hum50", 0.1), ("hum60", 0.1),
)  # fmt: skip

# Speaker base speaking rate (words per minute) and pitch (eSpeak 0-99), and per-clip jitter.
# eSpeak's isolated words are long: "yes" lasts 0.48 s at 140 wpm, "backward" 0.76 s at 120 wpm;
# 130-195 wpm gives 0.3-0.75 s words, the range of Speech Commands.
BASE_RATE_WPM = (130.0, 195.0)
RATE_JITTER = 0.07  # +-7 % per clip
BASE_PITCH = (25.0, 75.0)
PITCH_JITTER = 6.0  # +-6 per clip
# Longest word kept, as a share of the clip: the rest is room for random placement.
MAX_WORD_SHARE = 0.95

_WORD_RE = re.compile(r"^[a-z0-9][a-z0-9'_-]*$")


def _check_words(words: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(words, str):
        raise TypeError(f"{what} must be a list of words, not the string {words!r}")
    out: list[str] = []
    for i, raw in enumerate(words):
        if not isinstance(raw, str):
            raise TypeError(f"{what}[{i}] is {type(raw).__name__}, not a word")
        word = raw.strip().lower()
        if not word:
            raise ValueError(f"{what}[{i}] is empty ({raw!r}): every entry must be a word")
        if not _WORD_RE.match(word):
            raise ValueError(
                f"{what}[{i}] = {raw!r} is not usable as a Speech Commands folder name: use "
                "letters, digits, ' and -, starting with a letter or digit (write a phrase "
                "with '_' for spaces, e.g. 'hey_snips')"
            )
        if word in out:
            raise ValueError(f"{what} lists {word!r} twice")
        out.append(word)
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """The parameters of one synthetic keyword set; equal configs give byte-identical sets.

    Checked and normalised on construction (words stripped and lower-cased), so a config that
    exists can be generated. ``workers`` and ``progress`` are not here: they never change the
    data.

    Attributes:
        words: Keywords, one folder each. ``_`` in a word is spoken as a space (``"hey_snips"``).
        unknown_words: Further words for the _unknown_ class; ``()`` for none. No word may be
            in both lists.
        clips_per_word: Clips per word (over all splits).
        seed: Seed of every random choice.
        sample_rate: Output sample rate; clips are exactly ``sample_rate`` samples long.
        validation_fraction: Share of variants (and of each word's clips) for validation.
        testing_fraction: Share of variants (and of each word's clips) for testing.

    Raises:
        TypeError: a word list that is a string, or an entry that is not a string.
        ValueError: for an empty, malformed or repeated word, or bad counts or fractions.

    Example:
        >>> SyntheticConfig(words=["Yes", "no"], unknown_words=[]).words
        ('yes', 'no')
    """

    words: Sequence[str] = KEYWORDS
    unknown_words: Sequence[str] = UNKNOWN_WORDS
    clips_per_word: int = DEFAULT_CLIPS_PER_WORD
    seed: int = 0
    sample_rate: int = 16000
    validation_fraction: float = 0.1
    testing_fraction: float = 0.1

    def __post_init__(self) -> None:
        words = _check_words(self.words, "words")
        unknown = _check_words(self.unknown_words, "unknown_words")
        if overlap := sorted(set(words) & set(unknown)):
            raise ValueError(f"words and unknown_words share {overlap}")
        if not words + unknown:
            raise ValueError("no words to generate")
        clips, rate = self.clips_per_word, self.sample_rate
        if int(clips) != clips or clips < 1:
            raise ValueError(f"clips_per_word must be a positive integer, got {clips!r}")
        if int(rate) != rate or not 4000 <= rate <= 48000:
            raise ValueError(f"sample_rate must be an integer in 4000..48000 Hz, got {rate!r}")
        val, test = self.validation_fraction, self.testing_fraction
        if not (0 <= val < 1 and 0 <= test < 1) or val + test >= 1:
            raise ValueError("validation_fraction and testing_fraction must be >= 0 with a sum < 1")
        # Frozen: set the normalised values the way dataclasses' own __init__ does.
        for name, value in (("words", words), ("unknown_words", unknown),
                            ("clips_per_word", int(clips)), ("seed", int(self.seed)),
                            ("sample_rate", int(rate))):  # fmt: skip
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, config: SyntheticConfig | None = None, **params: Any) -> SyntheticConfig:
        """``config`` (default: the default set) with the fields in ``params`` replaced.

        This is how the keyword form of :func:`generate_dataset` and friends is read: a
        ``words`` or ``unknown_words`` of ``None`` means "not given", as it always did.

        Raises:
            TypeError: a name in ``params`` that is not a field.
        """
        unset = {k for k in ("words", "unknown_words") if k in params and params[k] is None}
        given = {k: v for k, v in params.items() if k not in unset}
        return dataclasses.replace(config or cls(), **given)

    @property
    def all_words(self) -> tuple[str, ...]:
        """Keywords then unknown words: the folders of the set."""
        return tuple(self.words) + tuple(self.unknown_words)

    @property
    def fractions(self) -> tuple[float, float, float]:
        """Shares of training, validation and testing."""
        val, test = self.validation_fraction, self.testing_fraction
        return (1.0 - val - test, val, test)

    def cache_key(self) -> dict[str, object]:
        """What names the set's cache folder (the eSpeak NG version is not in it, so a set stays
        usable when eSpeak is upgraded or removed; its manifest records the version)."""
        return {
            "generator_version": GENERATOR_VERSION,
            "words": list(self.words),
            "unknown_words": list(self.unknown_words),
            "clips_per_word": self.clips_per_word,
            "seed": self.seed,
            "sample_rate": self.sample_rate,
            "validation_fraction": float(self.validation_fraction),
            "testing_fraction": float(self.testing_fraction),
        }
