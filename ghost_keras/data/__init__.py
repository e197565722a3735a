"""Speech Commands data: reading, indexing, splitting, augmentation and ``tf.data`` pipelines.

Example (the benchmark's sources: mini_speech_commands for training, the 12-class folder split
by speaker into train/validation/test):

    >>> from ghost_keras import data
    >>> mini = data.scan("mini_speech_commands_flac", split="hash",
    ...                  allow_missing_keywords=True)  # doctest: +SKIP
    >>> test12 = data.scan("speech_commands_v2_test12_dev", split="none")  # doctest: +SKIP
    >>> test12 = test12.with_speaker_split((0.5, 0.2, 0.3), seed=0)  # doctest: +SKIP
    >>> index = data.merge(mini, test12)  # doctest: +SKIP
    >>> sets = data.make_datasets(index, frontend, batch_size=100, seed=0)  # doctest: +SKIP

``make_datasets`` imports TensorFlow; import ``ghost_keras`` before ``tensorflow``.
"""

from ghost_keras.data.audio import (
    AUDIO_EXTENSIONS,
    AudioFormatError,
    fit_length,
    read_clip,
    to_float,
    write_wav,
)
from ghost_keras.data.augment import (
    AugmentConfig,
    NoisePool,
    random_gain,
    render_example,
    snr_volume,
    time_shift,
)
from ghost_keras.data.sampling import balanced_order
from ghost_keras.data.spec_augment import SpecAugmentConfig, mask_features
from ghost_keras.data.pipeline import (
    Example,
    SpeechDatasets,
    feature_statistics,
    make_datasets,
    plan_split,
)
from ghost_keras.data.speech_commands import (
    BACKGROUND_NOISE_DIR,
    KEYWORDS_12,
    LABELS_12,
    MAX_NUM_WAVS_PER_CLASS,
    SILENCE,
    SPLITS,
    UNKNOWN,
    Clip,
    DatasetError,
    SpeechCommandsIndex,
    merge,
    scan,
    speaker_of,
    speaker_split,
    which_set,
)
from ghost_keras.features.base import to_int16  # one conversion for the data and front ends

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFormatError",
    "AugmentConfig",
    "BACKGROUND_NOISE_DIR",
    "Clip",
    "DatasetError",
    "Example",
    "feature_statistics",
    "KEYWORDS_12",
    "LABELS_12",
    "MAX_NUM_WAVS_PER_CLASS",
    "NoisePool",
    "SILENCE",
    "SPLITS",
    "SpeechCommandsIndex",
    "SpecAugmentConfig",
    "SpeechDatasets",
    "UNKNOWN",
    "balanced_order",
    "fit_length",
    "make_datasets",
    "mask_features",
    "merge",
    "plan_split",
    "random_gain",
    "read_clip",
    "render_example",
    "scan",
    "snr_volume",
    "speaker_of",
    "speaker_split",
    "time_shift",
    "to_float",
    "to_int16",
    "which_set",
    "write_wav",
]
