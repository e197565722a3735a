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

A *speaker* is one eSpeak NG voice: an English accent (``en-us``, ``en-gb-scotland``, ...)
with one voice variant (``m3``, ``f2``, ``klatt4``, ... or none), e.g. ``en-us+m3``. Each
speaker gets its own base speaking rate and pitch (drawn from the seed) and every clip jitters
both a little, the way one person never says a word twice the same. The speaker id in the
file name is the first 8 hex digits of the SHA-1 of the voice spec, so it is stable across
seeds and the usual Speech Commands "hash of the part before ``_nohash_``" logic treats it as
a speaker. The validation and testing lists are split by *variant* (the variant sets the
vocal-tract and source parameters, i.e. what makes a voice sound like one person), so a
variant heard in training is never heard in validation or testing under another accent
either; that is stricter than speaker-disjoint, and implies it.

Determinism: eSpeak NG renders the same samples for the same text, voice, rate and pitch, and
every random choice comes from a :func:`numpy.random.default_rng` stream derived from the seed
and the clip's own identity (word, speaker, repetition), never from the order in which workers
finish. The same seed therefore gives byte-identical files whatever ``workers`` is.

Command line::

    python -m ghost_keras.data.synthetic OUT_DIR --clips-per-word 100 --seed 0
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy.signal import resample_poly

