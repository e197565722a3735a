"""A stream's ground truth (:class:`TruthItem`) and its files: the truth CSV ``label,start,end``
(seconds) that :func:`read_truth` checks line by line, and :func:`write_stream`, which writes
the WAV, the CSV and an optional JSON manifest.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ghost_keras.data.audio import write_wav
from ghost_keras.fileio import atomic_write_json, atomic_write_text

__all__ = ["TRUTH_HEADER", "TruthFileError", "TruthItem", "read_truth", "truth_csv", "write_stream"]

#: The ground-truth CSV's header, exactly.
TRUTH_HEADER = ("label", "start", "end")


class TruthFileError(ValueError):
    """A ground-truth CSV that cannot be read; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class TruthItem:
    """One ground-truth item of a stream.

    Attributes:
        label: a keyword, ``_unknown_`` or ``_silence_``.
        start: seconds from the start of the stream (the speech part's first sample).
        end: seconds (one past the speech part's last sample).
        source: the clip file (generator only; not in the CSV).
        word: what was said (the unknown word for ``_unknown_``; generator only).
        offset: first sample of the placed clip box in the stream (generator only).
        length: samples of the placed clip box (generator only).
        gain: linear factor applied to the clip's float samples (generator only).
    """

    label: str
    start: float
    end: float
    source: str | None = None
    word: str | None = None
    offset: int | None = None
    length: int | None = None
    gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, generator metadata included (the JSON manifest's items)."""
        return dataclasses.asdict(self)



def truth_csv(truth: Sequence[TruthItem]) -> str:
    """The CSV text of ``truth``: header ``label,start,end``, seconds with 6 decimals
    (sample-exact at 16 kHz)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRUTH_HEADER)
    for item in truth:
        writer.writerow([item.label, f"{item.start:.6f}", f"{item.end:.6f}"])
    return buffer.getvalue()


def write_stream(
    wav_path: str | os.PathLike,
    csv_path: str | os.PathLike,
    audio: np.ndarray,
    truth: Sequence[TruthItem],
    sample_rate: int = 16000,
    manifest_path: str | os.PathLike | None = None,
    manifest: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Writes the stream WAV (16-bit PCM) and its truth CSV, each atomically.

    Args:
        manifest_path: optional JSON with ``manifest`` (e.g. the generation parameters) and
            every item with its generator metadata (source clip, offset, gain).

    Returns:
        ``(wav_path, csv_path)``.
    """
    wav = write_wav(wav_path, np.asarray(audio), sample_rate)
    csv_out = atomic_write_text(csv_path, truth_csv(truth))
    if manifest_path is not None:
        atomic_write_json(manifest_path, {
            **(manifest or {}), "sample_rate": sample_rate, "samples": int(len(audio)),
            "wav": str(wav), "truth": str(csv_out), "items": [t.to_dict() for t in truth],
        })
    return wav, csv_out


def read_truth(
    path: str | os.PathLike, labels: Sequence[str] | None = None
) -> list[TruthItem]:
    """Reads a ground-truth CSV (header ``label,start,end``, times in seconds).

    Args:
        path: the CSV file.
        labels: if given, every label must be one of them (e.g. the model's labels).

    Returns:
        The items in file order (blank lines skipped).

    Raises:
        FileNotFoundError: no such file.
        TruthFileError: missing/other header, wrong number of fields, a time that is not a
            finite number >= 0, ``end < start``, an empty or unknown label; the message names
            the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such truth file (make one with "
                                "`python -m ghost_keras.data.long_stream`)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TruthFileError(f"{path}: not a UTF-8 text file ({e}); expected a CSV with the "
                             "header 'label,start,end'") from e
    rows = list(csv.reader(io.StringIO(text)))
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    want = ",".join(TRUTH_HEADER)
    if not numbered or [c.strip().lower() for c in numbered[0][1]] != list(TRUTH_HEADER):
        got = ",".join(numbered[0][1]) if numbered else "an empty file"
        raise TruthFileError(
            f"{path}: missing header: the first line must be '{want}' (label, start and end in "
            f"seconds), got {got!r}"
        )
    items = []
    for line, row in numbered[1:]:
        where = f"{path}, line {line}"
        if len(row) != 3:
            raise TruthFileError(f"{where}: expected 3 fields ({want}), got {len(row)}: {row}")
        label, start_s, end_s = (cell.strip() for cell in row)
        if not label:
            raise TruthFileError(f"{where}: empty label")
        if labels is not None and label not in labels:
            raise TruthFileError(
                f"{where}: unknown label {label!r}; the labels are {list(labels)}"
            )
        times = []
        for name, value in (("start", start_s), ("end", end_s)):
            try:
                t = float(value)
            except ValueError:
                raise TruthFileError(
                    f"{where}: {name}={value!r} is not a number (seconds)") from None
            if not math.isfinite(t) or t < 0:
                raise TruthFileError(f"{where}: {name}={value!r} must be a finite number >= 0")
            times.append(t)
        if times[1] < times[0]:
            raise TruthFileError(f"{where}: end {times[1]} is before start {times[0]}")
        items.append(TruthItem(label, times[0], times[1]))
    return items
