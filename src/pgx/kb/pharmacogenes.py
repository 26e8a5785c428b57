"""PharmCAT allele definitions, phenotype maps and CPIC/DPWG guideline rows → our own tables.

Kept: positions and alleles (VCF spelling), allele function/activity, diplotype → phenotype,
and per drug the guideline's lookup key, classification, population and its one-sentence
dosing action. Dropped: the guidelines' explanatory prose (implications, descriptions).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

# The 19 genes PharmCAT calls from a VCF.
VCF_GENES = (
    "ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP3A4", "CYP3A5", "CYP4F2",
    "DPYD", "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
)
# Genes reported only from outside calls (never inferred from a VCF here). CYP2D6 and MT-RNR1
# have phenotype data (an outside diplotype is translated); HLA results are allele positivity.
OUTSIDE_CALL_GENES = ("CYP2D6", "HLA-A", "HLA-B", "MT-RNR1")

POSITION_COLUMNS = ["gene", "chrom", "position", "rsid", "ref", "alts", "definition_version"]
ALLELE_COLUMNS = ["gene", "allele", "is_reference", "score", "definition"]
FUNCTION_COLUMNS = ["gene", "allele", "function", "activity_value"]
EXEMPTION_COLUMNS = ["gene", "rule", "value"]
DIPLOTYPE_COLUMNS = ["gene", "allele_1", "allele_2", "phenotype", "activity_score", "lookup_key"]
RECOMMENDATION_COLUMNS = [
    "source", "drug", "genes", "lookup_key", "population", "classification", "recommendation",
    "data_version",
]


def build_definitions(definition_dir: Path) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, str]]:
    positions: list[dict[str, object]] = []
    alleles: list[dict[str, object]] = []
    versions: dict[str, str] = {}
    for gene in VCF_GENES:
        data = json.loads((definition_dir / f"{gene}_translation.json").read_text())
        versions[gene] = data.get("version", "")
        variants = data["variants"]
        for v in variants:
            positions.append({
                "gene": gene, "chrom": v["chromosome"], "position": v["position"],
                "rsid": v.get("rsid") or "", "ref": v["ref"], "alts": ",".join(v["alts"]),
                "definition_version": versions[gene],
            })
        for named in data["namedAlleles"]:
            if named.get("structuralVariant"):
                continue
            parts = []
            for v, allele in zip(variants, named["alleles"], strict=True):
                if allele is None:
                    continue
                vcf_allele = v["cpicToVcfAlleleMap"].get(allele, allele)
                parts.append(f"{v['position']}={vcf_allele}")
            alleles.append({
                "gene": gene, "allele": named["name"], "is_reference": bool(named["reference"]),
                "score": named.get("score", len(parts)), "definition": ";".join(parts),
            })
    return positions, alleles, versions


def build_exemptions(exemptions_json: Path) -> list[dict[str, object]]:
    """PharmCAT's gene exceptions that change a call: positions without which the gene is not
    called (NAT2's five), and the diplotype to report when unphased data leave a known set of
    candidates (`unphasedDiplotypePriorities`, value 'candidate|candidate>pick', in order)."""
    data = json.loads(exemptions_json.read_text())
    rows: list[dict[str, object]] = []
    for gene in sorted(data):
        entry = data[gene]
        for position in entry.get("requiredPositions", []):
            rows.append({"gene": gene, "rule": "required_position", "value": position})
        for priority in entry.get("unphasedDiplotypePriorities", []):
            rows.append({"gene": gene, "rule": "unphased_priority",
                         "value": "|".join(priority["list"]) + ">" + priority["pick"]})
    return rows


def build_phenotypes(
    phenotype_dirs: list[Path],
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, str]]:
    functions: list[dict[str, object]] = []
    diplotypes: list[dict[str, object]] = []
    versions: dict[str, str] = {}
    for gene in (*VCF_GENES, "CYP2D6", "MT-RNR1"):
        stem = gene.replace("-", "_")  # PharmCAT names the file MT_RNR1.json
        path = _first_existing(
            [d / f"{stem}.json" for d in phenotype_dirs]
            + [m for d in phenotype_dirs for m in sorted(d.glob(f"cpic_{stem}.*.json"))])
        if path is None:
            continue
        data = json.loads(path.read_text())
        versions[gene] = str(data.get("version") or path.name)
        for named in data.get("namedAlleles", []):
            functions.append({
                "gene": gene, "allele": named["name"], "function": named.get("functionValue") or "",
                "activity_value": named.get("activityValue") or "",
            })
        for d in data.get("diplotypes", []):
            key = d.get("diplotypekey") or {}
            names = sorted(n for n, count in key.items() for _ in range(int(count)))
            if not names or len(names) > 2:
                continue
            diplotypes.append({
                "gene": gene, "allele_1": names[0], "allele_2": names[1] if len(names) > 1 else "",
                "phenotype": d.get("generesult") or d.get("phenotype") or "",
                "activity_score": d.get("activityScore") or "",
                "lookup_key": d.get("lookupkey") or "",
            })
    functions.sort(key=lambda r: (str(r["gene"]), str(r["allele"])))
    diplotypes.sort(key=lambda r: (str(r["gene"]), str(r["allele_1"]), str(r["allele_2"])))
    return functions, diplotypes, versions


def _first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def build_recommendations(flat_tsv: Path) -> list[dict[str, object]]:
    with open(flat_tsv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    out: list[dict[str, object]] = []
    for r in rows:
        for drug in r["drugs"].split(";") if ";" in r["drugs"] else [r["drugs"]]:
            out.append({
                "source": r["source"], "drug": drug.strip().lower(), "genes": r["genes"],
                "lookup_key": r["lookup_key"], "population": r["population"] or "general",
                "classification": r["classification"], "recommendation": r["recommendation"],
                "data_version": r["data_version"],
            })
    out.sort(key=lambda r: tuple(str(r[c]) for c in RECOMMENDATION_COLUMNS))
    return out
