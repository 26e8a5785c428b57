"""Generate a large single-sample GRCh38 VCF.gz for benchmarks (deterministic, seeded).

Positions are drawn inside MANE Select transcripts (so the annotator does real work) and
between them; FORMAT carries GT:AD:DP as most callers write it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

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


MUTECT2_HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=base_qual,Description="alt median base quality">
##FILTER=<ID=clustered_events,Description="Clustered events observed in the tumor">
##FILTER=<ID=germline,Description="Evidence indicates this site is germline, not somatic">
##FILTER=<ID=haplotype,Description="Variant near filtered variant on same haplotype.">
##FILTER=<ID=map_qual,Description="ref - alt median mapping quality">
##FILTER=<ID=multiallelic,Description="Site filtered because too many alt alleles pass tumor LOD">
##FILTER=<ID=normal_artifact,Description="artifact_in_normal">
##FILTER=<ID=slippage,Description="Site filtered due to contraction of short tandem repeat region">
##FILTER=<ID=strand_bias,Description="Evidence for alt allele comes from one read direction only">
##FILTER=<ID=weak_evidence,Description="Mutation does not meet likelihood threshold">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles in the order listed">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions of alternate alleles in the tumor">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads with MQ=255 or with bad mates are filtered)">
##FORMAT=<ID=F1R2,Number=R,Type=Integer,Description="Count of reads in F1R2 pair orientation supporting each allele">
##FORMAT=<ID=F2R1,Number=R,Type=Integer,Description="Count of reads in F2R1 pair orientation supporting each allele">
##FORMAT=<ID=FAD,Number=R,Type=Integer,Description="Count of fragments supporting each allele.">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=SB,Number=4,Type=Integer,Description="Per-sample component statistics which comprise the Fisher's Exact Test to detect strand bias.">
##INFO=<ID=AS_SB_TABLE,Number=1,Type=String,Description="Allele-specific forward/reverse read counts for strand bias tests.">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads may have been filtered">
##INFO=<ID=ECNT,Number=1,Type=Integer,Description="Number of events in this haplotype">
##INFO=<ID=GERMQ,Number=1,Type=Integer,Description="Phred-scaled quality that alt alleles are not germline variants">
##INFO=<ID=MBQ,Number=R,Type=Integer,Description="median base quality by allele">
##INFO=<ID=MFRL,Number=R,Type=Integer,Description="median fragment length by allele">
##INFO=<ID=MMQ,Number=R,Type=Integer,Description="median mapping quality by allele">
##INFO=<ID=MPOS,Number=A,Type=Integer,Description="median distance from end of read">
##INFO=<ID=NALOD,Number=A,Type=Float,Description="Negative log 10 odds of artifact in normal with same allele fraction as tumor">
##INFO=<ID=NLOD,Number=A,Type=Float,Description="Normal log 10 likelihood ratio of diploid het or hom alt genotypes">
##INFO=<ID=POPAF,Number=A,Type=Float,Description="negative log 10 population allele frequencies of alt alleles">
##INFO=<ID=RPA,Number=R,Type=Integer,Description="Number of times tandem repeat unit is repeated, for each allele (including reference)">
##INFO=<ID=RU,Number=1,Type=String,Description="Tandem repeat unit (bases)">
##INFO=<ID=STR,Number=0,Type=Flag,Description="Variant is a short tandem repeat">
##INFO=<ID=STRQ,Number=1,Type=Integer,Description="Phred-scaled quality that alt alleles in STRs are not polymerase slippage errors">
##INFO=<ID=TLOD,Number=A,Type=Float,Description="Log 10 likelihood ratio score of variant existing versus not existing">
##MutectVersion=2.2
##normal_sample=NORMAL
##source=Mutect2
##tumor_sample=TUMOR
"""
_FILTERS = ["weak_evidence", "germline", "strand_bias", "normal_artifact", "clustered_events", "base_qual",
            "map_qual", "slippage", "haplotype", "weak_evidence;strand_bias", "germline;normal_artifact"]


