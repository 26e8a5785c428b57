"""Across patients: actionable-gene matrix, matches by level and tumor type, phenotype shares."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from pgx.errors import PgxInputError
from pgx.outputs import read_json, write_text_atomic, write_tsv_atomic
from pgx.report import _environment

SUMMARY_COLUMNS = [
    "patient", "tumor_type", "best_level", "therapies_to_discuss", "conflicting_therapies",
    "actionable_genes", "germline_findings", "therapy_matches", "resistance_or_no_benefit",
    "pharmacogene_cautions", "dpyd_phenotype", "pharmacogenes_called", "pharmacogenes_tested", "report",
]


def summarise(report_paths: list[str], out_tsv: str, out_html: str) -> dict[str, Any]:
    patients: list[dict[str, Any]] = []
    genes: Counter[str] = Counter()
    by_level_and_type: Counter[tuple[str, str]] = Counter()
    phenotypes: dict[str, Counter[str]] = {}
    for path in sorted(report_paths):
        report = read_json(path, "report.json")
        try:
            sens = report["therapeutic"]["sensitivity"]
            therapies = report.get("therapies", {"to_discuss": [], "resistance": [], "other": []})
            code = report["patient"]["tumor_type"]["code"]
            # The best level a therapy the tumor does not resist reaches: a conflicting therapy
            # (resistance from the same patient) does not count.
            best: dict[str, str] = {}
            for t in therapies["to_discuss"] + therapies["other"]:
                if t["assessment"] != "sensitive":
                    continue
                for s_ in t["supporting"]:
                    level = s_["level"]
                    for g in s_["gene"].split(";"):
                        if level and (g not in best or level < best[g]):
                            best[g] = level
            for m in sens:
                by_level_and_type[(m["level"], code)] += 1
            genes.update(best.keys())
            calls = {c["gene"]: c for c in report["pharmacogenomics"]["calls"]}
            for gene, c in calls.items():
                phenotypes.setdefault(gene, Counter())[c["phenotype"] or "not called"] += 1
            cautions = sorted({g["drug"] for g in report["pharmacogenomics"]["guidance"] if g["caution"] == "true"})
            levels = sorted(best.values())
            germline = sorted({f"{m['gene']} {m['alteration']}" for m in report["germline_findings"]})
            patients.append({
                "patient": report["patient"]["id"], "tumor_type": code,
                "best_level": levels[0] if levels else "",
                "therapies_to_discuss": sum(1 for t in therapies["to_discuss"] if t["assessment"] == "sensitive"),
                "conflicting_therapies": ";".join(t["therapy"] for t in therapies["to_discuss"]
                                                  if t["assessment"] == "conflicting"),
                "actionable_genes": ";".join(sorted(best)),
                "germline_findings": ";".join(germline),
                "therapy_matches": len(sens),
                "resistance_or_no_benefit": len(report["therapeutic"]["resistance"]),
                "pharmacogene_cautions": ";".join(cautions),
                "dpyd_phenotype": calls.get("DPYD", {}).get("phenotype", "not tested") or "not called",
                "pharmacogenes_called": report["summary"]["pharmacogenes_called"],
                "pharmacogenes_tested": report["summary"]["pharmacogenes_tested"],
                "report": os.path.relpath(Path(path).with_name("report.html"), Path(out_html).parent),
                "_best": best,
            })
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            # A report.json of another version, edited by hand or cut short: name it, whole.
            raise PgxInputError(path, f"not a pgx report.json ({type(exc).__name__}: {exc})") from None
    gene_order = [g for g, _ in sorted(genes.items(), key=lambda kv: (-kv[1], kv[0]))]
    context = {
        "patients": patients, "genes": gene_order,
        "levels": sorted({lvl for lvl, _ in by_level_and_type}),
        "types": sorted({t for _, t in by_level_and_type}),
        "by_level_and_type": {f"{lvl}|{t}": n for (lvl, t), n in by_level_and_type.items()},
        "phenotypes": {g: sorted(c.items()) for g, c in sorted(phenotypes.items())},
        "n": len(patients),
    }
    html = _environment().get_template("cohort.html.j2").render(c=context)
    write_tsv_atomic(out_tsv, SUMMARY_COLUMNS, patients)
    write_text_atomic(out_html, html)
    return context
