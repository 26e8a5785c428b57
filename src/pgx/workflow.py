"""Running one `pgx` sub-command from a Snakemake script, logging to the rule's log file."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pgx.cli import main


def run_step(snakemake: Any, argv: list[str]) -> None:
    """Run `pgx <argv>`; its messages go to the rule's log; a failure fails the job."""
    log = Path(snakemake.log[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle, contextlib.redirect_stderr(handle), \
            contextlib.redirect_stdout(handle):
        code = main(["--progress", *argv])  # a long job's log shows it moving
    if code:
        message = log.read_text(encoding="utf-8").strip().splitlines()
        raise SystemExit(message[-1] if message else f"pgx {argv[0]} failed")


def reference_options(references: dict[str, str], build: str) -> list[str]:
    """`--reference BUILD=FASTA` for each configured genome a VCF of `build` reads: its own
    build's (REF checks) and GRCh38's (protein changes on the GRCh38 models)."""
    options = []
    for name in genome_builds(build):
        if references.get(name):
            options += ["--reference", f"{name}={references[name]}"]
    return options


def genome_builds(build: str) -> list[str]:
    return [build] if build == "GRCh38" else [build, "GRCh38"]


def genome_files(references: dict[str, str], build: str) -> list[str]:
    """The configured FASTA files, with their indexes, that a VCF of `build` reads."""
    files = []
    for name in genome_builds(build):
        path = references.get(name)
        if path:
            files += [path, f"{path}.fai", *([f"{path}.gzi"] if path.endswith(".gz") else [])]
    return files


def optional(flag: str, value: object) -> list[str]:
    """`[flag, value]` when the value is set, else nothing."""
    if value in (None, "", False):
        return []
    if value is True:
        return [flag]
    return [flag, str(value)]
