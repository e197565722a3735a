"""What pyproject.toml and the README promise about where the package installs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("python, admitted", [
    # TensorFlow 2.21 publishes wheels for 3.10-3.13; 3.11 is the floor CI tests.
    ("3.11", True), ("3.12", True), ("3.13", True), ("3.14", False),
])
def test_requires_python_admits_the_tensorflow_wheel_versions(python, admitted):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert SpecifierSet(project["requires-python"]).contains(python) == admitted


def test_readme_says_once_how_to_install_in_colab():
    readme = (REPO / "README.md").read_text()
    colab = [block for block in readme.split("\n\n") if "Colab" in block and "```" not in block
             and "install" in block]
    assert len(colab) == 1, colab
    after = readme[readme.index(colab[0]):]
    assert "git clone" in after[:600] and "pip install -e ." in after[:600]
