"""``benchmarks`` is an installed package that runs from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[1]


def test_benchmarks_is_one_of_the_installed_packages():
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = setuptools.find_packages(where=str(REPO), include=find["find"]["include"])
    assert "benchmarks" in packages, packages


@pytest.mark.parametrize("module", ["benchmarks.run", "benchmarks.report"])
def test_benchmarks_help_works_from_any_folder(tmp_path, module):
    # PYTHONPATH: the editable install may point at another checkout than this one.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
    assert list(tmp_path.iterdir()) == []  # nothing written to the current folder
