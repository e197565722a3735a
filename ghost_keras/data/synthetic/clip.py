"""One clip of the synthetic set: rendered, levelled, placed, mixed with noise and written.

:func:`render_clip` runs in worker processes, so a :class:`ClipJob` carries everything the
clip needs as plain values, and the clip's random stream comes from its own identity.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ghost_keras.data.synthetic.config import (
    CLIP_NOISE_KINDS,
    MAX_WORD_SHARE,
    PEAK_LIMIT_DBFS,
    PITCH_JITTER,
    RATE_JITTER,
    SNR_DB,
    SPEECH_RMS_DBFS,
)
from ghost_keras.data.synthetic.espeak import render_fitting
from ghost_keras.data.synthetic.noise import generate_noise
from ghost_keras.data.synthetic.plan import keyed_rng


@dataclass(frozen=True)
class ClipJob:
    """What a worker needs to make one clip (``relpath`` below ``out_dir``)."""

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



def render_clip(job: ClipJob) -> dict[str, object]:
    """Make one 1-s clip and write it; return its row for ``clips.csv``. Runs in a worker."""
    rng = keyed_rng(job.seed, "clip", job.word, job.speaker_id, job.repetition)
    n = job.sample_rate
    rate = int(round(job.base_rate * rng.uniform(1 - RATE_JITTER, 1 + RATE_JITTER)))
    pitch = int(np.clip(round(job.base_pitch + rng.uniform(-PITCH_JITTER, PITCH_JITTER)), 0, 99))
    text = job.word.replace("_", " ")  # "hey_snips" folder -> "hey snips" spoken
    speech, used_rate, adjusted = render_fitting(
        job.espeak, job.voice_arg, text, rate, pitch, job.sample_rate, int(MAX_WORD_SHARE * n)
    )
    if len(speech) == 0 or not np.any(speech):
        raise RuntimeError(f"espeak-ng rendered silence for {job.word!r} ({job.voice_arg})")

    # Level: RMS of the trimmed word, uniform in dB, but keep the peak under -1 dBFS.
    target_db = rng.uniform(*SPEECH_RMS_DBFS)
    rms = float(np.sqrt(np.mean(speech**2)))
    gain = 10.0 ** (target_db / 20.0) / rms
    gain = min(gain, 10.0 ** (PEAK_LIMIT_DBFS / 20.0) / float(np.max(np.abs(speech))))
    speech = speech * gain
    speech_db = 20.0 * math.log10(rms * gain)

    start = int(rng.integers(0, n - len(speech) + 1))
    clip = np.zeros(n)
    clip[start : start + len(speech)] = speech

    kinds, probs = zip(*CLIP_NOISE_KINDS)
    kind = str(rng.choice(kinds, p=probs))
    snr = float(rng.uniform(*SNR_DB))
    clip += generate_noise(kind, n, rng, job.sample_rate) * 10.0 ** ((speech_db - snr) / 20.0)

    pcm = np.clip(np.round(clip * 32768.0), -32768, 32767).astype("<i2")
    write_wav(Path(job.out_dir) / job.relpath, pcm, job.sample_rate)
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


def write_wav(path: Path, pcm: np.ndarray, sample_rate: int) -> None:
    # The wave module writes a plain 44-byte header and nothing else: byte-identical every time.
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.astype("<i2").tobytes())

