"""Write the demo VCFs from public facts: real GRCh38 positions and alleles of well-known
cancer and pharmacogene variants. Run from the repository root:

    python demo/make_demo.py

Tumor VCFs: MEL-01 (Mutect2 style, no annotation), LUNG-01 (VEP CSQ, as VEP/sarek write it),
CRC-01 (INFO TVAF/TDP, no annotation). Germline VCFs carry a call at every pharmacogene
definition position in resources/pgx/positions.tsv (0/0 where nothing is carried), as a
PharmCAT-ready germline VCF does.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo"

GRCH38_LENGTHS = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555,
    "chr5": 181538259, "chr6": 170805979, "chr7": 159345973, "chr8": 145138636,
    "chr9": 138394717, "chr10": 133797422, "chr11": 135086622, "chr12": 133275309,
    "chr13": 114364328, "chr14": 107043718, "chr15": 101991189, "chr16": 90338345,
    "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415,
}
ORDER = {c: i for i, c in enumerate(GRCH38_LENGTHS)}

CSQ_FORMAT = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|"
    "cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|STRAND|"
    "CANONICAL|MANE_SELECT|MANE_PLUS_CLINICAL"
)


def header(extra: list[str], samples: list[str]) -> str:
    lines = ["##fileformat=VCFv4.2", "##source=pgx demo (demo/make_demo.py)", "##reference=GRCh38"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in GRCH38_LENGTHS.items()]
    lines += ['##FILTER=<ID=PASS,Description="All filters passed">']
    lines += extra
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def melanoma() -> None:
    extra = [
        '##FILTER=<ID=weak_evidence,Description="Mutation does not meet likelihood threshold">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions of alternate alleles">',
        "##tumor_sample=MEL-01-T",
        "##normal_sample=MEL-01-N",
    ]
    rows = [
        # BRAF V600E, c.1799T>A (NM_004333.6), minus strand.
        ("chr7", 140753336, "rs113488022", "A", "T", "PASS", "GT:AD:DP:AF", "0/1:112,61:173:0.353", "0/0:88,0:88:0"),
        # CDKN2A R80* c.238C>T (NM_000077.5), minus strand: a truncating passenger-or-driver.
        ("chr9", 21971121, ".", "G", "A", "PASS", "GT:AD:DP:AF", "0/1:70,31:101:0.307", "0/0:64,0:64:0"),
        # A low-evidence call the caller itself filtered.
        ("chr12", 6534512, ".", "C", "T", "weak_evidence", "GT:AD:DP:AF", "0/1:50,3:53:0.057", "0/0:45,0:45:0"),
    ]
    body = "".join("\t".join([c, str(p), i, r, a, ".", f, ".", fmt, n, t]) + "\n"
                   for c, p, i, r, a, f, fmt, t, n in rows)
    write(OUT / "MEL-01.tumor.vcf", header(extra, ["MEL-01-N", "MEL-01-T"]) + body)


def lung() -> None:
    extra = [
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: {CSQ_FORMAT}">',
        "##VEP=\"v110\" cache=\"homo_sapiens/110_GRCh38\"",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    ]

    def csq(allele: str, cons: str, tx: str, biotype: str, exon: str, hgvsc: str, hgvsp: str,
            prot: str, aa: str, codons: str, canonical: str, mane: str) -> str:
        return "|".join([allele, cons, "MODERATE", "EGFR", "ENSG00000146648", "Transcript", tx,
                         biotype, exon, "", hgvsc, hgvsp, "", "", prot, aa, codons, "", "1",
                         canonical, mane, ""])

    l858r = ",".join([
        csq("G", "missense_variant", "ENST00000275493.7", "protein_coding", "21/28",
            "ENST00000275493.7:c.2573T>G", "ENSP00000275493.2:p.Leu858Arg", "858", "L/R",
            "cTg/cGg", "YES", "NM_005228.5"),
        csq("G", "missense_variant", "ENST00000455089.5", "protein_coding", "20/26",
            "ENST00000455089.5:c.2438T>G", "ENSP00000415559.1:p.Leu813Arg", "813", "L/R",
            "cTg/cGg", "", ""),
    ])
    t790m = ",".join([
        csq("T", "missense_variant", "ENST00000275493.7", "protein_coding", "20/28",
            "ENST00000275493.7:c.2369C>T", "ENSP00000275493.2:p.Thr790Met", "790", "T/M",
            "aCg/aTg", "YES", "NM_005228.5"),
        csq("T", "missense_variant", "ENST00000455089.5", "protein_coding", "19/26",
            "ENST00000455089.5:c.2234C>T", "ENSP00000415559.1:p.Thr745Met", "745", "T/M",
            "aCg/aTg", "", ""),
    ])
    rows = [
        ("chr7", 55181378, "rs121434569", "C", "T", f"CSQ={t790m}", "0/1:140,38:178"),
        ("chr7", 55191822, "rs121434568", "T", "G", f"CSQ={l858r}", "0/1:96,80:176"),
    ]
    body = "".join("\t".join([c, str(p), i, r, a, ".", "PASS", info, "GT:AD:DP", s]) + "\n"
                   for c, p, i, r, a, info, s in rows)
    write(OUT / "LUNG-01.tumor.vcf", header(extra, ["LUNG-01-T"]) + body)


def colorectal() -> None:
    extra = [
        '##INFO=<ID=TVAF,Number=1,Type=Float,Description="Tumor allele fraction">',
        '##INFO=<ID=TDP,Number=1,Type=Integer,Description="Tumor read depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    rows = [
        # KRAS G12D, c.35G>A (NM_004985.5), minus strand.
        ("chr12", 25245350, "rs121913529", "C", "T", "TVAF=0.284;TDP=211"),
        # APC R1450* c.4348C>T (NM_000038.6), plus strand.
        ("chr5", 112839942, "rs121913224", "C", "T", "TVAF=0.41;TDP=180"),
        # TP53 R175H c.524G>A (NM_000546.6), minus strand.
        ("chr17", 7675088, "rs28934578", "C", "T", "TVAF=0.47;TDP=205"),
    ]
    rows.sort(key=lambda r: (ORDER[r[0]], r[1]))
    body = "".join("\t".join([c, str(p), i, r, a, ".", "PASS", info, "GT", "0/1"]) + "\n"
                   for c, p, i, r, a, info in rows)
    write(OUT / "CRC-01.tumor.vcf", header(extra, ["CRC-01-T"]) + body)


def germline(patient: str, carried: dict[tuple[str, int], tuple[str, str]],
             others: tuple[tuple[str, int, str, str, str, str], ...] = ()) -> None:
    """carried: (chrom, pos) → (ALT, GT) for the positions where the patient is not 0/0;
    others: further germline records (chrom, pos, id, ref, alt, gt) outside pharmacogenes."""
    with open(ROOT / "resources/pgx/positions.tsv", encoding="utf-8") as handle:
        positions = list(csv.DictReader(handle, delimiter="\t"))
    extra = ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    seen: set[tuple[str, int]] = set()
    records = []
    for p in positions:
        key = (p["chrom"], int(p["position"]))
        if key in seen:
            continue
        seen.add(key)
        alt, gt = carried.get(key, (".", "0/0"))
        records.append((key[0], key[1], p["rsid"] or ".", p["ref"], alt, gt))
    records += list(others)
    missing = set(carried) - seen
    assert not missing, f"carried positions not in the definitions: {missing}"
    records.sort(key=lambda r: (ORDER[r[0]], r[1]))
    body = "".join("\t".join([c, str(pos), rsid, ref, alt, ".", "PASS", ".", "GT", gt]) + "\n"
                   for c, pos, rsid, ref, alt, gt in records)
    write(OUT / f"{patient}.germline.vcf", header(extra, [f"{patient}-N"]) + body)


def haplotype(gene: str, allele: str) -> dict[tuple[str, int], str]:
    """The positions where a named allele differs from the gene's reference allele."""
    with open(ROOT / "resources/pgx/alleles.tsv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["gene"] == gene]
    with open(ROOT / "resources/pgx/positions.tsv", encoding="utf-8") as handle:
        chrom = next(r["chrom"] for r in csv.DictReader(handle, delimiter="\t") if r["gene"] == gene)
    parse = lambda d: dict(part.split("=", 1) for part in d.split(";") if part)  # noqa: E731
    reference = parse(next(r for r in rows if r["is_reference"] == "true")["definition"])
    defined = parse(next(r for r in rows if r["allele"] == allele)["definition"])
    return {(chrom, int(pos)): base for pos, base in defined.items()
            if base != reference.get(pos) and not (len(base) == 1 and base not in "ACGT")}


def main() -> None:
    melanoma()
    lung()
    colorectal()
    # CYP2C19*2 heterozygous: every position where *2 differs from the reference *38.
    # BRCA2 c.5946del (6174delT, rs80359550), a pathogenic founder variant, heterozygous.
    germline("MEL-01", {key: (base, "0/1") for key, base in haplotype("CYP2C19", "*2").items()},
             others=(("chr13", 32340300, "rs80359550", "GT", "G", "0/1"),))
    # TPMT*3A = *3B (rs1800460) + *3C (rs1142345), both heterozygous, unphased.
    germline("LUNG-01", {("chr6", 18130687): ("C", "0/1"), ("chr6", 18138997): ("T", "0/1")})
    # DPYD c.1905+1G>A (*2A, rs3918290) heterozygous; UGT1A1*28 (rs3064744, TA7>TA8) heterozygous.
    germline("CRC-01", {("chr1", 97450058): ("T", "0/1"), ("chr2", 233760233): ("CATAT", "0/1")})


if __name__ == "__main__":
    main()
