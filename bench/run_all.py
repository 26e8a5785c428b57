"""Run every benchmark and write docs/benchmarks.md.

    python bench/run_all.py [--quick]     # --quick: 200,000 records, no 10,000-patient DAG
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import OUT, ROOT, machine

BENCHES = ["annotation_agreement.py", "pharmacogenes.py", "match.py", "memory.py", "annotate.py", "workflow.py"]


def main() -> None:
    quick = "--quick" in sys.argv
    start = time.time()
    for name in [] if "--report-only" in sys.argv else BENCHES:
        args = {"annotate.py": ["200000"] if quick else [], "workflow.py": ["--skip-10000"] if quick else []}.get(name, [])
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], check=True, cwd=ROOT / "bench")
    total_file = OUT / "total_seconds.txt"
    if "--report-only" not in sys.argv:
        total_file.write_text(f"{time.time() - start:.0f}\n")
    total = total_file.read_text().strip() if total_file.exists() else "unknown"
    results = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    lines = ["# Benchmarks", "",
             f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Total time of the full run: {total} s.",
             "Reproduce: `python bench/run_all.py` (each script also runs alone). Every figure is measured "
             "in a fresh process; ratios compare with a baseline run in the same benchmark.", ""]
    lines += _anchors(results)
    for name, data in results.items():
        lines += [f"## {name}", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in data.items() if k not in ("benchmark", "machine", "date")]
        lines.append("")
    (ROOT / "docs/benchmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _anchors(results: dict[str, dict[str, object]]) -> list[str]:
    """The figures against the anchors named in the issues (measured elsewhere, quoted)."""
    out = ["## Against the anchors", ""]
    a = results.get("annotate", {})
    if a:
        threaded = next((k for k in a if k.startswith("ratio_to_cyvcf2_") and k.endswith("_threads")), None)
        best = max(float(a["ratio_to_cyvcf2"]), float(a[threaded]) if threaded else 0.0)  # type: ignore[arg-type]
        out.append(f"- annotate: {a['pgx_records_per_s']:,} records/s in one process, written output included; plain cyvcf2 "
                   f"{a['cyvcf2_records_per_s']:,}/s here (anchor: 423 k/s), bcftools view "
                   f"{a.get('bcftools_records_per_s', 0):,}/s (anchor: 1.39 M/s): ratio {a['ratio_to_cyvcf2']} of cyvcf2"
                   + (f", {a[threaded]} with --threads {threaded.split('_')[-2]}" if threaded else "")
                   + f" (target: at least 0.33, {'met' if best >= 0.33 else 'not met'}).")
    p = results.get("pharmacogenes", {})
    if p:
        out.append(f"- pharmacogenes: one real 30x WGS sample, all 19 genes, {p['one_sample_all_19_genes_real_wgs_s']} s "
                   f"(PharmCAT: 1.2-5.9 s per sample; PyPGx: about 9.5 s per gene per sample); cohort mode "
                   f"{p['cohort_per_sample_ms']} ms per sample for {p['genes']} genes, {p['samples']:,} samples in "
                   f"{p['cohort_wall_s']} s (target: under 60 s).")
    m = results.get("memory", {})
    if m:
        out += ["- memory of match and report as variants.tsv grows (peak RSS, MB; target at 1M variants: "
                "at most 300):", "", "| variants | baseline (import + read) | pgx match | pgx report |", "|---|---|---|---|"]
        for key, row in m.items():
            if key.endswith("_variants") and isinstance(row, dict):
                out.append(f"| {int(key.split('_')[0]):,} | {row['baseline_read_mb']} | {row['match_mb']} | "
                           f"{row['report_mb']} |")
        out.append("")
    w = results.get("workflow", {})
    if w:
        out.append(f"- workflow: `snakemake -n` {w.get('dry_run_1002_patients_s')} s for 1,002 patients, "
                   f"{w.get('dry_run_10002_patients_s')} s for 10,002; real run {w.get('per_patient_s')} s per patient "
                   "with --cores 2 (mostly start-up of 7 small jobs per patient).")
    return out + [""]


if __name__ == "__main__":
    main()
