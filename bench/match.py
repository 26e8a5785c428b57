"""Matching throughput (variants/s) on an exome-sized tumor VCF: 40,000 variants inside coding
exons of cancer genes and pharmacogenes, annotated once, then matched. Baseline in the same
run: reading the annotated table back (the floor of any matcher reading our contract).

    python bench/match.py
"""

from __future__ import annotations

import random
import sys

import pysam
from common import OUT, ROOT, measured, save

READ_TABLE = """
import sys
from pgx.outputs import read_tsv
print(len(read_tsv(sys.argv[1])))
"""


def exome_vcf(path, n: int = 40_000, seed: int = 3):  # type: ignore[no-untyped-def]
    from pgx.transcripts import TranscriptIndex

    index = TranscriptIndex.load(ROOT / "resources/annotation")
    rng = random.Random(seed)
    genes = sorted(set(index.columns["gene"]))
    seen = set()
    records = []
    while len(records) < n:
        tx = index.of_gene(rng.choice(genes))
        start, end = rng.choice(tx.exons)
        pos = rng.randrange(start + 1, end + 1)
        if (tx.chrom, pos) in seen:
            continue
        seen.add((tx.chrom, pos))
        ref = rng.choice("ACGT")
        records.append((tx.chrom, pos, ref, rng.choice([b for b in "ACGT" if b != ref])))
    order = {str(i): i for i in range(1, 23)} | {"X": 23, "Y": 24}
    records.sort(key=lambda r: (order.get(r[0], 99), r[1]))
    plain = path.with_suffix("")
    with open(plain, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                  '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")
        for chrom, pos, ref, alt in records:
            out.write(f"chr{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT:AD\t0/1:40,20\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    vcf = exome_vcf(OUT / "exome.vcf.gz")
    variants = OUT / "exome.variants.tsv"
    annotated = measured([sys.executable, "-m", "pgx.cli", "annotate", "--vcf", str(vcf), "--build", "GRCh38",
                          "--output-vcf", str(OUT / "exome.annotated.vcf.gz"), "--output-tsv", str(variants)])
    read = measured([sys.executable, "-c", READ_TABLE, str(variants)])
    matched = measured([sys.executable, "-m", "pgx.cli", "match", "--variants", str(variants), "--tumor-type", "LUAD",
                        "--build", "GRCh38", "--output", str(OUT / "exome.matches.tsv")])
    n = 40_000
    save("match", {
        "variants": n, "match_s": matched["elapsed_s"], "match_variants_per_s": round(n / matched["elapsed_s"]),
        "match_peak_rss_mb": matched["peak_rss_mb"], "annotate_s": annotated["elapsed_s"],
        "baseline_read_table_s": read["elapsed_s"],
        "ratio_match_to_read": round(matched["elapsed_s"] / read["elapsed_s"], 2),
        "command": "python bench/match.py",
    })


if __name__ == "__main__":
    main()
