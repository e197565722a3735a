"""Offline keyword dataset in the Speech Commands layout, made by speech synthesis.

This is the *embedded default* of ghost-keras: someone with no dataset and no internet can
still run the whole chain (features, training, quantization, firmware export) on it. It is
not a substitute for real speech when measuring accuracy: eSpeak NG is a formant synthesizer,
its voices are far less varied than people, and an independent recogniser understands its
renders noticeably worse than real or better-synthesized speech (measured while this module was
written, pocketsphinx on a 35-word choice: 54-77% of clean renders recognised for eSpeak NG's
accents, 80-100% for flite's voices).

What :func:`generate_dataset` writes (the layout of Speech Commands v2, so every loader that
reads the real dataset reads this one)::

    OUT_DIR/
      yes/1a2b3c4d_nohash_0.wav        16 kHz mono int16, exactly 1 s
      ...
      _background_noise_/white_noise.wav, pink_noise.wav, brown_noise.wav,
                         mains_hum_50hz.wav, mains_hum_60hz.wav
      validation_list.txt              relative paths, split by voice
      testing_list.txt
      clips.csv                        per clip: voice, rate, pitch, placement, level, SNR
      synthetic.json                   manifest: parameters, seed, voices, counts, versions
      README.md

Which module does what:

- :mod:`~ghost_keras.data.synthetic.config`: :class:`SyntheticConfig` (the parameters, and the
  cache key) and the fixed levels and speaking ranges;
- :mod:`~ghost_keras.data.synthetic.espeak`: the eSpeak NG driver (voices, rendering a word);
- :mod:`~ghost_keras.data.synthetic.noise`: generated noise;
- :mod:`~ghost_keras.data.synthetic.plan`: speakers, splits and which clips to make;
- :mod:`~ghost_keras.data.synthetic.clip`: making one clip (in a worker process);
- :mod:`~ghost_keras.data.synthetic.writer` and :mod:`~ghost_keras.data.synthetic.manifest`:
  the folder, ``synthetic.json`` and the README;
- :mod:`~ghost_keras.data.synthetic.cache`: one cached folder per config;
- :mod:`~ghost_keras.data.synthetic.cli`: the command line.

Determinism: the same config gives byte-identical files whatever ``workers`` is (see
:mod:`~ghost_keras.data.synthetic.plan`).

Command line::

    python -m ghost_keras.data.synthetic OUT_DIR --clips-per-word 100 --seed 0
"""

from ghost_keras.data.synthetic.cache import default_dataset_dir, ensure_dataset
from ghost_keras.data.synthetic.cli import main
from ghost_keras.data.synthetic.config import (
    DEFAULT_CLIPS_PER_WORD,
    GENERATOR_VERSION,
    KEYWORDS,
    UNKNOWN_WORDS,
    SyntheticConfig,
)
from ghost_keras.data.synthetic.espeak import (
    DROPPED_VARIANTS,
    EspeakNotFoundError,
    Voice,
    espeak_version,
    list_voices,
    render_word,
)
from ghost_keras.data.synthetic.noise import BACKGROUND_NOISE, generate_noise
from ghost_keras.data.synthetic.writer import generate_dataset

__all__ = [
    "KEYWORDS",
    "UNKNOWN_WORDS",
    "DEFAULT_CLIPS_PER_WORD",
    "DROPPED_VARIANTS",
    "BACKGROUND_NOISE",
    "GENERATOR_VERSION",
    "EspeakNotFoundError",
    "SyntheticConfig",
    "Voice",
    "espeak_version",
    "list_voices",
    "render_word",
    "generate_noise",
    "generate_dataset",
    "default_dataset_dir",
    "ensure_dataset",
    "main",
]
