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
EXTRA_DIR = SHARED_DATA / "speech_commands_extra"


#: Fixtures that train (on real data, or the whole synthetic chain) or run the benchmark
#: suites; every test using one is marked ``slow``, so ``pytest -m "not slow"`` is quick.
SLOW_FIXTURES = frozenset({"exported_run", "real_run", "tiny_run", "bench"})


@pytest.hookimpl(tryfirst=True)  # before the -m selection looks at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def extra_dir() -> Path:
    """``speech_commands_extra``: 35 words, full layout, FLAC, real ``_background_noise_``."""
    return _require(EXTRA_DIR)


def copy_prepared_subset(test12_dir: Path, root: Path, counts: dict[str, int]) -> Path:
    """Copies ``counts[label]`` clips per label of the prepared 12-class folder into ``root``,
    spread over each folder (so ``_unknown_`` gets several words)."""
    for label, n in counts.items():
        (root / label).mkdir(parents=True)
        files = sorted((test12_dir / label).glob("*.wav"))
        for f in files[:: max(1, len(files) // n)][:n]:
            shutil.copy(f, root / label / f.name)
    return root


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory, test12_dir: Path) -> Path:
    """A ghost_gru trained briefly (~40% clip accuracy) on ~960 real clips, exported to int8
    (about 25 s on an idle 2-core machine)."""
    from test_firmware_helpers import assert_int8_interface

    from firmware_export.pipeline import export_run
    from ghost_keras.data import LABELS_12
    from ghost_keras.training import TrainConfig, train

    root = tmp_path_factory.mktemp("small_real_run")
    data = copy_prepared_subset(test12_dir, root / "data", {label: 80 for label in LABELS_12})
    train(TrainConfig(arch="ghost_gru", epochs=12, split_dirs=[str(data)],
                      speaker_split=[0.7, 0.15, 0.15], batch_size=32,
                      learning_rates=[5e-3, 2e-3, 5e-4], out_dir=str(root / "run")), verbose=0)
    assert_int8_interface(export_run(root / "run", calibration_clips=100).tflite_path)
    return root / "run"
