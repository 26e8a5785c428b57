"""The demo workflow through a real SLURM scheduler (snakemake-executor-plugin-slurm)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import RESOURCES, ROOT, SNAKEMAKE, demo_sheet

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pytest.importorskip("snakemake_executor_plugin_slurm")
    import slurm_cluster

    try:
        instance = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except slurm_cluster.ClusterUnavailable as exc:
        pytest.skip(str(exc))
    yield instance
    instance.stop()


def test_demo_runs_through_slurm_and_matches_the_local_run(cluster, demo_run: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo_sheet(tmp_path / "samples.tsv")
    timeout = shutil.which("timeout")
    command = [timeout, "-k", "10", "400"] if timeout else []
    result = subprocess.run(
        [*command, *SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(ROOT / "config/config.yaml"),
         "--config", f"samples={tmp_path / 'samples.tsv'}", f"resources={RESOURCES}",
         "--executor", "slurm", "--jobs", "6", "--slurm-no-account", "--slurm-status-command", "squeue",
         "--slurm-init-seconds-before-status-checks", "2", "--default-resources", "slurm_partition=debug",
         "--latency-wait", "5", "--seconds-between-status-checks", "2",
         "--groups", "annotate=patient", "match=patient", "pharmacogenomics=patient", "germline_findings=patient", "report=patient"],
        capture_output=True, text=True, env=cluster.env, timeout=450, check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    slurm_ids = set(re.findall(r"SLURM (?:run )?ID:? ?(\d+)|jobid (\d+)|job ID (\d+)", log, flags=re.I))
    submitted = re.findall(r"submitted with SLURM jobid (\d+)|SLURM jobid (\d+)", log, flags=re.I)
    assert submitted or slurm_ids, log[-3000:]
    controller_log = (cluster.folder / "log/slurmctld.log").read_text()
    # One job per patient (its steps grouped) and the cohort summary.
    assert len(re.findall(r"_job_complete: JobId=\d+ done", controller_log)) >= 4, controller_log[-2000:]
    for patient in ("MEL-01", "LUNG-01", "CRC-01"):
        for name in ("matches.tsv", "pharmacogenes.tsv", "guidance.tsv", "variants.tsv"):
            assert (tmp_path / "results" / patient / name).read_bytes() == (demo_run / patient / name).read_bytes()
        ours = json.loads((tmp_path / "results" / patient / "report.json").read_text())
        local = json.loads((demo_run / patient / "report.json").read_text())
        ours.pop("generated_at"), local.pop("generated_at")
        assert ours == local
