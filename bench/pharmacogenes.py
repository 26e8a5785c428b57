"""Pharmacogenes at cohort scale: the 3,202-sample 1000 Genomes panel, 13 genes, one pass;
and one sample. Baseline in the same run: reading the same records and genotypes with plain
cyvcf2 (the floor any caller on cyvcf2 pays).

    python bench/pharmacogenes.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import ROOT, SHARED, measured, save

GENES = ["CYP2B6", "CYP2C19", "CYP2C9", "CYP3A5", "CYP4F2", "G6PD", "NAT2", "NUDT15",
         "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]


def pgx(vcf: Path, gene: str, out: Path, sample: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "pgx.cli", "diplotypes", "--vcf", str(vcf), "--gene", gene,
            "--missing-as-reference", "--output", str(out)]
    return argv + (["--sample", sample] if sample else [])


BASELINE = """
import sys
from cyvcf2 import VCF
n = 0
for path in sys.argv[1:]:
    for v in VCF(path):
        n += int(v.genotype.array().sum() >= 0)
print(n)
"""


def main() -> None:
    panel = SHARED / "pgx/1kgp/GRCh38"
    if not panel.is_dir():
        sys.exit(f"skip: {panel} is absent")
    # The panel has 13 genes; CYP2D6 is never called from a VCF here (outside calls only),
    # so 12 are timed. DPYD exists only as a GRCh37 panel, which the GRCh38 definitions refuse.
    files = [panel / f"{g}.vcf.gz" for g in GENES]
    out = ROOT / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    baseline = measured([sys.executable, "-c", BASELINE, *map(str, files)])
    cohort = {"elapsed_s": 0.0, "peak_rss_mb": 0.0}
    single = {"elapsed_s": 0.0, "peak_rss_mb": 0.0}
    for gene, vcf in zip(GENES, files, strict=True):
        r = measured(pgx(vcf, gene, out / f"pgx-{gene}.tsv"))
        cohort["elapsed_s"] += r["elapsed_s"]
        cohort["peak_rss_mb"] = max(cohort["peak_rss_mb"], r["peak_rss_mb"])
        s = measured(pgx(vcf, gene, out / f"pgx-{gene}-one.tsv", sample="NA12878"))
        single["elapsed_s"] += s["elapsed_s"]
        single["peak_rss_mb"] = max(single["peak_rss_mb"], s["peak_rss_mb"])
    wgs = SHARED / "pgx/getrm-wgs/getrm3_pgx_genes.vcf.bgz"
    all_genes = measured([sys.executable, "-m", "pgx.cli", "diplotypes", "--vcf", str(wgs),
                          "--sample", "NA18526", "--output", str(out / "pgx-getrm.tsv")])
    samples = 3202
    save("pharmacogenes", {
        "genes": len(GENES), "samples": samples,
        "cohort_wall_s": round(cohort["elapsed_s"], 2),
        "cohort_per_sample_ms": round(1000 * cohort["elapsed_s"] / samples, 2),
        "cohort_peak_rss_mb": cohort["peak_rss_mb"],
        "one_sample_wall_s": round(single["elapsed_s"], 2),
        "one_sample_peak_rss_mb": single["peak_rss_mb"],
        "one_sample_all_19_genes_real_wgs_s": all_genes["elapsed_s"],
        "one_sample_all_19_genes_peak_rss_mb": all_genes["peak_rss_mb"],
        "baseline_plain_cyvcf2_read_s": baseline["elapsed_s"],
        "ratio_cohort_to_baseline": round(cohort["elapsed_s"] / baseline["elapsed_s"], 2),
        "command": "python bench/pharmacogenes.py",
    })


if __name__ == "__main__":
    main()
