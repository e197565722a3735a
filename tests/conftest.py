"""Shared fixtures: the real Speech Commands recordings beside the checkout, and quiet TF."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import ghost_keras  # noqa: F401  (selects tf-keras before anything imports tensorflow)

SHARED_DATA = Path(
    os.environ.get(
        "GHOST_KERAS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
TEST12_DIR = SHARED_DATA / "speech_commands_v2_test12_dev"
MINI_DIR = SHARED_DATA / "mini_speech_commands_flac"


def _require(path: Path) -> Path:
    if path.is_dir():
        return path
    reason = (
        f"real Speech Commands data not found at {path} "
        "(set GHOST_KERAS_SHARED_DATA to the folder that holds it)"
    )
    # CI always has the data: there a missing folder is a failure, never a quiet skip.
    if os.environ.get("GHOST_KERAS_REQUIRE_DATA") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def test12_dir() -> Path:
    """``speech_commands_v2_test12_dev``: 12-class prepared layout, WAV (read-only)."""
    return _require(TEST12_DIR)


@pytest.fixture(scope="session")
def mini_dir() -> Path:
    """``mini_speech_commands_flac``: 8 keywords, FLAC, one folder per word (read-only)."""
    return _require(MINI_DIR)


def copy_prepared_subset(test12_dir: Path, root: Path, counts: dict[str, int]) -> Path:
    """Copies ``counts[label]`` clips per label of the prepared 12-class folder into ``root``,
    spread over each folder (so ``_unknown_`` gets several words)."""
    for label, n in counts.items():
        (root / label).mkdir(parents=True)
        files = sorted((test12_dir / label).glob("*.wav"))
        for f in files[:: max(1, len(files) // n)][:n]:
            shutil.copy(f, root / label / f.name)
    return root
