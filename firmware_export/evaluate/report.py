"""Text tables of a streaming evaluation's result
(:func:`~firmware_export.evaluate.stream_eval.stream_eval`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if j else str(c).ljust(w)  # noqa: E731
                               for j, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def format_table(result: dict[str, Any]) -> str:
    """The text :func:`print_table` prints."""
    rec = result["recognizer"]
    c = result["truth_counts"]
    lines = [
        f"stream {result.get('wav') or '(array)'}: {result['audio_seconds'] / 60:.1f} min, "
        f"{c['keywords']} keywords, {c['unknown']} unknown words, {c['silence']} silence items",
        f"recognizer: p > {rec['detection_probability']} (score > {rec['detection_threshold']}), "
        f"average {rec['average_window_ms']} ms, suppression {rec['suppression_ms']} ms, "
        f"minimum {rec['minimum_count']}; tolerance {result['tolerance_ms']} ms after the word",
        "",
    ]
    header = ("run", "hits", "miss", "wrong", "FRR", "FA", "FA/h", "1st/2nd FRR", "1st/2nd FA/h",
              "MMAC/s", "host ms/s")
    rows = []
    for name, r in result["runs"].items():
        m, cost = r["metrics"], r["cost"]
        parts = m["by_part"]
        rows.append((
            name, f"{m['hits']}/{m['targets']}", m["misses"], m["wrong_label"], _pct(m["frr"]),
            m["false_accepts"], _num(m["fa_per_hour"]),
            "/".join(_pct(p["frr"]) for p in parts),
            "/".join(_num(p["fa_per_hour"], "{:.0f}") for p in parts),
            _num(None if cost["macs_per_s"] is None else cost["macs_per_s"] / 1e6, "{:.2f}"),
            _num(cost["host_ms_per_s"], "{:.2f}"),
        ))
    lines.append(_table(header, rows))
    for name, agree in result.get("agreement", {}).items():
        a, d = agree["argmax"], agree["detections"]
        lines.append(f"{name}: frame argmax agree {_pct(a['agreement'])} of {a['frames']} frames; "
                     f"detections both {d['both']}, only first {d['only_a']}, only second "
                     f"{d['only_b']} ({_pct(d['agreement'])})")
    first = next(iter(result["runs"]))
    per_kw = result["runs"][first]["metrics"]["per_keyword"]
    if per_kw:
        lines += ["", f"{first} per keyword:"]
        lines.append(_table(("keyword", "hits", "miss", "wrong", "FRR", "FA"), [
            (k, f"{v['hits']}/{v['targets']}", v["misses"], v["wrong_label"], _pct(v["frr"]),
             v["false_accepts"]) for k, v in per_kw.items()]))
    for name, r in result["runs"].items():
        if r.get("det"):
            lines += ["", f"{name} DET: " + ", ".join(
                f"p{d['probability']:g}: FRR {_pct(d['frr'])} FA/h {_num(d['fa_per_hour'])}"
                for d in r["det"])]
    return "\n".join(lines)


def print_table(result: dict[str, Any], file: TextIO | None = None) -> None:
    """Prints the per-run table (hits, misses, wrong labels, FRR, FA, FA/h, first/second half,
    MACs and host time per second of audio), agreement, per-keyword counts and the DET."""
    print(format_table(result), file=file or sys.stdout)
