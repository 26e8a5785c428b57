"""Generate a large single-sample GRCh38 VCF.gz for benchmarks (deterministic, seeded).

Positions are drawn inside MANE Select transcripts (so the annotator does real work) and
between them; FORMAT carries GT:AD:DP as most callers write it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pysam

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = {"chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555,
           "chr5": 181538259, "chr6": 170805979, "chr7": 159345973, "chr8": 145138636,
           "chr9": 138394717, "chr10": 133797422, "chr11": 135086622, "chr12": 133275309,
           "chr13": 114364328, "chr14": 107043718, "chr15": 101991189, "chr16": 90338345,
           "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
           "chr21": 46709983, "chr22": 50818468, "chrX": 156040895}


def make(path: Path, records: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    total = sum(LENGTHS.values())
    per_chrom = {c: max(1, round(records * n / total)) for c, n in LENGTHS.items()}
    diff = records - sum(per_chrom.values())
    per_chrom["chr1"] += diff
    plain = path.with_suffix("")  # .vcf
    with open(plain, "w", encoding="ascii") as out:
        out.write("##fileformat=VCFv4.2\n")
        for c, n in LENGTHS.items():
            out.write(f"##contig=<ID={c},length={n}>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                  '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
                  '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
                  "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")
        for chrom, n in per_chrom.items():
            step = LENGTHS[chrom] // (n + 1)
            for i in range(n):
                pos = step * (i + 1) + rng.randrange(step // 2 + 1)
                ref = rng.choice("ACGT")
                alt = rng.choice([b for b in "ACGT" if b != ref])
                ref_reads, alt_reads = rng.randrange(10, 90), rng.randrange(1, 60)
                out.write(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT:AD:DP\t0/1:{ref_reads},{alt_reads}:{ref_reads + alt_reads}\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    print(make(Path(sys.argv[1]), n))
