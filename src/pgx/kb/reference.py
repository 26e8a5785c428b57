"""Reference tables: MANE Select transcript models and codons with known reference bases. Built from the public files in shared/data/reference into our own format.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from pgx.transcripts import CODON_TABLE, Transcript, _transcript_from_row
from pgx.vcf import bare_contig


def _rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#") or line.startswith("#CHROM")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def build_transcripts(mane_models: Path) -> list[dict[str, object]]:
    """MANE Select CDS models → our transcript table (bare contig names, sorted by position)."""
    out: list[dict[str, object]] = []
    for r in _rows(mane_models):
        out.append({
            "gene": r["name2"],
            "transcript": r["name"],
            "refseq": r["refseq_nuc"],
            "protein": r["refseq_prot"],
            "chrom": bare_contig(r["chrom"]),
            "strand": r["strand"],
            "tx_start": int(r["txStart"]),
            "tx_end": int(r["txEnd"]),
            "cds_start": int(r["cdsStart"]),
            "cds_end": int(r["cdsEnd"]),
            "exon_starts": r["exonStarts"].rstrip(","),
            "exon_ends": r["exonEnds"].rstrip(","),
        })
    return sorted(out, key=lambda t: (_chrom_order(str(t["chrom"])), t["tx_start"], t["transcript"]))


def _chrom_order(chrom: str) -> tuple[int, str]:
    return (int(chrom), "") if chrom.isdigit() else (100, chrom)


def build_codons(
    transcripts: list[dict[str, object]], hotspot_files: list[Path]
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Codons whose three reference bases are known from public hotspot alleles.

    Multi-base REF alleles in the hotspot files spell out reference bases. A codon is kept
    only when all three bases are known and they translate to the residue the file names,
    which also drops alleles that belong to another isoform than MANE Select.
    """
    by_gene = {
        str(t["gene"]): _transcript_from_row({k: str(v) for k, v in t.items()}) for t in transcripts
    }
    known: dict[tuple[str, int], str] = {}
    wanted: dict[tuple[str, int], str] = {}
    for path in hotspot_files:
        for r in _rows(path):
            gene = r.get("symbol", "")
            residue = (r.get("hgvsp") or "").removeprefix("p.")
            if not gene or len(residue) < 2 or not residue[0].isalpha():
                continue
            digits = "".join(ch for ch in residue[1:] if ch.isdigit())
            if not digits or not residue[1 : 1 + len(digits)] == digits:
                continue
            wanted[(gene, int(digits))] = residue[0].upper()
            for change in (r.get("genomic_change") or "").split(","):
                parts = change.strip().split("_")
                if len(parts) != 4 or not parts[1].isdigit():
                    continue
                chrom, pos, ref = bare_contig(parts[0]), int(parts[1]), parts[2].upper()
                for i, base in enumerate(ref):
                    if base in "ACGT":
                        known[(chrom, pos + i)] = base
    rows: list[dict[str, object]] = []
    counts = {"codons_named": len(wanted), "codons_kept": 0, "codons_unknown_bases": 0,
              "codons_other_isoform": 0}
    for (gene, codon), residue in sorted(wanted.items()):
        tx: Transcript | None = by_gene.get(gene)
        if tx is None:
            counts["codons_other_isoform"] += 1
            continue
        bases: list[str] = []
        for offset in range(3):
            g = tx.genomic_of_cds(3 * (codon - 1) + offset + 1)
            found = known.get((tx.chrom, g)) if g is not None else None
            if found is None:
                break
            base = found
            bases.append(base if tx.strand == "+" else base.translate(str.maketrans("ACGT", "TGCA")))
        if len(bases) != 3:
            counts["codons_unknown_bases"] += 1
            continue
        seq = "".join(bases)
        if CODON_TABLE[seq] != residue:
            counts["codons_other_isoform"] += 1
            continue
        rows.append({"gene": gene, "transcript": tx.transcript, "codon": codon, "ref_codon": seq,
                     "amino_acid": residue, "source": "cancerhotspots v2 via cacao"})
        counts["codons_kept"] += 1
    return rows, counts


HOTSPOT_COLUMNS = ["gene", "codon", "ref_aa", "source"]


def build_hotspots(transcripts: list[dict[str, object]], hotspot_file: Path) -> list[dict[str, object]]:
    """Every cancerhotspots codon by its number (gene, codon, reference residue), whether or not
    its reference bases are known: the codon number of a coding SNV follows from the MANE model
    without sequence. Genes without a MANE Select transcript are left out."""
    genes = {str(t["gene"]) for t in transcripts}
    found: dict[tuple[str, int], str] = {}
    for r in _rows(hotspot_file):
        residue = (r.get("hgvsp") or "").removeprefix("p.")
        digits = "".join(ch for ch in residue[1:] if ch.isdigit())
        if r.get("symbol") in genes and residue[:1].isalpha() and digits and residue[1 : 1 + len(digits)] == digits:
            found[(r["symbol"], int(digits))] = residue[0].upper()
    return [{"gene": g, "codon": c, "ref_aa": aa, "source": "cancerhotspots v2 via cacao"}
            for (g, c), aa in sorted(found.items())]
