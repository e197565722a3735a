"""What a synthetic set says about itself: ``synthetic.json`` (parameters, voices, counts,
versions) and the ``README.md`` written beside the clips.

No timings or paths go in either: they must be byte-identical for the same config.
"""

from __future__ import annotations

from collections.abc import Sequence

from ghost_keras.data.synthetic.config import (
    BACKGROUND_RMS_DBFS,
    BASE_PITCH,
    BASE_RATE_WPM,
    CLIP_NOISE_KINDS,
    GENERATOR_VERSION,
    PEAK_LIMIT_DBFS,
    PITCH_JITTER,
    RATE_JITTER,
    SNR_DB,
    SPEECH_RMS_DBFS,
    SyntheticConfig,
)
from ghost_keras.data.synthetic.espeak import DROPPED_VARIANTS
from ghost_keras.data.synthetic.noise import BACKGROUND_NOISE
from ghost_keras.data.synthetic.plan import Speaker


def build_manifest(
    config: SyntheticConfig,
    version: str,
    speakers: Sequence[Speaker],
    rows: Sequence[dict[str, object]],
    split_of: dict[str, str],
) -> dict[str, object]:
    """The content of ``synthetic.json``: ``rows`` are those of ``clips.csv``, ``split_of``
    maps a speaker id to its split, ``version`` is eSpeak NG's."""
    counts: dict[str, dict[str, int]] = {
        w: {"training": 0, "validation": 0, "testing": 0} for w in config.all_words
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
        "seed": config.seed,
        "sample_rate": config.sample_rate,
        "clip_samples": config.sample_rate,
        "words": list(config.words),
        "unknown_words": list(config.unknown_words),
        "clips_per_word": config.clips_per_word,
        "validation_fraction": config.validation_fraction,
        "testing_fraction": config.testing_fraction,
        "total_clips": len(rows),
        "counts": counts,
        "adjusted_clips": adjusted,
        "levels": {
            "speech_rms_dbfs": list(SPEECH_RMS_DBFS),
            "peak_limit_dbfs": PEAK_LIMIT_DBFS,
            "snr_db": list(SNR_DB),
            "clip_noise": dict(CLIP_NOISE_KINDS),
            "background_rms_dbfs": BACKGROUND_RMS_DBFS,
        },
        "speaking": {
            "base_rate_wpm": list(BASE_RATE_WPM),
            "rate_jitter": RATE_JITTER,
            "base_pitch": list(BASE_PITCH),
            "pitch_jitter": PITCH_JITTER,
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


def readme(manifest: dict[str, object]) -> str:
    """The ``README.md`` of a set, from its manifest."""
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
