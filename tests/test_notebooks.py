"""The notebooks run start to finish (nbclient, small settings) and are committed without outputs.

The notebooks run in order in one temporary working folder, so 02 and 03 reuse the runs 01
trained (each also trains its own when run alone). The ``GHOST_KWS_NB_*`` environment variables
make them tiny; nothing is downloaded (the synthetic keyword set is generated once and cached,
see ``GHOST_KERAS_CACHE``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = [
    "01_train_ghostgru_kws.ipynb",
    "02_qat_and_export_tflm.ipynb",
    "03_state_redundancy.ipynb",
]
CELL_TIMEOUT_S = 600
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in IPython tracebacks

#: The CI settings: a few epochs on a small synthetic set, short streams, few clips.
TINY = {
    "GHOST_KWS_NB_EPOCHS": "2",
    "GHOST_KWS_NB_CLIPS_PER_WORD": "20",
    "GHOST_KWS_NB_QAT_EPOCHS": "1",
    "GHOST_KWS_NB_CALIBRATION_CLIPS": "50",
    "GHOST_KWS_NB_LONG_AUDIO_SECONDS": "30",
    "GHOST_KWS_NB_MAX_CLIPS": "64",
    "GHOST_KWS_NB_DOWNLOAD": "0",
}

#: Files each notebook must leave behind (relative to the runs folder).
PRODUCES = {
    "01_train_ghostgru_kws.ipynb": [
        "gru/model.keras", "gru/metrics.json", "gru/learning_curves.png",
        "ghost_gru/model.keras", "ghost_gru/confusion_matrix.png",
    ],
    "02_qat_and_export_tflm.ipynb": [
        "ghost_gru/export/model_int8.tflite",
        "ghost_gru/export/export.json", "ghost_gru/firmware/model_data.cc",
        "ghost_gru/firmware/model_settings.h", "ghost_gru/stream/long.wav",
        "ghost_gru/stream/stream_eval.json",
    ],
    "03_state_redundancy.ipynb": [
        "redundancy/gru/cosine_matrix.png", "redundancy/gru/state_values.png",
        "redundancy/gru/redundancy.json", "redundancy/gru/cosine_matrix_clustered.png",
        "redundancy/untrained_gru/redundancy.json", "redundancy/ghost_gru/cosine_matrix.png",
    ],
}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_clean_and_colab_ready(name):
    nb = _read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        assert cell.get("outputs", []) == [], f"{name}: code cell {i} has outputs"
        assert cell.get("execution_count") is None, f"{name}: code cell {i} has an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    # The parameter cell comes first (REPO_URL and the sizes), then the Colab install cell.
    assert "parameters" in code[0].metadata.get("tags", []), f"{name}: no parameters cell first"
    assert "REPO_URL" in code[0].source and "GHOST_KWS_NB_" in code[0].source
    assert '"google.colab" in sys.modules' in code[1].source and "espeak-ng" in code[1].source
    assert "%pip install" in code[1].source
    # ghost_keras before tensorflow: importing it selects tf-keras.
    source = "\n".join(c.source for c in code)
    assert source.index("import ghost_keras") < source.index("import tensorflow")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, workdir, monkeypatch, capsys):
    for key in [k for k in os.environ if k.startswith("GHOST_KWS_NB_")]:
        monkeypatch.delenv(key)
    for key, value in TINY.items():
        monkeypatch.setenv(key, value)
    runs = workdir / "runs"
    monkeypatch.setenv("GHOST_KWS_NB_OUT_DIR", str(runs))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))

    nb = _read(name)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    failure = None
    try:
        client.execute()
    except CellExecutionError as error:
        failure = ANSI.sub("", str(error))
    if failure is not None:
        pytest.fail(f"{name} failed in a cell:\n{failure}", pytrace=False)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n{name}: {seconds:.1f} s")

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    missing = [p for p in PRODUCES[name] if not (runs / p).is_file()]
    assert not missing, f"{name} did not write {missing} under {runs}"
    if name.startswith("02_"):  # the int8 model was converted from the QAT model
        export = json.loads((runs / "ghost_gru" / "export" / "export.json").read_text())
        assert export["source"] == "qat" and export["model"]["kind"] == "step", export["model"]
