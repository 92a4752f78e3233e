"""The notebooks in notebooks/ run end to end (at small size) and are committed without outputs."""

import glob
import os
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="running notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="running notebooks needs nbclient")
pytest.importorskip("ipykernel", reason="running notebooks needs ipykernel (the python3 kernel)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
# Per cell: a small-size cell takes seconds; a TFLite conversion, up to about a minute.
CELL_TIMEOUT = 300


def test_there_are_six_notebooks():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert names == [
        "01_quickstart.ipynb",
        "02_latent_space.ipynb",
        "03_export_and_serve.ipynb",
        "04_semi_supervised.ipynb",
        "05_tabular_anomaly.ipynb",
        "06_disentanglement.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_VAE_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # The kernel imports keras_vae from this checkout, installed or not.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # whatever a notebook leaves, pytest removes
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    assert seconds < 240, f"{os.path.basename(path)} took {seconds:.0f} s at small size"
    images = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert images, "no figure was displayed inline"
