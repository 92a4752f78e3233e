"""The README and the documentation say what is true: their links resolve, their examples run,
and the site with its API reference builds in strict mode."""

import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_vae

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_the_readme_is_short_and_its_links_resolve():
    text = _read(README)
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all(os.path.exists(os.path.join(ROOT, link)) for link in links), links


def test_the_readme_commands_are_what_ci_runs():
    commands = re.findall(r"```bash\n(python3 -m venv .venv && .*?)\n```", _read(README))
    assert len(commands) == 2  # the main job, then the tests
    assert commands[1] in _read(os.path.join(ROOT, ".ci", "run"))
    assert "keras-vae train --out runs/shapes" in commands[0]


@pytest.mark.slow
def test_the_readme_python_examples_run(monkeypatch, tmp_path):
    """Each example runs as written, on small data and one short epoch."""
    real_fit = keras_vae.LatentVariableModel.fit

    def short_fit(self, x=None, y=None, **kwargs):
        kwargs.update(epochs=1, steps_per_epoch=2)
        return real_fit(self, x, y, **kwargs)

    monkeypatch.setattr(keras_vae.LatentVariableModel, "fit", short_fit)
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    images, factors = keras_vae.data.shapes.generate(256, seed=0)
    namespace = {
        "table": rng.normal(size=(256, 30)).astype("float32"),
        "images": images,
        "labels": np.where(np.arange(256) < 40, factors["shape"], -1).astype("int32"),
    }
    blocks = re.findall(r"```python\n(.*?)```", _read(README), flags=re.S)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert isinstance(namespace["model"], keras_vae.VAE)
    assert os.path.isdir(tmp_path / "saved_models" / "shapes" / "1")
    assert namespace["m2"].sample(2, labels=1).shape == (2, 28, 28, 1)
    assert isinstance(
        keras.models.load_model(tmp_path / "tabular.keras", safe_mode=True), keras_vae.VAE
    )


@pytest.mark.slow
def test_the_site_and_its_api_reference_build_in_strict_mode(tmp_path):
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
    if mkdocs is None:
        pytest.skip("the docs extra is not installed: pip install -e '.[docs]'")
    result = subprocess.run(
        [
            mkdocs,
            "build",
            "--strict",
            "-f",
            os.path.join(ROOT, "docs", "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    api = _read(tmp_path / "site" / "api" / "index.html")
    for name in (
        "LatentVariableModel",
        "InverseAutoregressiveFlow",
        "MixtureOfGaussians",
        "log_likelihood",
    ):
        assert name in api, name
