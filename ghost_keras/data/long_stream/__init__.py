"""Long test streams: keywords, unknown words and silence at random gaps in background noise.

The streaming counterpart of a clip test set (docs/design.md, "Always listening"; TensorFlow
speech_commands' ``generate_streaming_test_wav.py``): one long WAV the device front end and
model run over continuously, and its ground truth, a CSV ``label,start,end`` (seconds).

How a stream is built (:func:`make_long_stream`), everything drawn from one seeded Generator:

- Clips come only from one split of the index (``split="test"`` by default), so no speaker of
  the training data is in the stream. Each spoken item is a keyword (``keyword_fraction``), an
  unknown word (``unknown_fraction``) or a silence item (the rest). Keywords are drawn uniformly
  over the keyword labels, clips from a shuffled deck per label: a clip repeats only once its
  label's clips are used up, and then with other noise and gain.
- Items are laid one after the other after ``lead_s`` of noise, separated by gaps drawn
  uniformly from ``gap_s`` (from the end of one clip box to the start of the next), until the
  next item would not fit in ``duration_s``.
- Level: every word's *speech part* (see below) is normalised to ``speech_dbfs`` RMS, then given
  a random gain drawn uniformly in dB from ``gain_db`` (lowered if the clip would exceed 0.95 of
  full scale). The whole clip box is placed, with 10 ms raised-cosine fades at its edges.
- Noise: a continuous bed at ``speech_dbfs - snr_db`` RMS, so a word at 0 dB gain has exactly
  ``snr_db`` SNR (its own SNR is ``snr_db + gain``). The bed is cut from the split's
  ``_silence_`` clips and the ``_background_noise_`` recordings (or ``noise``): segments of
  2-8 s (or a whole shorter recording), each normalised to the same RMS and crossfaded into the
  next over 100 ms with equal-power (sine/cosine) fades. Recordings quieter than 2e-4 RMS
  (digital near-silence) are skipped. Without any noise a white-noise stand-in is used and a
  warning logged.

Truth: a keyword's or unknown word's ``start``/``end`` is the speech part of its clip, not the
1-s clip box: :func:`speech_bounds` takes 10 ms frames, smooths their power over 3 frames and
keeps the span from the first to the last frame within ``trim_db`` (30 dB) of the loudest frame
and above the clip's own noise floor (10th percentile of frame power) by a quarter of the
floor-to-peak range, whichever threshold is higher. A silence item is the 1-s span it occupies.

Which module does what: :mod:`~ghost_keras.data.long_stream.source` (the data folder and the
split the clips come from), :mod:`~ghost_keras.data.long_stream.build` (what goes where),
:mod:`~ghost_keras.data.long_stream.mix` (the audio: noise bed, speech part, placing a word),
:mod:`~ghost_keras.data.long_stream.truth` (the truth and the files),
:mod:`~ghost_keras.data.long_stream.cli` (the command line).

Command line (see ``--help``)::

    python -m ghost_keras.data.long_stream DATA_DIR --minutes 10 --out long.wav \\
        --truth truth.csv --seed 0 [--split test] [--speaker-split 0.8 0.1 0.1] [--run RUN]

Example:
    >>> from ghost_keras.data import scan
    >>> index = scan("speech_commands_v2_test12_dev", split="none").with_speaker_split(
    ...     (0.8, 0.1, 0.1), seed=0)                                      # doctest: +SKIP
    >>> audio, truth = make_long_stream(index, 600, seed=0, snr_db=10)  # doctest: +SKIP
    >>> write_stream("long.wav", "truth.csv", audio, truth)             # doctest: +SKIP
"""

from ghost_keras.data.long_stream.build import make_long_stream
from ghost_keras.data.long_stream.cli import main
from ghost_keras.data.long_stream.mix import speech_bounds
from ghost_keras.data.long_stream.source import stream_index
from ghost_keras.data.long_stream.truth import (
    TRUTH_HEADER,
    TruthFileError,
    TruthItem,
    read_truth,
    truth_csv,
    write_stream,
)

__all__ = [
    "TRUTH_HEADER",
    "TruthFileError",
    "TruthItem",
    "main",
    "make_long_stream",
    "read_truth",
    "speech_bounds",
    "stream_index",
    "truth_csv",
    "write_stream",
]
