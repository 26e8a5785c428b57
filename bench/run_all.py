"""Run every benchmark and write docs/benchmarks.md.

    python bench/run_all.py [--quick]     # --quick: 200,000 records, no 10,000-patient DAG
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import OUT, ROOT, machine

BENCHES = ["annotation_agreement.py", "pharmacogenes.py", "match.py", "annotate.py", "workflow.py"]


def main() -> None:
    quick = "--quick" in sys.argv
    start = time.time()
    for name in BENCHES:
        args = {"annotate.py": ["200000"] if quick else [], "workflow.py": ["--skip-10000"] if quick else []}.get(name, [])
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], check=True, cwd=ROOT / "bench")
    results = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    lines = ["# Benchmarks", "",
             f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Total time: {time.time() - start:.0f} s.",
             "Reproduce: `python bench/run_all.py` (each script also runs alone). Every figure is measured "
             "in a fresh process; ratios compare with a baseline run in the same benchmark.", ""]
    for name, data in results.items():
        lines += [f"## {name}", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in data.items() if k not in ("benchmark", "machine", "date")]
        lines.append("")
    (ROOT / "docs/benchmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
