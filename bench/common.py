"""Shared helpers: run one measured step in a fresh process, report wall time and peak RSS."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PGX_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench" / "out"


def measured(argv: list[str], env: dict[str, str] | None = None, *, one_cpu: bool = False) -> dict[str, Any]:
    """Run `argv` in a child process under /usr/bin/time-like accounting; `one_cpu`: it and
    every process it starts share one CPU (Linux), so that a figure for one core is one."""
    cpu = min(os.sched_getaffinity(0)) if one_cpu else None
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, json.dumps(argv)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False,
        preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-2000:]}")
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    stats["wall_s"] = round(wall, 3)
    return stats


# Runs the command as a grandchild and reports its peak resident memory (ru_maxrss, KiB).
_WRAPPER = """
import json, resource, subprocess, sys, time
argv = json.loads(sys.argv[1])
t = time.perf_counter()
subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"elapsed_s": round(elapsed, 3), "peak_rss_mb": round(peak / 1024, 1)}))
"""


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def save(name: str, result: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "machine": machine(), "date": time.strftime("%Y-%m-%d"), **result}
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
