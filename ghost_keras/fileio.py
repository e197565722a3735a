"""Atomic file writes: a reader never sees a half-written output."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _create_beside(path: Path) -> tuple[int, Path]:
    """Opens a new, uniquely named temporary file in ``path``'s folder.

    Not ``tempfile.mkstemp``: it creates mode 0600, and the rename would give the output that
    mode; ``os.open`` with 0666 lets the umask decide, as for any ordinary file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The rename is atomic on POSIX and Windows, so the file is either the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as indented JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def reading(path: str | os.PathLike, fix: str) -> Iterator[None]:
    """Turns the errors of reading a truncated or corrupted file (h5py's ``OSError``, a bad
    ``.keras`` zip, broken JSON) into one ``ValueError`` line that names the file and ``fix``."""
    try:
        yield
    except (OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path} cannot be read, it is truncated or corrupted ({reason}); "
                         f"{fix}.") from error