__all__ = [
    "KEYWORDS",
    "UNKNOWN_WORDS",
    "DEFAULT_CLIPS_PER_WORD",
    "DROPPED_VARIANTS",
    "EspeakNotFoundError",
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

#: Variants left out, with the reason. Intelligibility was measured here with an independent
#: recogniser (pocketsphinx 5.1.1 and its bundled en-us model, a grammar of the 35 Speech
#: Commands words, clean renders at 160 wpm and pitch 50, all 8 accents: 280 words per variant).
#: It is a crude judge of formant synthesis (the accents' own voices score 23-49 %, the median
#: variant 35 %, chance is 3 %), so only the clear outliers are dropped: variants under 15 %,
#: whose vowel formants are shifted so far that a word turns into another one. Whispered
#: variants and 'croak' were *not* worse (whisper 38 %, croak 38 %, female_whisper 23 %) and
#: are kept: whispering is a real condition. Exact duplicates are dropped too, since two
#: variants that render the same samples are one speaker and could straddle two splits.
DROPPED_VARIANTS: dict[str, str] = {
    "kaukovalta": "4 % recognised (F1 at 40 %): near-unintelligible",
    "marcelo": "9 % recognised (all formants shifted down, F3 at 59 %): near-unintelligible",
    "Lee": "10 % recognised (F3 at 9 %, F4 at 290 %): near-unintelligible",
    "zac": "12 % recognised (formants x1.45, pitch 240-390 Hz): near-unintelligible",
    "norbert": "12 % recognised (weakened, lowered F2): near-unintelligible",
    "AnxiousAndy": "13 % recognised: near-unintelligible",
    "shelby": "14 % recognised (F2 x1.4, F6-F8 removed, voicing 40 %): near-unintelligible",
    "fast": "'fast_test' only tunes eSpeak's top speed: renders exactly like no variant (duplicate)",
    "caleb": "renders exactly like 'klatt' (its breath/voicing settings have no effect): duplicate",
    "klatt6": "renders exactly like 'klatt': duplicate",
}

#: Noise files written to ``_background_noise_`` (name, kind, seconds).
BACKGROUND_NOISE: tuple[tuple[str, str, float], ...] = (
    ("white_noise.wav", "white", 60.0),
    ("pink_noise.wav", "pink", 60.0),
    ("brown_noise.wav", "brown", 60.0),
    ("mains_hum_50hz.wav", "hum50", 10.0),
    ("mains_hum_60hz.wav", "hum60", 10.0),
)

# Level of the background files: about as loud as the real ones; the standard pipeline scales
# them down (background_volume) before mixing anyway.
_BACKGROUND_RMS_DBFS = -20.0

# Speech level (RMS of the trimmed word). A MEMS microphone of -26 dBFS at 94 dB SPL hears
# speech at 0.3-1 m (60-75 dB SPL) at about -60..-45 dBFS; devices apply 20-30 dB of digital
# gain before keyword spotting, and Speech Commands clips (phones, laptops with AGC) sit about
# -35..-15 dBFS too. So: uniform in dB over that range, and never closer than 1 dB to clipping.
_SPEECH_RMS_DBFS = (-35.0, -15.0)
_PEAK_LIMIT_DBFS = -1.0
# Signal-to-noise ratio of the noise mixed into every clip, uniform in dB.
_SNR_DB = (10.0, 40.0)
# Per-clip noise kind: (kind, probability). Pink and brown are closest to room/fan/traffic noise.
_CLIP_NOISE_KINDS: tuple[tuple[str, float], ...] = (
    ("white", 0.2), ("pink", 0.35), ("brown", 0.25), ("hum50", 0.1), ("hum60", 0.1),
)  # fmt: skip

# Speaker base speaking rate (words per minute) and pitch (eSpeak 0-99), and per-clip jitter.
# eSpeak's isolated words are long: "yes" lasts 0.48 s at 140 wpm, "backward" 0.76 s at 120 wpm;
# 130-195 wpm gives 0.3-0.75 s words, the range of Speech Commands.
_BASE_RATE_WPM = (130.0, 195.0)
_RATE_JITTER = 0.07  # +-7 % per clip
_BASE_PITCH = (25.0, 75.0)
_PITCH_JITTER = 6.0  # +-6 per clip
# Longest word kept, as a share of the clip: the rest is room for random placement.
_MAX_WORD_SHARE = 0.95
# Silence trimming: 10 ms frames quieter than this (relative to the loudest frame) are cut
# from both ends, keeping a 10 ms margin so soft onsets and final fricatives survive.
_TRIM_DB = -40.0

_WORD_RE = re.compile(r"^[a-z0-9][a-z0-9'_-]*$")

# eSpeak NG accent voices are the 'gmw/' (West Germanic) files; 'mb/' entries are MBROLA voices,
# which need the non-free mbrola program and voice files (not in Debian main): left out.
_ACCENT_FILE_PREFIX = "gmw/"


class EspeakNotFoundError(RuntimeError):
    """eSpeak NG is not installed (or not on ``PATH``)."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an eSpeak NG accent voice plus a voice variant.

    Attributes:
        accent: Language code of the accent voice, e.g. ``"en-us"``.
        accent_file: eSpeak voice file of the accent, e.g. ``"gmw/en-US"`` (unambiguous for ``-v``).
        variant: Variant file name, e.g. ``"m3"``; ``""`` for the accent's own voice.
        gender: ``"M"``, ``"F"`` or ``"-"`` as eSpeak lists it (the variant's, else the accent's).

    Example:
        >>> v = Voice("en-us", "gmw/en-US", "m3", "M")
        >>> v.spec, len(v.speaker_id)
        ('en-us+m3', 8)
    """

    accent: str
    accent_file: str
    variant: str
    gender: str

    @property
    def spec(self) -> str:
        """Human-readable voice spec, ``accent+variant`` (eSpeak's own ``-v`` syntax)."""
        return f"{self.accent}+{self.variant}" if self.variant else self.accent

    @property
    def espeak_arg(self) -> str:
        """Argument for ``espeak-ng -v``: the accent's file, so an MBROLA voice never wins."""
        return f"{self.accent_file}+{self.variant}" if self.variant else self.accent_file

    @property
    def speaker_id(self) -> str:
        """Stable 8-hex-digit speaker token for file names (Speech Commands style)."""
        return hashlib.sha1(f"espeak-ng:{self.spec}".encode()).hexdigest()[:8]


# --------------------------------------------------------------------------------------------
# eSpeak NG
# --------------------------------------------------------------------------------------------


def _espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakNotFoundError(
            "espeak-ng was not found on PATH; the synthetic dataset needs it. "
            "Install it: apt-get install espeak-ng"
        )
    return path


@lru_cache(maxsize=4)
def _espeak_version_at(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else out.strip()


def espeak_version() -> str:
    """Version of the installed eSpeak NG, e.g. ``"1.51"``.

    Raises:
        EspeakNotFoundError: if ``espeak-ng`` is not installed.

    Example:
        >>> espeak_version()  # doctest: +SKIP
        '1.51'
    """
    return _espeak_version_at(_espeak_path())


def _run_espeak_list(path: str, which: str) -> list[str]:
    out = subprocess.run(
        [path, f"--voices={which}"], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[1:]  # first line is the column header


@lru_cache(maxsize=4)
def _list_voices_at(path: str, include_dropped: bool) -> tuple[Voice, ...]:
    accents: list[tuple[str, str, str]] = []  # (language code, file, gender)
    for line in _run_espeak_list(path, "en"):
        # Pty Language Age/Gender VoiceName File [Other languages]; no field has spaces here.
        fields = line.split()
        if len(fields) < 5 or not fields[4].startswith(_ACCENT_FILE_PREFIX):
            continue
        lang, gender, file = fields[1], fields[2].split("/")[-1], fields[4]
        if lang not in {a[0] for a in accents}:
            accents.append((lang, file, gender))
    variants: list[tuple[str, str]] = [("", "")]  # the accent's own voice counts as a variant
    for line in _run_espeak_list(path, "variant"):
        # The file column may contain a space ("!v/Mr serious"), so take all of it up to the
        # optional "(lang prio)" list at the end.
        match = re.match(r"^\s*\d+\s+variant\s+\S+/([MF-])\s+.*?!v/(.+?)\s*(\(.*\))?\s*$", line)
        if match is None:
            continue
        gender, name = match.group(1), match.group(2)
        if not include_dropped and name in DROPPED_VARIANTS:
            continue
        if name not in {v[0] for v in variants}:
            variants.append((name, gender))
    voices = [
        Voice(lang, file, name, vgender if name else agender)
        for lang, file, agender in sorted(accents)
        for name, vgender in sorted(variants)
    ]
    return tuple(voices)


def list_voices(include_dropped: bool = False) -> list[Voice]:
    """All English eSpeak NG speakers: every accent voice times every usable variant.

    Accents come from ``espeak-ng --voices=en`` (eSpeak's own ``gmw/`` voices only; MBROLA
    voices are left out) and variants from ``espeak-ng --voices=variant``, minus
    :data:`DROPPED_VARIANTS` unless ``include_dropped``.

    Args:
        include_dropped: Also return the variants that are left out of datasets.

    Returns:
        Voices sorted by accent then variant (``""``, the accent's own voice, first).

    Raises:
        EspeakNotFoundError: if ``espeak-ng`` is not installed.

    Example:
        >>> voices = list_voices()  # doctest: +SKIP
        >>> voices[0].spec, len(voices)  # doctest: +SKIP
        ('en-029', 736)
    """
    return list(_list_voices_at(_espeak_path(), include_dropped))


def _parse_wav_int16(data: bytes) -> tuple[np.ndarray, int]:
    """Parse eSpeak's ``--stdout`` WAV. Its header sizes are placeholders (it streams), so
    the chunk sizes are not trusted: the samples are everything after the ``data`` header."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV file to stdout")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            channels = int.from_bytes(data[pos + 10 : pos + 12], "little")
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
            bits = int.from_bytes(data[pos + 22 : pos + 24], "little")
            if channels != 1 or bits != 16:
                raise RuntimeError(f"unexpected espeak-ng output: {channels} ch, {bits} bit")
        elif cid == b"data":
            body = data[pos + 8 :]
            body = body[: len(body) // 2 * 2]
            return np.frombuffer(body, dtype="<i2"), rate
        pos += 8 + size + (size & 1)
    raise RuntimeError("espeak-ng output has no data chunk")


def _espeak_render(path: str, voice_arg: str, text: str, rate: int, pitch: int) -> tuple[np.ndarray, int]:
    # Text goes through stdin, so a word can never be taken for a command-line option.
    # -z: no final sentence pause (less silence to render and trim); -b 1: UTF-8 input.
    cmd = [path, "-v", voice_arg, "-s", str(rate), "-p", str(pitch), "-a", "100", "-z", "-b", "1",
           "--stdout"]  # fmt: skip
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(
            f"espeak-ng failed ({proc.returncode}) for {text!r} with voice {voice_arg}: "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return _parse_wav_int16(proc.stdout)


def _trim_silence(x: np.ndarray, rate: int) -> np.ndarray:
    frame = max(1, rate // 100)  # 10 ms
    n = len(x) // frame
    if n == 0:
        return x
    energy = np.sqrt(np.mean(np.square(x[: n * frame].reshape(n, frame)), axis=1))
    peak = float(energy.max())
    if peak <= 0.0:
        return x[:0]
    loud = np.nonzero(energy >= peak * 10.0 ** (_TRIM_DB / 20.0))[0]
    start = max(0, (int(loud[0]) - 1) * frame)
    stop = min(len(x), (int(loud[-1]) + 2) * frame)
    return x[start:stop]


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return x
    g = math.gcd(rate_in, rate_out)
    return resample_poly(x, rate_out // g, rate_in // g)  # 22050 -> 16000: up 320, down 441


def _render_fitting(
    path: str, voice_arg: str, text: str, rate: int, pitch: int, sample_rate: int, max_len: int
) -> tuple[np.ndarray, int, str]:
    """Render, trim and resample; if the word is longer than ``max_len`` samples, render it
    again faster (never cut it: a cut word may lose the very phoneme that names it)."""
    adjusted = ""
    for _ in range(4):
        raw, raw_rate = _espeak_render(path, voice_arg, text, rate, pitch)
        x = _trim_silence(raw.astype(np.float64) / 32768.0, raw_rate)
        x = _resample(x, raw_rate, sample_rate)
        if len(x) <= max_len:
            return x, rate, adjusted
        # Duration scales roughly as 1/rate; aim 5 % under the limit.
        rate = int(math.ceil(rate * len(x) / max_len * 1.05))
        adjusted = "rate_raised"
    # Still too long at 4 tries (eSpeak tops out around 450 wpm): keep the start, fade out.
    fade = min(len(x), sample_rate // 50)
    x = x[:max_len].copy()
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    return x, rate, "trimmed"


def render_word(
    word: str,
    voice: Voice | str = "en-us",
    rate: int = 160,
    pitch: int = 50,
    sample_rate: int = 16000,
    trim: bool = True,
) -> np.ndarray:
    """Render one word with eSpeak NG as float32 in [-1, 1] at ``sample_rate``.

    Args:
        word: Text to speak (passed on stdin, so it may start with anything).
        voice: A :class:`Voice` or an eSpeak ``-v`` argument such as ``"en-us+m3"``.
        rate: Speaking rate in words per minute (eSpeak ``-s``, 80-450).
        pitch: Pitch, eSpeak ``-p`` (0-99, 50 is the voice's own).
        sample_rate: Output rate; eSpeak's 22,050 Hz is resampled with ``resample_poly``.
        trim: Cut leading and trailing silence.

    Returns:
        1-D float32 array (the whole render, however long).

    Raises:
        EspeakNotFoundError: if ``espeak-ng`` is not installed.

    Example:
        >>> x = render_word("yes", "en-gb+f2", rate=150)  # doctest: +SKIP
        >>> 0.2 < len(x) / 16000 < 1.0  # doctest: +SKIP
        True
    """
    arg = voice.espeak_arg if isinstance(voice, Voice) else voice
    raw, raw_rate = _espeak_render(_espeak_path(), arg, word, int(rate), int(pitch))
    x = raw.astype(np.float64) / 32768.0
    if trim:
        x = _trim_silence(x, raw_rate)
    return _resample(x, raw_rate, sample_rate).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


def _shaped_noise(n: int, rng: np.random.Generator, sample_rate: int, exponent: float) -> np.ndarray:
    # Shape white noise in the frequency domain: amplitude ~ f^-exponent/2 (pink 1, brown 2).
    # Below 20 Hz the shape is held flat so brown noise does not become a slow DC wander.
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum *= np.maximum(freqs, 20.0) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def _hum(n: int, rng: np.random.Generator, sample_rate: int, mains: float) -> np.ndarray:
    # Mains hum/buzz: the fundamental and its harmonics up to ~1 kHz with random (odd-heavy)
    # amplitudes and phases, a slight frequency offset and slow amplitude wobble, over a faint
    # pink floor so it is not a set of pure tones.
    t = np.arange(n) / sample_rate
    f0 = mains * (1.0 + rng.uniform(-0.002, 0.002))
    out = np.zeros(n)
    for k in range(1, int(1000 // mains) + 1):
        amp = (1.0 if k % 2 else 0.4) / k ** rng.uniform(0.8, 1.5)
        out += amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
    out *= wobble
    out /= np.sqrt(np.mean(out**2))
    floor = _shaped_noise(n, rng, sample_rate, 1.0)
    return out + 0.03 * floor / np.sqrt(np.mean(floor**2))


def generate_noise(kind: str, n: int, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """Generate ``n`` samples of noise with unit RMS.

    Args:
        kind: ``"white"``, ``"pink"`` (1/f power), ``"brown"`` (1/f^2 power), ``"hum50"`` or
            ``"hum60"`` (mains hum with harmonics).
        n: Number of samples.
        rng: Source of randomness (the result is a pure function of its state).
        sample_rate: Sample rate in Hz.

    Returns:
        float64 array of length ``n``, RMS 1.

    Example:
        >>> x = generate_noise("pink", 16000, np.random.default_rng(0))
        >>> round(float(np.sqrt(np.mean(x ** 2))), 6)
        1.0
    """
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped_noise(n, rng, sample_rate, 1.0)
    elif kind == "brown":
        x = _shaped_noise(n, rng, sample_rate, 2.0)
    elif kind in ("hum50", "hum60"):
        x = _hum(n, rng, sample_rate, float(kind[3:]))
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return x / np.sqrt(np.mean(x**2))


# --------------------------------------------------------------------------------------------
# Deterministic random streams
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *key: object) -> np.random.Generator:
    """A random stream that depends only on the seed and a key (never on execution order)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=words))


# --------------------------------------------------------------------------------------------
# Dataset plan and one clip
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Speaker:
    voice: Voice
    split: str
    base_rate: float
    base_pitch: float


@dataclass(frozen=True)
class _ClipJob:
    espeak: str
    out_dir: str
    relpath: str
    word: str
    speaker_id: str
    voice_spec: str
    voice_arg: str
    repetition: int
    base_rate: float
    base_pitch: float
    seed: int
    sample_rate: int


def _render_clip(job: _ClipJob) -> dict[str, object]:
    """Make one 1-s clip and write it; return its row for ``clips.csv``. Runs in a worker."""
    rng = _rng(job.seed, "clip", job.word, job.speaker_id, job.repetition)
    n = job.sample_rate
    rate = int(round(job.base_rate * rng.uniform(1 - _RATE_JITTER, 1 + _RATE_JITTER)))
    pitch = int(np.clip(round(job.base_pitch + rng.uniform(-_PITCH_JITTER, _PITCH_JITTER)), 0, 99))
    text = job.word.replace("_", " ")  # "hey_snips" folder -> "hey snips" spoken
    speech, used_rate, adjusted = _render_fitting(
        job.espeak, job.voice_arg, text, rate, pitch, job.sample_rate, int(_MAX_WORD_SHARE * n)
    )
    if len(speech) == 0 or not np.any(speech):
        raise RuntimeError(f"espeak-ng rendered silence for {job.word!r} ({job.voice_arg})")

    # Level: RMS of the trimmed word, uniform in dB, but keep the peak under -1 dBFS.
    target_db = rng.uniform(*_SPEECH_RMS_DBFS)
    rms = float(np.sqrt(np.mean(speech**2)))
    gain = 10.0 ** (target_db / 20.0) / rms
    gain = min(gain, 10.0 ** (_PEAK_LIMIT_DBFS / 20.0) / float(np.max(np.abs(speech))))
    speech = speech * gain
    speech_db = 20.0 * math.log10(rms * gain)

    start = int(rng.integers(0, n - len(speech) + 1))
    clip = np.zeros(n)
    clip[start : start + len(speech)] = speech

    kinds, probs = zip(*_CLIP_NOISE_KINDS)
    kind = str(rng.choice(kinds, p=probs))
    snr = float(rng.uniform(*_SNR_DB))
    clip += generate_noise(kind, n, rng, job.sample_rate) * 10.0 ** ((speech_db - snr) / 20.0)

    pcm = np.clip(np.round(clip * 32768.0), -32768, 32767).astype("<i2")
    _write_wav(Path(job.out_dir) / job.relpath, pcm, job.sample_rate)
    return {
        "path": job.relpath,
        "word": job.word,
        "speaker": job.speaker_id,
        "voice": job.voice_spec,
        "rate_wpm": used_rate,
        "pitch": pitch,
        "start": start,
        "end": start + len(speech),
        "speech_rms_dbfs": round(speech_db, 2),
        "noise": kind,
        "snr_db": round(snr, 2),
        "adjusted": adjusted,
    }


def _write_wav(path: Path, pcm: np.ndarray, sample_rate: int) -> None:
    # The wave module writes a plain 44-byte header and nothing else: byte-identical every time.
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def _check_words(words: Iterable[str], what: str) -> list[str]:
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
    return out


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


def _plan_speakers(
    voices: Sequence[Voice], seed: int, validation_fraction: float, testing_fraction: float
) -> list[_Speaker]:
    # Split by variant (see module docstring), separately for female and male variants so both
    # are in every split. The accent's own voice ("" variant) is a variant like any other.
    genders: dict[str, set[str]] = {}
    for v in voices:
        genders.setdefault("F" if v.gender == "F" else "M", set()).add(v.variant)
    split_of: dict[str, str] = {}
    fractions = (1.0 - validation_fraction - testing_fraction, validation_fraction, testing_fraction)
    for gender in sorted(genders):
        names = sorted(genders[gender] - set(split_of))
        order = _rng(seed, "split", gender).permutation(len(names))
        counts = _split_counts(len(names), fractions, at_least_one=gender == "M")
        bounds = np.cumsum(counts)
        for rank, idx in enumerate(order):
            split_of[names[idx]] = ("training", "validation", "testing")[
                int(np.searchsorted(bounds, rank, side="right"))
            ]
    speakers = []
    for v in voices:
        r = _rng(seed, "speaker", v.spec)
        rate, pitch = float(r.uniform(*_BASE_RATE_WPM)), float(r.uniform(*_BASE_PITCH))
        speakers.append(_Speaker(v, split_of[v.variant], rate, pitch))
    return speakers


def _plan_clips(
    words: Sequence[str],
    speakers: Sequence[_Speaker],
    clips_per_word: int,
    seed: int,
    fractions: Sequence[float],
) -> list[tuple[str, _Speaker, int]]:
    # Every word gets the same share of clips per split. Within a split, a word's clips go to
    # that split's speakers in a seeded order, one each before anyone says it twice (_nohash_1).
    by_split: dict[str, list[_Speaker]] = {}
    for s in speakers:
        by_split.setdefault(s.split, []).append(s)
    counts = _split_counts(clips_per_word, fractions, at_least_one=True)
    plan = []
    for word in words:
        for split, count in zip(("training", "validation", "testing"), counts):
            pool = by_split.get(split, [])
            if count and not pool:
                raise ValueError(f"no speaker left for the {split} split; lower its fraction")
            order = _rng(seed, "order", word, split).permutation(len(pool)) if pool else []
            for i in range(count):
                plan.append((word, pool[order[i % len(pool)]], i // len(pool)))
    return plan


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _readme(manifest: dict[str, object]) -> str:
    return f"""# Synthetic keyword dataset (ghost-keras)

Generated offline by `ghost_keras.data.synthetic` with eSpeak NG {manifest['espeak_ng_version']},
seed {manifest['seed']}, in the layout of Speech Commands v2: one folder per word of
1-second, {manifest['sample_rate']} Hz mono 16-bit WAV clips named `<speaker>_nohash_<n>.wav`,
`_background_noise_/` with generated noise, and `validation_list.txt` / `testing_list.txt`
split by voice (no speaker, and no voice variant, is in two splits).

{manifest['total_clips']} clips, {len(manifest['speakers'])} synthetic speakers
({len(manifest['accents'])} English accents x {len(manifest['variants'])} eSpeak voice variants,
each with its own speaking rate and pitch). Each word is
trimmed, placed at a random position, set to a random level (-35..-15 dBFS RMS) and mixed with
generated white/pink/brown noise or mains hum at a random SNR (10-40 dB). `clips.csv` lists the
voice, rate, pitch, placement, level and SNR of every clip; `synthetic.json` holds the
parameters, voices and counts.

This is synthetic speech from a formant synthesizer: good for running and testing the
pipeline without data or internet, NOT a substitute for real recordings when measuring
accuracy.
"""


def generate_dataset(
    out_dir: str | os.PathLike[str],
    words: Sequence[str] | None = None,
    unknown_words: Sequence[str] | None = None,
    clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
    seed: int = 0,
    sample_rate: int = 16000,
    validation_fraction: float = 0.1,
    testing_fraction: float = 0.1,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Generate a keyword dataset in the Speech Commands layout by speech synthesis.

    Everything is written into a hidden temporary folder beside ``out_dir`` and moved into
    place with one rename at the end, so an interrupted run never leaves a half dataset at
    ``out_dir``.

    Args:
        out_dir: Destination folder. It must not exist or be empty, unless ``overwrite``.
        words: Keywords, one folder each; default :data:`KEYWORDS`. Entries are stripped and
            lower-cased; ``_`` in a word is spoken as a space (``"hey_snips"``).
        unknown_words: Further words for the _unknown_ class; default :data:`UNKNOWN_WORDS`.
            Pass ``[]`` for none. Words may not repeat across the two lists.
        clips_per_word: Clips per word (over all splits).
        seed: Seed of every random choice; the same seed gives byte-identical files.
        sample_rate: Output sample rate; clips are exactly ``sample_rate`` samples long.
        validation_fraction: Share of variants (and of each word's clips) for validation.
        testing_fraction: Share of variants (and of each word's clips) for testing.
        workers: Parallel worker processes; 0 or 1 renders in this process. Does not change
            the output.
        progress: Called as ``progress(done, total)`` after each clip.
        overwrite: Replace an existing non-empty ``out_dir``, but only if it holds a dataset
            made by this module (it has ``synthetic.json``): a safety net against deleting an
            unrelated folder by a typo.

    Returns:
        ``out_dir`` as an absolute :class:`~pathlib.Path`.

    Raises:
        EspeakNotFoundError: if ``espeak-ng`` is not installed.
        ValueError: for an empty, malformed or repeated word, or bad counts or fractions.
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is false.

    Example:
        >>> root = generate_dataset("/tmp/kws", words=["yes", "no"], unknown_words=["cat"],
        ...                         clips_per_word=20, seed=1)  # doctest: +SKIP
        >>> sorted(p.name for p in root.iterdir())[:3]  # doctest: +SKIP
        ['README.md', '_background_noise_', 'cat']
    """
    words_l = _check_words(KEYWORDS if words is None else words, "words")
    unknown_l = _check_words(UNKNOWN_WORDS if unknown_words is None else unknown_words, "unknown_words")
    if overlap := sorted(set(words_l) & set(unknown_l)):
        raise ValueError(f"words and unknown_words share {overlap}")
    all_words = words_l + unknown_l
    if not all_words:
        raise ValueError("no words to generate")
    if int(clips_per_word) != clips_per_word or clips_per_word < 1:
        raise ValueError(f"clips_per_word must be a positive integer, got {clips_per_word!r}")
    if int(sample_rate) != sample_rate or not 4000 <= sample_rate <= 48000:
        raise ValueError(f"sample_rate must be an integer in 4000..48000 Hz, got {sample_rate!r}")
    if not (0 <= validation_fraction < 1 and 0 <= testing_fraction < 1) or (
        validation_fraction + testing_fraction >= 1
    ):
        raise ValueError("validation_fraction and testing_fraction must be >= 0 with a sum < 1")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")

    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True to replace it")
        if not (out / "synthetic.json").is_file():
            raise FileExistsError(
                f"{out} is not empty and holds no synthetic.json, so it is not a dataset made "
                "here: refusing to delete it even with overwrite=True"
            )

    espeak = _espeak_path()  # fails early and clearly when eSpeak NG is missing
    version = _espeak_version_at(espeak)
    voices = list(_list_voices_at(espeak, False))
    speakers = _plan_speakers(voices, seed, validation_fraction, testing_fraction)
    fractions = (1.0 - validation_fraction - testing_fraction, validation_fraction, testing_fraction)
    plan = _plan_clips(all_words, speakers, int(clips_per_word), seed, fractions)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is ordinary shared data
        for word in all_words:
            (tmp / word).mkdir()
        jobs = [
            _ClipJob(
                espeak, str(tmp), f"{word}/{spk.voice.speaker_id}_nohash_{rep}.wav", word,
                spk.voice.speaker_id, spk.voice.spec, spk.voice.espeak_arg, rep, spk.base_rate,
                spk.base_pitch, int(seed), int(sample_rate),
            )  # fmt: skip
            for word, spk, rep in plan
        ]
        rows = _run_jobs(jobs, workers, progress)
        _write_background(tmp / "_background_noise_", seed, int(sample_rate))

        split_of = {s.voice.speaker_id: s.split for s in speakers}
        rows.sort(key=lambda r: str(r["path"]))
        for split in ("validation", "testing"):
            listed = [str(r["path"]) for r in rows if split_of[str(r["speaker"])] == split]
            (tmp / f"{split}_list.txt").write_text("".join(p + "\n" for p in listed))
        with open(tmp / "clips.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

        manifest = _manifest(
            seed, sample_rate, words_l, unknown_l, clips_per_word, validation_fraction,
            testing_fraction, version, speakers, rows, split_of,
        )  # fmt: skip
        (tmp / "README.md").write_text(_readme(manifest))
        # Written last: a folder with synthetic.json is complete (ensure_dataset relies on it).
        (tmp / "synthetic.json").write_text(json.dumps(manifest, indent=1) + "\n")
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _run_jobs(
    jobs: list[_ClipJob], workers: int, progress: Callable[[int, int], None] | None
) -> list[dict[str, object]]:
    total = len(jobs)
    rows: list[dict[str, object]] = []
    if workers <= 1:
        for job in jobs:
            rows.append(_render_clip(job))
            if progress is not None:
                progress(len(rows), total)
        return rows
    # 'spawn' rather than fork: the caller may already have started TensorFlow's threads, and
    # forking a multi-threaded process can deadlock. The workers import only numpy and scipy.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, min(32, total // (workers * 8) or 1))
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        for row in pool.map(_render_clip, jobs, chunksize=chunk):
            rows.append(row)
            if progress is not None:
                progress(len(rows), total)
    return rows


def _write_background(folder: Path, seed: int, sample_rate: int) -> None:
    folder.mkdir()
    for name, kind, seconds in BACKGROUND_NOISE:
        x = generate_noise(kind, int(seconds * sample_rate), _rng(seed, "background", name), sample_rate)
        x *= 10.0 ** (_BACKGROUND_RMS_DBFS / 20.0)
        peak = float(np.max(np.abs(x)))
        limit = 10.0 ** (_PEAK_LIMIT_DBFS / 20.0)
        if peak > limit:  # brown noise can wander far from its RMS
            x *= limit / peak
        _write_wav(folder / name, np.round(x * 32768.0).astype("<i2"), sample_rate)
    (folder / "README.md").write_text(
        "Generated noise (ghost-keras synthetic dataset): white, pink (1/f), brown (1/f^2, "
        "flat below 20 Hz), and mains hum at 50 and 60 Hz with harmonics over a faint pink "
        f"floor. About {_BACKGROUND_RMS_DBFS:.0f} dBFS RMS, peaks under {_PEAK_LIMIT_DBFS:.0f} dBFS.\n"
    )


def _manifest(
    seed: int,
    sample_rate: int,
    words: list[str],
    unknown_words: list[str],
    clips_per_word: int,
    validation_fraction: float,
    testing_fraction: float,
    version: str,
    speakers: Sequence[_Speaker],
    rows: Sequence[dict[str, object]],
    split_of: dict[str, str],
) -> dict[str, object]:
    # No timings or paths here: the manifest must be byte-identical for the same seed.
    counts: dict[str, dict[str, int]] = {
        w: {"training": 0, "validation": 0, "testing": 0} for w in words + unknown_words
    }
    adjusted: dict[str, int] = {"rate_raised": 0, "trimmed": 0}
    clips_of: dict[str, int] = {}
    for r in rows:
        clips_of[str(r["speaker"])] = clips_of.get(str(r["speaker"]), 0) + 1
        counts[str(r["word"])][split_of[str(r["speaker"])]] += 1
        if r["adjusted"]:
            adjusted[str(r["adjusted"])] += 1
    return {
        "generator": "ghost_keras.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "engine": "espeak-ng",
        "espeak_ng_version": version,
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "clip_samples": int(sample_rate),
        "words": words,
        "unknown_words": unknown_words,
        "clips_per_word": int(clips_per_word),
        "validation_fraction": validation_fraction,
        "testing_fraction": testing_fraction,
        "total_clips": len(rows),
        "counts": counts,
        "adjusted_clips": adjusted,
        "levels": {
            "speech_rms_dbfs": list(_SPEECH_RMS_DBFS),
            "peak_limit_dbfs": _PEAK_LIMIT_DBFS,
            "snr_db": list(_SNR_DB),
            "clip_noise": dict(_CLIP_NOISE_KINDS),
            "background_rms_dbfs": _BACKGROUND_RMS_DBFS,
        },
        "speaking": {
            "base_rate_wpm": list(_BASE_RATE_WPM),
            "rate_jitter": _RATE_JITTER,
            "base_pitch": list(_BASE_PITCH),
            "pitch_jitter": _PITCH_JITTER,
        },
        "accents": sorted({s.voice.accent for s in speakers}),
        "variants": sorted({s.voice.variant for s in speakers}),
        "dropped_variants": DROPPED_VARIANTS,
        "background_noise": [
            {"file": f"_background_noise_/{name}", "kind": kind, "seconds": seconds}
            for name, kind, seconds in BACKGROUND_NOISE
        ],
        "speakers": [
            {
                "id": s.voice.speaker_id,
                "voice": s.voice.spec,
                "gender": s.voice.gender,
                "split": s.split,
                "base_rate_wpm": round(s.base_rate, 1),
                "base_pitch": round(s.base_pitch, 1),
                "clips": clips_of[s.voice.speaker_id],
            }
            for s in speakers
            if s.voice.speaker_id in clips_of  # only the speakers that say something
        ],
    }


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.is_dir() and not any(out.iterdir()):
        try:
            out.rmdir()  # rename() onto an empty folder works on Linux, but not everywhere
        except OSError:
            pass  # something appeared in it meanwhile: handled below
    try:
        # Atomic, and refuses a non-empty destination: a dataset that another process
        # finished meanwhile is never swapped out under its readers.
        os.rename(tmp, out)
        return
    except OSError as exc:
        if not out.exists():
            raise
        if not overwrite:
            raise FileExistsError(f"{out} appeared while generating; left as it is") from exc
    # overwrite=True (the caller checked it is one of our datasets): swap it out, then delete.
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, trash / "old")
    os.rename(tmp, out)
    shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def _cache_root() -> Path:
    env = os.environ.get("GHOST_KERAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ghost-keras"


def default_dataset_dir(
    words: Sequence[str] | None = None,
    unknown_words: Sequence[str] | None = None,
    clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
    seed: int = 0,
    sample_rate: int = 16000,
    validation_fraction: float = 0.1,
    testing_fraction: float = 0.1,
) -> Path:
    """Cache folder of the synthetic dataset with these parameters.

    ``<root>/synthetic-v<GENERATOR_VERSION>-<12 hex digits of a hash of the parameters>``, where
    the root is ``$GHOST_KERAS_CACHE`` if set, else ``$XDG_CACHE_HOME/ghost-keras`` or
    ``~/.cache/ghost-keras``. The eSpeak NG version is not part of the key, so a dataset
    stays usable when eSpeak is upgraded or removed (its manifest records the version).

    Args:
        words, unknown_words, clips_per_word, seed, sample_rate, validation_fraction,
        testing_fraction: As for :func:`generate_dataset` (``workers`` never changes the data).

    Returns:
        The folder (which may not exist yet).

    Example:
        >>> default_dataset_dir(seed=0).name  # doctest: +SKIP
        'synthetic-v1-3f0c9a1b2d4e'
    """
    key = {
        "generator_version": GENERATOR_VERSION,
        "words": _check_words(KEYWORDS if words is None else words, "words"),
        "unknown_words": _check_words(
            UNKNOWN_WORDS if unknown_words is None else unknown_words, "unknown_words"
        ),
        "clips_per_word": int(clips_per_word),
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "validation_fraction": float(validation_fraction),
        "testing_fraction": float(testing_fraction),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return _cache_root() / f"synthetic-v{GENERATOR_VERSION}-{digest}"


def ensure_dataset(
    words: Sequence[str] | None = None,
    unknown_words: Sequence[str] | None = None,
    clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
    seed: int = 0,
    sample_rate: int = 16000,
    validation_fraction: float = 0.1,
    testing_fraction: float = 0.1,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """The synthetic dataset for these parameters: generated once, then reused from the cache.

    The folder is :func:`default_dataset_dir` of the same parameters. It only ever appears
    complete (generation runs in a temporary folder renamed at the end), so an existing folder
    is reused as is; two processes racing to make it both generate, and the second keeps the
    first one's result.

    Args:
        words, unknown_words, clips_per_word, seed, sample_rate, validation_fraction,
        testing_fraction, workers, progress: As for :func:`generate_dataset`.

    Returns:
        Path of the dataset root.

    Example:
        >>> root = ensure_dataset(seed=0)  # doctest: +SKIP
        >>> (root / "validation_list.txt").is_file()  # doctest: +SKIP
        True
    """
    params = dict(
        words=words, unknown_words=unknown_words, clips_per_word=clips_per_word, seed=seed,
        sample_rate=sample_rate, validation_fraction=validation_fraction,
        testing_fraction=testing_fraction,
    )  # fmt: skip
    out = default_dataset_dir(**params)
    if (out / "synthetic.json").is_file():
        return out
    try:
        return generate_dataset(out, workers=workers, progress=progress, **params)
    except FileExistsError:
        if (out / "synthetic.json").is_file():  # another process finished it first
            return out
        raise


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _word_list(text: str) -> list[str]:
    return [] if text.strip() == "" else text.split(",")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ghost_keras.data.synthetic OUT_DIR --clips-per-word N --seed S``.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status (0 on success).

    Example:
        >>> main(["/tmp/kws", "--clips-per-word", "20", "--words", "yes,no"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m ghost_keras.data.synthetic",
        description="Generate a synthetic keyword dataset (Speech Commands layout) with eSpeak NG.",
    )
    parser.add_argument("out_dir", type=Path, help="destination folder (must be empty or absent)")
    parser.add_argument("--clips-per-word", type=int, default=DEFAULT_CLIPS_PER_WORD)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", type=_word_list, default=None, help="comma-separated keywords")
    parser.add_argument(
        "--unknown-words", type=_word_list, default=None, help="comma-separated unknown words ('' for none)"
    )
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--testing-fraction", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 8)))
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier synthetic dataset")
    args = parser.parse_args(argv)

    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] > 1.0:
            last[0] = now
            print(f"\r{done}/{total} clips", end="" if done < total else "\n", file=sys.stderr, flush=True)

    start = time.monotonic()
    try:
        out = generate_dataset(
            args.out_dir, words=args.words, unknown_words=args.unknown_words,
            clips_per_word=args.clips_per_word, seed=args.seed, sample_rate=args.sample_rate,
            validation_fraction=args.validation_fraction, testing_fraction=args.testing_fraction,
            workers=args.workers, progress=report, overwrite=args.overwrite,
        )  # fmt: skip
    except (EspeakNotFoundError, ValueError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - start
    total = json.loads((out / "synthetic.json").read_text())["total_clips"]
    print(f"wrote {total} clips to {out} in {elapsed:.1f} s ({total / elapsed:.0f} clips/s, "
          f"{args.workers} workers)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
