"""Containers and conda environments install what pyproject.toml pins (they are not built
here: no container engine runs on CI)."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDENCIES = PYPROJECT["project"]["dependencies"]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ ]", spec, maxsplit=1)[0].lower()


def test_containers_install_this_package_with_its_pins() -> None:
    docker = (ROOT / "containers/Dockerfile").read_text()
    apptainer = (ROOT / "containers/pgx.def").read_text()
    for text in (docker, apptainer):
        assert "pip install --no-cache-dir /opt/pgx" in text
        assert "python:3.11" in text
        for needed in ("pyproject.toml", "src", "resources", "workflow", "Snakefile"):
            assert needed in text
    copied = set(re.findall(r"^COPY (\S+)", docker, flags=re.M)) | set(docker.split("COPY ")[1].split()[:5])
    files = {line.split()[0] for line in apptainer.split("%files")[1].split("%post")[0].splitlines() if line.strip()}
    assert {"src", "resources", "workflow", "scripts", "config"} <= copied & files


def test_conda_env_lists_the_same_pins() -> None:
    env = yaml.safe_load((ROOT / "envs/pgx.yaml").read_text())
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    # Packages the environment takes from PyPI keep pip's pin syntax.
    pip = {_name(d): d for entry in env["dependencies"] if isinstance(entry, dict) for d in entry.get("pip", [])}
    for spec in DEPENDENCIES:
        name = _name(spec)
        if name == "snakemake":
            continue  # Snakemake runs the workflow; it is not needed inside the job environment
        assert name in conda or name in pip, f"{name} missing from envs/pgx.yaml"
        if name in pip:
            assert pip[name].lower() == spec.lower(), (spec, pip[name])
            continue
        ours = re.sub(r"^[a-z0-9_.-]+", "", spec.lower()).replace("==", "=")
        assert re.sub(r"^[a-z0-9_.-]+", "", conda[name].lower()) == ours, (spec, conda[name])


def test_python_floor_is_pinned() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert any(d.startswith("snakemake>=9") and "<10" in d for d in DEPENDENCIES)