def make_mutect2(path: Path, records: int, seed: int = 13) -> Path:
    """A tumor/normal VCF as GATK Mutect2 + FilterMutectCalls write it: Mutect2's INFO and
    FORMAT fields, 40% of records filtered, 10% indels (1-10 bases), 3% multi-allelic."""
    rng = random.Random(seed)
    total = sum(LENGTHS.values())
    per_chrom = {c: max(1, round(records * n / total)) for c, n in LENGTHS.items()}
    per_chrom["chr1"] += records - sum(per_chrom.values())
    plain = path.with_suffix("")
    with open(plain, "w", encoding="ascii") as out:
        out.write(MUTECT2_HEADER)
        for c, n in LENGTHS.items():
            out.write(f"##contig=<ID={c},length={n}>\n")
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n")
        for chrom, n in per_chrom.items():
            step = LENGTHS[chrom] // (n + 1)
            for i in range(n):
                pos = step * (i + 1) + rng.randrange(step // 2 + 1)
                ref = rng.choice("ACGT")
                kind = rng.random()
                if kind < 0.05:  # deletion
                    ref += "".join(rng.choice("ACGT") for _ in range(rng.randrange(1, 11)))
                    alts = [ref[0]]
                elif kind < 0.10:  # insertion
                    alts = [ref + "".join(rng.choice("ACGT") for _ in range(rng.randrange(1, 11)))]
                else:
                    alts = [rng.choice([b for b in "ACGT" if b != ref])]
                multi = rng.random() < 0.03
                if multi:
                    alts.append(rng.choice([b for b in "ACGT" if b != ref[0] and b not in alts]) + ref[1:])
                n_alt = len(alts)
                ref_t, alt_t = rng.randrange(10, 90), [rng.randrange(1, 60) for _ in alts]
                ref_n, alt_n = rng.randrange(10, 60), [rng.randrange(0, 2) for _ in alts]
                depth_t, depth_n = ref_t + sum(alt_t), ref_n + sum(alt_n)
                filters = "multiallelic" if multi else ("PASS" if rng.random() < 0.6 else rng.choice(_FILTERS))

                def per_alt(make: Any, n: int = n_alt) -> str:
                    return ",".join(make() for _ in range(n))
                info = (f"AS_SB_TABLE={ref_t // 2},{ref_t - ref_t // 2}|{'|'.join(f'{a // 2},{a - a // 2}' for a in alt_t)};"
                        f"DP={depth_t + depth_n};ECNT={rng.randrange(1, 4)};GERMQ={rng.randrange(1, 94)};"
                        f"MBQ={','.join(['20'] * (n_alt + 1))};MFRL={','.join(str(rng.randrange(140, 400)) for _ in range(n_alt + 1))};"
                        f"MMQ={','.join(['60'] * (n_alt + 1))};MPOS={per_alt(lambda: str(rng.randrange(5, 50)))};"
                        f"NALOD={per_alt(lambda: f'{rng.uniform(-1, 3):.3f}')};NLOD={per_alt(lambda: f'{rng.uniform(0, 12):.2f}')};"
                        f"POPAF={per_alt(lambda: f'{rng.uniform(1, 7):.2f}')};TLOD={per_alt(lambda: f'{rng.uniform(3, 300):.2f}')}")
                gt_t = "0/1" if n_alt == 1 else "0/1/2"
                fraction = ",".join(f"{a / depth_t:.3f}" for a in alt_t)
                tumor = (f"{gt_t}:{ref_t},{','.join(map(str, alt_t))}:{fraction}:{depth_t}:"
                         f"{ref_t // 2},{','.join(str(a // 2) for a in alt_t)}:{ref_t - ref_t // 2},{','.join(str(a - a // 2) for a in alt_t)}:"
                         f"{ref_t},{','.join(map(str, alt_t))}:{ref_t // 2},{ref_t - ref_t // 2},{alt_t[0] // 2},{alt_t[0] - alt_t[0] // 2}")
                normal = (f"{'0/0' if n_alt == 1 else '0/0/0'}:{ref_n},{','.join(map(str, alt_n))}:"
                          f"{','.join(f'{a / depth_n:.3f}' for a in alt_n)}:{depth_n}:"
                          f"{ref_n // 2},{','.join('0' for _ in alt_n)}:{ref_n - ref_n // 2},{','.join(map(str, alt_n))}:"
                          f"{ref_n},{','.join(map(str, alt_n))}:{ref_n // 2},{ref_n - ref_n // 2},0,{alt_n[0]}")
                out.write(f"{chrom}\t{pos}\t.\t{ref}\t{','.join(alts)}\t.\t{filters}\t{info}\t"
                          f"GT:AD:AF:DP:F1R2:F2R1:FAD:SB\t{normal}\t{tumor}\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path
