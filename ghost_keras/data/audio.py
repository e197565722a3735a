"""Reading and writing Speech Commands audio: 16-bit mono PCM, WAV or FLAC alike.

Everything downstream (augmentation, the microfrontend, the firmware) works on int16 samples at
one sample rate, so :func:`read_clip` refuses anything else with an :class:`AudioFormatError`
that names the file, the problem and a fix, instead of silently resampling or down-mixing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ghost_keras.fileio import atomic_write_bytes

#: File extensions the readers accept (lower case); soundfile decodes both.
AUDIO_EXTENSIONS = (".wav", ".flac")


class AudioFormatError(ValueError):
    """An audio file that is not mono integer PCM at the expected sample rate, or unreadable.

    The message always starts with the file's path, then says what is wrong and how to fix it.
    """


def read_clip(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Reads a mono integer-PCM WAV or FLAC file as int16 samples.

    Args:
        path: the ``.wav`` or ``.flac`` file.
        sample_rate: the rate the file must have; it is never resampled here.

    Returns:
        A 1-D int16 array with all of the file's samples (not padded or trimmed; see
        :func:`fit_length`). 24- and 32-bit PCM are scaled to 16 bits by libsndfile; 8-bit
        PCM is refused.

    Raises:
        AudioFormatError: unreadable file, wrong sample rate, more than one channel,
            a non-PCM (float, mu-law, ADPCM, ...) or 8-bit encoding, or no samples.
        FileNotFoundError: ``path`` does not exist.

    Example:
        >>> audio = read_clip("speech_commands/yes/0a7c2a8d_nohash_0.wav")  # doctest: +SKIP
        >>> audio.dtype, audio.shape  # doctest: +SKIP
        (dtype('int16'), (16000,))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioFormatError(
            f"{path}: not a readable WAV/FLAC file ({e}); re-encode it as 16-bit PCM, "
            f"e.g. `sox in -b 16 -e signed-integer -c 1 -r {sample_rate} out.wav`"
        ) from e
    if info.samplerate != sample_rate:
        raise AudioFormatError(
            f"{path}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz; resample it "
            f"(e.g. `sox in.wav -r {sample_rate} out.wav`)"
        )
    if info.channels != 1:
        raise AudioFormatError(
            f"{path}: {info.channels} channels, expected mono; mix it down "
            "(e.g. `sox in.wav -c 1 out.wav`)"
        )
    # PCM_16 is the dataset's format; other integer PCM widths convert exactly enough. Float data
    # would need a scale convention we cannot know (some tools write values outside [-1, 1]).
    if not info.subtype.startswith("PCM_"):
        raise AudioFormatError(
            f"{path}: sample encoding {info.subtype} ({info.subtype_info}), expected integer "
            f"PCM; convert it (e.g. `sox in.wav -b 16 -e signed-integer out.wav`)"
        )
    # 8-bit audio would be scaled up silently, but its 48 dB range is far below the 16-bit
    # clips the models learn from: converting it is the user's decision, not ours.
    if info.subtype in ("PCM_U8", "PCM_S8"):
        raise AudioFormatError(
            f"{path}: 8-bit PCM ({info.subtype_info}), expected 16-bit; record it at 16 bits or "
            f"convert it (e.g. `sox in.wav -b 16 -e signed-integer out.wav`)"
        )
    try:
        audio, _ = sf.read(str(path), dtype="int16", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioFormatError(f"{path}: cannot decode the audio data ({e}); re-encode it") from e
    if audio.size == 0:
        raise AudioFormatError(f"{path}: the file has no samples; remove it or re-record it")
    return np.ascontiguousarray(audio, dtype=np.int16)


def fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Zero-pads or trims ``audio`` at the end to exactly ``num_samples``.

    Padding at the end is what TensorFlow's speech_commands ``decode_wav(desired_samples=...)``
    does, so clips shorter than a second line up the same way as in the reference recipes.

    Args:
        audio: 1-D array of any dtype.
        num_samples: the wanted length.

    Returns:
        A new array (or ``audio`` itself when it already has that length), same dtype.

    Example:
        >>> fit_length(np.array([1, 2, 3], np.int16), 5)
        array([1, 2, 3, 0, 0], dtype=int16)
    """
    if audio.shape[0] == num_samples:
        return audio
    if audio.shape[0] > num_samples:
        return audio[:num_samples]
    return np.pad(audio, (0, num_samples - audio.shape[0]))


def to_float(audio: np.ndarray) -> np.ndarray:
    """int16 samples -> float32 in [-1, 1) (divided by 32768, as TensorFlow's ``decode_wav``);
    the inverse is :func:`ghost_keras.features.to_int16`.

    Example:
        >>> to_float(np.array([16384], np.int16))
        array([0.5], dtype=float32)
    """
    return audio.astype(np.float32) / np.float32(32768.0)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = 16000) -> Path:
    """Writes int16 mono samples as a 16-bit PCM WAV file, atomically.

    Args:
        path: destination; parent folders are created.
        audio: 1-D int16 array.
        sample_rate: rate stored in the header.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> write_wav("/tmp/tone.wav", np.zeros(16000, np.int16))  # doctest: +SKIP
    """
    audio = np.asarray(audio)
    if audio.dtype != np.int16 or audio.ndim != 1:
        raise ValueError(
            f"{path}: write_wav wants 1-D int16 samples, got {audio.dtype} {audio.shape}"
        )
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return atomic_write_bytes(path, buffer.getvalue())
