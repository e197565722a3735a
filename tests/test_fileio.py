"""Atomic writes: ordinary permissions, temporary file beside the output, nothing left over."""

from __future__ import annotations

import os
import stat

import pytest

from ghost_keras import fileio


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_atomic_write_mode_follows_umask(tmp_path, mask, mode):
    previous = os.umask(mask)
    try:
        path = fileio.atomic_write_json(tmp_path / "out" / "metrics.json", {"a": 1})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_atomic_write_renames_from_the_same_folder(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renames.append((os.path.dirname(src), os.path.dirname(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", recording_replace)
    fileio.atomic_write_text(tmp_path / "a.txt", "old")
    fileio.atomic_write_text(tmp_path / "a.txt", "new")
    assert renames == [(str(tmp_path), str(tmp_path))] * 2
    assert (tmp_path / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
