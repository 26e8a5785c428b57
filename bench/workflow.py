"""Workflow scale: DAG build time of `snakemake -n` on 1,000 and 10,000 patients, and a real
50-patient run with --cores 2 (per-patient wall time). Baseline in the same run: `snakemake -n`
on the 3-patient demo (fixed start-up cost).

    python bench/workflow.py [--skip-10000]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, ROOT, save

sys.path.insert(0, str(ROOT / "tests"))
from conftest import demo_sheet  # noqa: E402


def snakemake(workdir: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile"), "--directory", str(workdir),
                    "--configfile", str(ROOT / "config/config.yaml"), "--config",
                    f"samples={workdir / 'samples.tsv'}", f"resources={ROOT / 'resources'}", *args],
                   check=True, capture_output=True, env={**os.environ, "SLURM_CONF": "/dev/null"})
    return time.perf_counter() - start


def main() -> None:
    result: dict[str, object] = {}
    sizes = [(1, 3), (334, 1002)] + ([] if "--skip-10000" in sys.argv else [(3334, 10002)])
    for copies, patients in sizes:
        work = OUT / f"dag-{patients}"
        work.mkdir(parents=True, exist_ok=True)
        demo_sheet(work / "samples.tsv", copies=copies)
        result[f"dry_run_{patients}_patients_s"] = round(snakemake(work, "-n", "--quiet", "rules"), 1)
    work = OUT / "run-51"
    work.mkdir(parents=True, exist_ok=True)
    demo_sheet(work / "samples.tsv", copies=17)  # 51 patients
    wall = snakemake(work, "--cores", "2", "--forceall")
    result |= {"real_run_51_patients_s": round(wall, 1), "per_patient_s": round(wall / 51, 2),
               "command": "python bench/workflow.py"}
    save("workflow", result)


if __name__ == "__main__":
    main()
