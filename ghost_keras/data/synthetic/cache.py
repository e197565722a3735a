"""The synthetic set cache: one folder per :class:`SyntheticConfig`, generated once, then reused."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ghost_keras.data.synthetic.config import GENERATOR_VERSION, SyntheticConfig
from ghost_keras.data.synthetic.writer import generate_dataset

__all__ = ["default_dataset_dir", "ensure_dataset"]


def _cache_root() -> Path:
    env = os.environ.get("GHOST_KERAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ghost-keras"


def default_dataset_dir(config: SyntheticConfig | None = None, **params: Any) -> Path:
    """Cache folder of the synthetic dataset with these parameters.

    ``<root>/synthetic-v<GENERATOR_VERSION>-<12 hex digits of a hash of the parameters>``, where
    the root is ``$GHOST_KERAS_CACHE`` if set, else ``$XDG_CACHE_HOME/ghost-keras`` or
    ``~/.cache/ghost-keras``. The hash is of :meth:`SyntheticConfig.cache_key`.

    Args:
        config, params: As for :func:`generate_dataset` (``workers`` never changes the data).

    Returns:
        The folder (which may not exist yet).

    Raises:
        TypeError, ValueError: parameters that :class:`SyntheticConfig` refuses.

    Example:
        >>> default_dataset_dir(seed=0).name  # doctest: +SKIP
        'synthetic-v1-3f0c9a1b2d4e'
    """
    key = SyntheticConfig.of(config, **params).cache_key()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return _cache_root() / f"synthetic-v{GENERATOR_VERSION}-{digest}"


def ensure_dataset(
    config: SyntheticConfig | None = None,
    *,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> Path:
    """The synthetic dataset for these parameters: generated once, then reused from the cache.

    The folder is :func:`default_dataset_dir` of the same parameters. It only ever appears
    complete (generation runs in a temporary folder renamed at the end), so an existing folder
    is reused as is; two processes racing to make it both generate, and the second keeps the
    first one's result.

    Args:
        config, workers, progress, params: As for :func:`generate_dataset`.

    Returns:
        Path of the dataset root.

    Example:
        >>> root = ensure_dataset(seed=0)  # doctest: +SKIP
        >>> (root / "validation_list.txt").is_file()  # doctest: +SKIP
        True
    """
    config = SyntheticConfig.of(config, **params)
    out = default_dataset_dir(config)
    if (out / "synthetic.json").is_file():
        return out
    try:
        return generate_dataset(out, config, workers=workers, progress=progress)
    except FileExistsError:
        if (out / "synthetic.json").is_file():  # another process finished it first
            return out
        raise
