"""The ``slow`` marker: registered, and on the tests that train on real data or run notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_slow_marks_training_and_notebook_tests_only():
    files = ["tests/test_stream_training.py", "tests/test_notebooks.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--strict-markers",
         "-p", "no:cacheprovider", "-m", "slow", *files],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    selected = {line.split("::")[1].split("[")[0] for line in done.stdout.splitlines()
                if "::" in line}
    assert {"test_notebook_runs", "test_stream_training_lowers_the_per_frame_loss_and_keeps_a_"
            "clip_model"} <= selected  # uses the exported_run fixture
    assert "test_frame_targets_errors" not in selected
    assert "test_committed_notebook_is_clean_and_colab_ready" not in selected
