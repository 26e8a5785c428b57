"""Agreement between VEP's CSQ and pgx's built-in annotator on the same transcript, per field,
on the real VEP-annotated GRCh38 tumor/normal VCF of HCC1395 (pVACtools' example).

    python bench/annotation_agreement.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from common import ROOT, SHARED, save

sys.path.insert(0, str(ROOT / "src"))
from pgx.annotate import BuiltinAnnotator, CsqParser, severity_rank  # noqa: E402
from pgx.protein import from_vep_codons  # noqa: E402
from pgx.transcripts import TranscriptIndex  # noqa: E402
from pgx.vcf import Filters, iter_variants, open_vcf  # noqa: E402

VCF = SHARED / "reference/vcf/pvactools_hcc1395/annotated.expression.vcf.gz"


def _unversioned(tx: str | None) -> str:
    return (tx or "").split(".")[0]


def measure(vcf: Path = VCF) -> dict[str, Any]:
    index = TranscriptIndex.load(ROOT / "resources/annotation")
    builtin = BuiltinAnnotator(index)
    reader = open_vcf(str(vcf))
    csq = CsqParser(reader.raw_header)
    counts: Counter[str] = Counter()
    same: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for record, columns, variants in iter_variants(str(vcf), build="GRCh38", tumor_sample=None,
                                          filters=Filters(require_pass=False), reader=reader):
        for variant in variants:
            ours = builtin.annotate(variant)
            if not ours.transcript:
                continue
            entries = [e for e in csq.entries(columns, variant, record.ALT[variant.alt_index])
                       if _unversioned(e.get("Feature")) == _unversioned(ours.transcript)]
            if not entries:
                counts["no VEP entry on the MANE transcript"] += 1
                continue
            vep = entries[0]
            counts["compared"] += 1
            vep_terms = vep["Consequence"].split("&")
            vep_worst = min(vep_terms, key=severity_rank)
            checks = {
                "gene": (vep.get("SYMBOL"), ours.gene),
                "consequence": (vep_worst, ours.consequence),
                "hgvsc": ((vep.get("HGVSc") or "").split(":")[-1] or None, ours.hgvsc),
                "exon": (vep.get("EXON", "").split("/")[0] or None, str(ours.exon) if ours.exon else None),
            }
            if ours.consequence != "coding_sequence_variant":
                checks["consequence_where_pgx_decides"] = (vep_worst, ours.consequence)
            effect = from_vep_codons(vep.get("Codons", ""), vep.get("Protein_position", ""))
            if vep.get("HGVSp") and "frameshift" not in vep_worst and vep.get("Codons"):
                # pgx's naming rule on VEP's own codons (what it does with VEP output made without --hgvs)
                checks["hgvsp_named_from_vep_codons"] = (
                    vep["HGVSp"].split(":")[-1].replace("%3D", "="), effect.hgvsp if effect else None)
            if ours.hgvsp:  # only where pgx knows the codon's bases
                checks["hgvsp"] = ((vep.get("HGVSp") or "").split(":")[-1].replace("%3D", "=") or None, ours.hgvsp)
            else:
                counts["hgvsp unknown to pgx (codon bases not bundled)"] += 1
            for field, (theirs, mine) in checks.items():
                counts[field] += 1
                if theirs == mine:
                    same[field] += 1
                elif len(examples.setdefault(field, [])) < 5:
                    examples[field].append(f"{variant.key}: VEP {theirs} / pgx {mine}")
    fields = ["gene", "consequence", "consequence_where_pgx_decides", "hgvsc", "exon", "hgvsp",
              "hgvsp_named_from_vep_codons"]
    return {
        "variants_compared": counts["compared"],
        "agreement_percent": {f: round(100 * same[f] / counts[f], 1) if counts[f] else None for f in fields},
        "compared_per_field": {f: counts[f] for f in fields},
        "not_compared": {k: v for k, v in counts.items() if k not in fields and k != "compared"},
        "disagreements_examples": examples,
        "command": "python bench/annotation_agreement.py",
    }


if __name__ == "__main__":
    if not VCF.exists():
        sys.exit(f"skip: {VCF} is absent")
    result = measure()
    save("annotation_agreement", result)
