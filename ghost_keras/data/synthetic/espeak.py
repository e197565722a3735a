"""The eSpeak NG driver: which English speakers it has (:func:`list_voices`), and rendering one
word as trimmed float samples at the set's sample rate (:func:`render_word`).

A *speaker* is one eSpeak NG voice: an English accent (``en-us``, ``en-gb-scotland``, ...)
with one voice variant (``m3``, ``f2``, ``klatt4``, ... or none), e.g. ``en-us+m3``. The
speaker id in the file names is the first 8 hex digits of the SHA-1 of the voice spec, so it is
stable across seeds and the usual Speech Commands "hash of the part before ``_nohash_``" logic
treats it as a speaker. eSpeak NG renders the same samples for the same text, voice, rate and
pitch, which is what makes the synthetic set reproducible.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import resample_poly

__all__ = [
    "DROPPED_VARIANTS",
    "EspeakNotFoundError",
    "Voice",
    "espeak_version",
    "list_voices",
    "render_word",
]

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


# Silence trimming: 10 ms frames quieter than this (relative to the loudest frame) are cut
# from both ends, keeping a 10 ms margin so soft onsets and final fricatives survive.
_TRIM_DB = -40.0

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


def espeak_path() -> str:
    """The ``espeak-ng`` program; a clear error (how to install it) when there is none."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakNotFoundError(
            "espeak-ng was not found on PATH; the synthetic dataset needs it. "
            "Install it: apt-get install espeak-ng"
        )
    return path


@lru_cache(maxsize=4)
def espeak_version_at(path: str) -> str:
    """:func:`espeak_version` of the program at ``path`` (asked once per program)."""
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
    return espeak_version_at(espeak_path())


def _run_espeak_list(path: str, which: str) -> list[str]:
    out = subprocess.run(
        [path, f"--voices={which}"], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[1:]  # first line is the column header


@lru_cache(maxsize=4)
def list_voices_at(path: str, include_dropped: bool) -> tuple[Voice, ...]:
    """:func:`list_voices` of the program at ``path`` (asked once per program)."""
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
    return list(list_voices_at(espeak_path(), include_dropped))


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


def render_fitting(
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
    raw, raw_rate = _espeak_render(espeak_path(), arg, word, int(rate), int(pitch))
    x = raw.astype(np.float64) / 32768.0
    if trim:
        x = _trim_silence(x, raw_rate)
    return _resample(x, raw_rate, sample_rate).astype(np.float32)

