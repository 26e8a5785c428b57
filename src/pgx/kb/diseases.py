"""Evidence diseases → OncoTree nodes: the one crosswalk that decides whether evidence is for the
patient's tumor type. Built from public sources into `ontology/diseases.tsv`; the OncoTree tree
itself goes to `ontology/oncotree.tsv` with each code's tissue and lineage class.

A disease is mapped, first rule that gives nodes:
1. `curated`: the project's override table (`curation/disease_oncotree.tsv`, one reason a row),
   where the sources disagree, are wrong or are silent;
2. `phenoncox` / `umls`: phenOncoX's curated OncoTree→DOID table and OncoTree's UMLS
   cross-references joined to PCGR's UMLS→DOID table;
3. `oncotree_name`: the disease's name is an OncoTree node's name, or an OncoTree main type
   (then every highest node of that main type).
A mapping keeps only the highest nodes it names (breast cancer → BREAST, not BRCA as well).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable
from pathlib import Path

from pgx.ontology import DiseaseScope, LineageClass

ONCOTREE_COLUMNS = ["code", "name", "main_type", "tissue", "parent", "level", "lineage_class"]
DISEASE_COLUMNS = [
    "doid", "name", "scope", "oncotree_codes", "qualifier", "method", "note",
    "civic_items", "civic_items_level_ab",
]
CURATION = Path(__file__).parent / "curation" / "disease_oncotree.tsv"
ROOT = "TISSUE"


def _rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def normalised_name(name: str) -> str:
    """Case, dashes and spacing folded: 'Her2-receptor Positive' ~ 'HER2 receptor positive'."""
    return re.sub(r"[\s\-–—_,]+", " ", name.strip().lower()).strip()


def build_oncotree(oncotree_flat: Path) -> list[dict[str, object]]:
    """Every OncoTree code with its parent, tissue and lineage class (from its level-1 branch)."""
    rows = {r["code"]: r for r in _rows(oncotree_flat)}
    out: list[dict[str, object]] = []
    for code, r in rows.items():
        if code == ROOT:
            continue
        branch = code
        while rows[branch]["parent"] and rows[branch]["parent"] != ROOT:
            branch = rows[branch]["parent"]
        lineage_class = {"MYELOID": LineageClass.MYELOID, "LYMPH": LineageClass.LYMPHOID}.get(
            branch, LineageClass.SOLID)
        out.append({
            "code": code, "name": r["name"], "main_type": r["main_type"],
            "tissue": rows[branch]["tissue"] or r["tissue"],
            "parent": "" if r["parent"] == ROOT else r["parent"],
            "level": r["level"], "lineage_class": lineage_class.value,
        })
    return sorted(out, key=lambda c: str(c["code"]))


def _highest(codes: Iterable[str], parent: dict[str, str]) -> list[str]:
    """Drop every code that has an ancestor in the set."""
    chosen = set(codes)
    out = []
    for code in chosen:
        up = parent.get(code, "")
        while up and up not in chosen:
            up = parent.get(up, "")
        if not up:
            out.append(code)
    return sorted(out)


def _evidence_diseases(evidence_files: list[Path]) -> dict[tuple[str, str], list[int]]:
    """(doid, name) of every accepted CIViC evidence item → [items, items at level A/B]."""
    counts: dict[tuple[str, str], list[int]] = {}
    for path in evidence_files:
        for r in _rows(path):
            if r.get("evidence_status", "accepted") != "accepted":
                continue
            key = (f"DOID:{r['doid']}" if r["doid"] else "", r["disease"])
            entry = counts.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += r["evidence_level"] in ("A", "B")
    return counts


def build_diseases(
    oncotree: list[dict[str, object]], umls_map: Path, phenoncox: Path, pcgr_phenotypes: Path,
    evidence_file: Path, curation: Path = CURATION,
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """The crosswalk for every disease the sources know and every disease of the evidence."""
    codes = {str(c["code"]): c for c in oncotree}
    parent = {code: str(c["parent"]) for code, c in codes.items()}
    by_name: dict[str, list[str]] = {}
    by_main_type: dict[str, list[str]] = {}
    for code, c in codes.items():
        by_name.setdefault(normalised_name(str(c["name"])), []).append(code)
        main = str(c["main_type"])
        if main and codes.get(parent[code], {}).get("main_type") != main:
            by_main_type.setdefault(normalised_name(main), []).append(code)

    names: dict[str, str] = {}
    sourced: dict[str, dict[str, set[str]]] = {"phenoncox": {}, "umls": {}}
    for r in _rows(pcgr_phenotypes):
        if r.get("do_id", "").startswith("DOID:"):
            names.setdefault(r["do_id"], r["do_name"])
    for r in _rows(phenoncox):
        if r.get("do_id", "").startswith("DOID:") and r.get("ot_code") in codes:
            sourced["phenoncox"].setdefault(r["do_id"], set()).add(r["ot_code"])
            names.setdefault(r["do_id"], r["do_name"])
    for r in _rows(umls_map):
        if r.get("do_id", "").startswith("DOID:") and r.get("oncotree_code") in codes:
            sourced["umls"].setdefault(r["do_id"], set()).add(r["oncotree_code"])
            names.setdefault(r["do_id"], r["do_name"])

    curated: dict[str, dict[str, str]] = {}
    for r in _rows(curation):
        unknown = [c for c in r["oncotree_codes"].split(",") if c and c not in codes]
        if unknown or not r["reason"]:
            raise ValueError(f"{curation}: {r['doid'] or r['name']}: unknown OncoTree code(s) "
                             f"{unknown} or no reason")
        DiseaseScope(r["scope"])  # a closed vocabulary: anything else stops the build
        curated[_key(r["doid"], r["name"])] = r

    evidence = _evidence_diseases([evidence_file])
    diseases: dict[str, tuple[str, str]] = {}
    for doid, name in names.items():
        diseases[_key(doid, "")] = (doid, name)
    for doid, name in evidence:
        diseases[_key(doid, name)] = (doid, name)  # CIViC's own spelling of the name
    for key, r in curated.items():
        diseases.setdefault(key, (r["doid"], r["name"]))

    counts = {"diseases": 0, "mapped": 0, "unmapped": 0, "evidence_diseases_level_ab": 0,
              "evidence_diseases_level_ab_unmapped": 0}
    rows: list[dict[str, object]] = []
    for key, (doid, name) in diseases.items():
        scope, found, qualifier, method, note = DiseaseScope.UNMAPPED, [], "", "", ""
        if key in curated:
            r = curated[key]
            scope, qualifier, method, note = DiseaseScope(r["scope"]), r["qualifier"], "curated", r["reason"]
            found = [c for c in r["oncotree_codes"].split(",") if c]
        else:
            for source in ("phenoncox", "umls"):
                if doid in sourced[source]:
                    found, method = sorted(sourced[source][doid]), source
                    break
            else:
                wanted = normalised_name(name)
                found = by_name.get(wanted) or by_main_type.get(wanted) or []
                method = "oncotree_name" if found else ""
            if found:
                scope = DiseaseScope.TUMOR_TYPE
            else:
                note = "no OncoTree node in the sources and not curated"
        highest = _highest(found, parent)
        items, items_ab = _evidence_of(evidence, doid, name)
        if scope is DiseaseScope.UNMAPPED and not items and key not in curated:
            continue  # a disease the sources name but cannot place, and no evidence is about
        counts["diseases"] += 1
        counts["mapped" if scope is not DiseaseScope.UNMAPPED else "unmapped"] += 1
        if items_ab:
            counts["evidence_diseases_level_ab"] += 1
            counts["evidence_diseases_level_ab_unmapped"] += scope is DiseaseScope.UNMAPPED
        rows.append({
            "doid": doid, "name": name, "scope": scope.value, "oncotree_codes": ",".join(highest),
            "qualifier": qualifier, "method": method, "note": note,
            "civic_items": items, "civic_items_level_ab": items_ab,
        })
    rows.sort(key=lambda r: (_doid_number(str(r["doid"])), str(r["name"]).lower()))
    return rows, counts


def _evidence_of(evidence: dict[tuple[str, str], list[int]], doid: str, name: str) -> list[int]:
    total = [0, 0]
    for (d, n), (items, items_ab) in evidence.items():
        if (d == doid) if doid else (not d and _key(d, n) == _key(doid, name)):
            total[0] += items
            total[1] += items_ab
    return total


def _key(doid: str, name: str) -> str:
    """Diseases are keyed by DOID; the few without one (newer CIViC diseases) by their name."""
    return doid if doid else "name:" + normalised_name(name)


def _doid_number(doid: str) -> int:
    tail = doid.split(":", 1)[1] if ":" in doid else ""
    return int(tail) if tail.isdigit() else 10**9
