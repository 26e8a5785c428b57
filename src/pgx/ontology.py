"""Tumor types: OncoTree codes in, evidence diseases (DOID) judged on-label or off-label.

Rule, in order (the first that applies decides, and is recorded on every match):
1. `pan_cancer`: the evidence is for cancer in general (DOID:162, "Solid Tumor").
2. `exact` / `ancestor`: the evidence DOID maps to OncoTree codes, one of which is the patient's
   code (`exact`) or an ancestor of it (`ancestor`) — PROTECT's rule on the OncoTree tree.
   LUAD reaches NSCLC evidence this way; evidence on a child term stays off-label.
3. `other_tumor_type`: the DOID maps to OncoTree codes, none on the patient's path.
4. `same_primary_site` / `other_primary_site`: the DOID has no OncoTree code (no Disease
   Ontology tree is bundled); its primary site (PCGR's table) is compared with the patient's.
5. `unknown`: no DOID, or a DOID we know nothing of: off-label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pgx.errors import PgxInputError
from pgx.outputs import read_tsv

PAN_CANCER_DOIDS = frozenset({"DOID:162", "DOID:0050687", "DOID:0050686"})
PAN_CANCER_NAMES = frozenset({"cancer", "solid tumor", "solid tumors"})
ON_LABEL_RELATIONS = frozenset({"exact", "ancestor", "pan_cancer", "same_primary_site"})


@dataclass(frozen=True, slots=True)
class TumorType:
    code: str
    name: str
    lineage: tuple[str, ...]  # the code, then its ancestors up to TISSUE
    primary_sites: frozenset[str]


class Ontology:
    def __init__(self, codes: list[dict[str, str]], doids: list[dict[str, str]]):
        self._codes = {r["code"]: r for r in codes}
        self._doid_codes = {
            r["doid"]: frozenset(c for c in r["oncotree_codes"].split(",") if c) for r in doids
        }
        self._doid_site = {r["doid"]: r["primary_site"] for r in doids if r["primary_site"]}

    @classmethod
    def load(cls, resources: Path) -> Ontology:
        return cls(read_tsv(resources / "ontology/oncotree.tsv"), read_tsv(resources / "ontology/doid.tsv"))

    def is_known(self, code: str) -> bool:
        return code in self._codes

    def codes(self) -> list[str]:
        return sorted(self._codes)

    def tumor_type(self, code: str) -> TumorType:
        if code not in self._codes:
            raise PgxInputError("tumor_type", f"unknown OncoTree code {code!r}")
        lineage = []
        current: str | None = code
        while current and current in self._codes and current not in lineage:
            lineage.append(current)
            current = self._codes[current]["parent"] or None
        sites = {
            s for c in lineage for s in self._codes[c]["primary_site"].split(";") if s
        }
        return TumorType(code, self._codes[code]["name"], tuple(lineage), frozenset(sites))

    def relation(self, doid: str, disease: str, patient: TumorType) -> str:
        if doid in PAN_CANCER_DOIDS or disease.strip().lower() in PAN_CANCER_NAMES:
            return "pan_cancer"
        codes = self._doid_codes.get(doid, frozenset())
        if codes:
            if patient.code in codes:
                return "exact"
            if codes & set(patient.lineage[1:]):
                return "ancestor"
            return "other_tumor_type"
        site = self._doid_site.get(doid)
        if site:
            return "same_primary_site" if site in patient.primary_sites else "other_primary_site"
        return "unknown"


def is_on_label(relation: str) -> bool:
    return relation in ON_LABEL_RELATIONS
