"""Peak memory of `pgx match` and `pgx report` as variants.tsv grows: 100k, 300k and 1M variants,
a genome's mix (2% coding variants in cancer genes and pharmacogenes, taken from the annotated
exome of bench/match.py; the rest intergenic). Baseline in the same run: a Python process that
imports the same modules and reads the table without keeping it.

    python bench/memory.py
"""

from __future__ import annotations

import random
import sys

from common import OUT, measured, save

SIZES = (100_000, 300_000, 1_000_000)
SCRATCH = OUT / "memory"  # tables and reports, apart from the results run_all.py collects
BASELINE = """
import sys
import pgx.cli, pgx.match, pgx.report
from pgx.outputs import iter_tsv
print(sum(1 for _ in iter_tsv(sys.argv[1])))
"""


def genome_table(exome_rows: list[str], header: list[str], n: int, seed: int = 7) -> str:
    """A variants.tsv of `n` rows: 2% from the exome, the rest intergenic SNVs."""
    rng = random.Random(seed)
    path = SCRATCH / f"genome.{n}.variants.tsv"
    empty = ["" for _ in header]
    columns = {c: i for i, c in enumerate(header)}
    with open(path, "w") as out:
        out.write("\t".join(header) + "\n")
        for i in range(n):
            if rng.random() < 0.02:
                out.write(rng.choice(exome_rows))
                continue
            row = list(empty)
            pos = 1_000_000 + i * 37
            for name, value in (("chrom", "chr1"), ("pos", str(pos)), ("ref", "A"), ("alt", "G"),
                                ("variant_key", f"1_{pos}_A_G"), ("kind", "SNV"), ("filter", "PASS"),
                                ("depth", "60"), ("vaf", "0.3"), ("depth_source", "FORMAT/AD"), ("genotype", "0/1"),
                                ("consequence", "intergenic_variant"), ("annotation_source", "pgx")):
                row[columns[name]] = value
            out.write("\t".join(row) + "\n")
    return str(path)


def main() -> None:
    exome = OUT / "exome.variants.tsv"
    if not exome.exists():
        sys.exit("run bench/match.py first: it annotates the exome this benchmark samples from")
    lines = [line for line in exome.read_text().splitlines(keepends=True) if not line.startswith("##")]
    header, exome_rows = lines[0].rstrip("\n").split("\t"), lines[1:]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}
    for n in SIZES:
        table = genome_table(exome_rows, header, n)
        matches = str(SCRATCH / f"genome.{n}.matches.tsv")
        baseline = measured([sys.executable, "-c", BASELINE, table])
        matched = measured([sys.executable, "-m", "pgx.cli", "match", "--variants", table, "--tumor-type", "LUAD",
                            "--build", "GRCh38", "--output", matches])
        reported = measured([sys.executable, "-m", "pgx.cli", "report", "--patient", "G", "--tumor-type", "LUAD",
                             "--build", "GRCh38", "--variants", table, "--matches", matches,
                             "--output-json", str(SCRATCH / f"genome.{n}.report.json"),
                             "--output-html", str(SCRATCH / f"genome.{n}.report.html")])
        results[f"{n}_variants"] = {
            "baseline_read_mb": baseline["peak_rss_mb"], "match_mb": matched["peak_rss_mb"],
            "report_mb": reported["peak_rss_mb"], "match_s": matched["elapsed_s"], "report_s": reported["elapsed_s"],
            "baseline_read_s": baseline["elapsed_s"]}
        print(n, results[f"{n}_variants"], flush=True)
    save("memory", {**results, "command": "python bench/memory.py"})


if __name__ == "__main__":
    main()
