"""Containers and conda environments install what pyproject.toml pins (they are not built
here: no container engine runs on CI)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
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
        assert "pip install --no-cache-dir '/opt/pgx[workflow]'" in text and "pgx kb verify" in text
        assert "python:3.11" in text
        for needed in ("pyproject.toml", "src", "workflow", "config"):
            assert needed in text
        assert "PGX_RESOURCES" not in text  # the knowledge base is package data
    copied = set(re.findall(r"^COPY (\S+)", docker, flags=re.M)) | set(docker.split("COPY ")[1].split()[:5])
    files = {line.split()[0] for line in apptainer.split("%files")[1].split("%post")[0].splitlines() if line.strip()}
    assert {"src", "workflow", "config"} <= copied & files


def test_conda_env_lists_the_same_pins() -> None:
    env = yaml.safe_load((ROOT / "workflow/envs/pgx.yaml").read_text())
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    # Packages the environment takes from PyPI keep pip's pin syntax.
    pip = {_name(d): d for entry in env["dependencies"] if isinstance(entry, dict) for d in entry.get("pip", [])}
    for spec in DEPENDENCIES:
        name = _name(spec)
        assert name in conda or name in pip, f"{name} missing from workflow/envs/pgx.yaml"
        if name in pip:
            assert pip[name].lower() == spec.lower(), (spec, pip[name])
            continue
        ours = re.sub(r"^[a-z0-9_.-]+", "", spec.lower()).replace("==", "=")
        assert re.sub(r"^[a-z0-9_.-]+", "", conda[name].lower()) == ours, (spec, conda[name])


def test_python_floor_is_pinned_and_snakemake_is_the_workflow_extra() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    workflow = PYPROJECT["project"]["optional-dependencies"]["workflow"]
    assert any(d.startswith("snakemake>=9") and "<10" in d for d in workflow)
    assert any(d.startswith("snakemake-executor-plugin-slurm") for d in workflow)
    assert not any(_name(d) == "snakemake" for d in DEPENDENCIES)  # `pip install pgx`: library and CLI only


@pytest.mark.slow
def test_the_wheel_works_alone_from_any_folder(tmp_path: Path) -> None:
    """A wheel of pgx in a fresh venv, run from an empty folder: every demo patient's pgx
    commands, with the knowledge base from the wheel (no checkout, no $PGX_RESOURCES). The
    venv borrows the test environment's third-party packages (a .pth line: no download)
    but not its pgx."""
    import os
    import subprocess
    import sys
    import sysconfig
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(ROOT)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("pgx-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pgx/resources/manifest.json" in names and "pgx/resources/kb/civic/evidence.tsv" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
                                "-q", "--no-deps", str(wheel)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PGX_RESOURCES", "PYTHONPATH")}

    def pgx(*args: str) -> str:
        result = subprocess.run([str(venv / "bin/pgx"), *args], cwd=work, env=env, capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, (args, result.stderr[-1500:])
        return result.stdout + result.stderr

    where = subprocess.run([str(venv / "bin/python"), "-c", "import pgx, pgx.kb; print(pgx.__file__, pgx.kb.default_resources())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and str(venv) in where
    assert "knowledge base intact" in pgx("kb", "verify")
    for line in (ROOT / "config/samples.tsv").read_text().splitlines()[1:]:
        patient, tumor_type, tumor, germline, tumor_sample, normal_sample, build = line.split("\t")[:7]
        sample = ["--tumor-sample", tumor_sample] if tumor_sample else []
        pgx("annotate", "--vcf", str(ROOT / tumor), "--build", build, *sample, "--output-vcf", "a.vcf.gz",
            "--output-tsv", f"{patient}.variants.tsv")
        pgx("match", "--variants", f"{patient}.variants.tsv", "--tumor-type", tumor_type, "--build", build,
            "-o", f"{patient}.matches.tsv")
        pgx("diplotypes", "--vcf", str(ROOT / germline), "-o", f"{patient}.pgx.tsv", "--matches",
            f"{patient}.matches.tsv", "--output-guidance", f"{patient}.guidance.tsv")
        pgx("report", "--patient", patient, "--tumor-type", tumor_type, "--build", build, "--variants",
            f"{patient}.variants.tsv", "--matches", f"{patient}.matches.tsv", "--pharmacogenes", f"{patient}.pgx.tsv",
            "--guidance", f"{patient}.guidance.tsv", "--output-json", f"{patient}/report.json",
            "--output-html", f"{patient}/report.html")
        assert (work / patient / "report.html").stat().st_size > 10_000
