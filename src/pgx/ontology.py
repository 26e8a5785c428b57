"""Tumor types: OncoTree codes in, evidence diseases placed on the OncoTree, on-label decided.

Every evidence disease goes through one crosswalk (`ontology/diseases.tsv`, built by
`pgx kb build` in `pgx.kb.diseases`) to the highest OncoTree nodes it covers. The relation of
that disease to the patient's code, recorded on every match:

- `exact`: the disease maps to the patient's code;
- `ancestor`: it maps to an ancestor of the patient's code (broader type containing the patient's:
  LUAD reaches NSCLC evidence, BRCA reaches breast cancer evidence);
- `descendant`: it maps to a subtype below the patient's code (shown, not on-label);
- `same_tissue`: another disease of the same OncoTree tissue (not on-label: a shared site never
  makes evidence on-label across diseases);
- `other`: another tumor type, or a pan-cancer class that excludes the patient's (solid-tumor
  evidence for a myeloma);
- `pan_cancer`: "Cancer" (every code), "Solid Tumor" (solid codes), hematologic cancer (myeloid
  and lymphoid codes);
- `unmapped`: the crosswalk has no node for the disease.

On-label means `exact` or `ancestor`; pan-cancer evidence is on-label only at source level A
(a tumor-agnostic approval), so a level-B basket trial curated as "Cancer" is not Tier I.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pgx.errors import PgxInputError
from pgx.outputs import read_tsv


class LineageClass(str, Enum):
    SOLID = "solid"
    MYELOID = "myeloid"
    LYMPHOID = "lymphoid"


class DiseaseScope(str, Enum):
    """What an evidence disease covers."""

    TUMOR_TYPE = "tumor_type"  # the OncoTree nodes listed beside it
    PAN_CANCER = "pan_cancer"  # every tumor type
    SOLID_TUMOR = "solid_tumor"  # every solid tumor type
    HEMATOLOGIC = "hematologic"  # every myeloid and lymphoid type
    UNMAPPED = "unmapped"


class TumorTypeRelation(str, Enum):
    EXACT = "exact"
    ANCESTOR = "ancestor"
    DESCENDANT = "descendant"
    SAME_TISSUE = "same_tissue"
    OTHER = "other"
    PAN_CANCER = "pan_cancer"
    UNMAPPED = "unmapped"


_COVERS = {
    DiseaseScope.PAN_CANCER: frozenset(LineageClass),
    DiseaseScope.SOLID_TUMOR: frozenset({LineageClass.SOLID}),
    DiseaseScope.HEMATOLOGIC: frozenset({LineageClass.MYELOID, LineageClass.LYMPHOID}),
}


@dataclass(frozen=True, slots=True)
class TumorType:
    code: str
    name: str
    lineage: tuple[str, ...]  # the code, then its ancestors up to the tissue node
    tissue: str
    lineage_class: LineageClass
    main_type: str = ""


@dataclass(frozen=True, slots=True)
class Disease:
    doid: str
    name: str
    scope: DiseaseScope
    codes: frozenset[str]
    qualifier: str = ""


def _name_key(name: str) -> str:
    # The same folding as the build's (pgx.kb.diseases.normalised_name).
    return re.sub(r"[\s\-–—_,]+", " ", name.strip().lower()).strip()


class Ontology:
    def __init__(self, codes: list[dict[str, str]], diseases: list[dict[str, str]]):
        self._codes = {r["code"]: r for r in codes}
        self._by_doid: dict[str, Disease] = {}
        self._by_name: dict[str, Disease] = {}
        for r in diseases:
            disease = Disease(r["doid"], r["name"], DiseaseScope(r["scope"]),
                              frozenset(c for c in r["oncotree_codes"].split(",") if c), r["qualifier"])
            if r["doid"]:
                self._by_doid[r["doid"]] = disease
            self._by_name.setdefault(_name_key(r["name"]), disease)
        for code, r in self._codes.items():
            # A user knowledge base may name an OncoTree code or node as its disease.
            node = Disease("", r["name"], DiseaseScope.TUMOR_TYPE, frozenset({code}))
            self._by_name.setdefault(_name_key(code), node)
            self._by_name.setdefault(_name_key(r["name"]), node)

    @classmethod
    def load(cls, resources: Path) -> Ontology:
        return cls(read_tsv(resources / "ontology/oncotree.tsv"), read_tsv(resources / "ontology/diseases.tsv"))

    def is_known(self, code: str) -> bool:
        return code in self._codes

    def codes(self) -> list[str]:
        return sorted(self._codes)

    def suggestion(self, code: str) -> str:
        """'; did you mean LUAD (Lung Adenocarcinoma)?' for a code or name close to a known
        one, else ''."""
        from pgx.errors import close_matches

        by_name = {row["name"].lower(): c for c, row in self._codes.items()}
        codes = close_matches(code.upper(), list(self._codes)) or [
            by_name[n] for n in close_matches(code.lower(), list(by_name))]
        return "; did you mean " + " or ".join(f"{c} ({self._codes[c]['name']})" for c in codes) + "?" if codes else ""

    def tumor_type(self, code: str) -> TumorType:
        if code not in self._codes:
            raise PgxInputError("tumor_type", f"unknown OncoTree code {code!r}{self.suggestion(code)}")
        row = self._codes[code]
        return TumorType(code, row["name"], self._lineage(code), row["tissue"],
                         LineageClass(row["lineage_class"]), row["main_type"])

    def _lineage(self, code: str) -> tuple[str, ...]:
        lineage: list[str] = []
        current = code
        while current and current in self._codes and current not in lineage:
            lineage.append(current)
            current = self._codes[current]["parent"]
        return tuple(lineage)

    def disease(self, doid: str, name: str) -> Disease | None:
        """The crosswalk entry of an evidence disease: by DOID, else by its name."""
        found = self._by_doid.get(doid) if doid else None
        return found or self._by_name.get(_name_key(name))

    def relation(self, doid: str, name: str, patient: TumorType) -> TumorTypeRelation:
        disease = self.disease(doid, name)
        if disease is None or disease.scope is DiseaseScope.UNMAPPED:
            return TumorTypeRelation.UNMAPPED
        if disease.scope in _COVERS:
            covered = patient.lineage_class in _COVERS[disease.scope]
            return TumorTypeRelation.PAN_CANCER if covered else TumorTypeRelation.OTHER
        nodes = disease.codes
        if patient.code in nodes:
            return TumorTypeRelation.EXACT
        if nodes.intersection(patient.lineage[1:]):
            return TumorTypeRelation.ANCESTOR
        if any(patient.code in self._lineage(n)[1:] for n in nodes):
            return TumorTypeRelation.DESCENDANT
        if any(self._codes[n]["tissue"] == patient.tissue for n in nodes if n in self._codes):
            return TumorTypeRelation.SAME_TISSUE
        return TumorTypeRelation.OTHER


def is_on_label(relation: TumorTypeRelation, native_level: str) -> bool:
    """Evidence for the patient's tumor type; pan-cancer only as a tumor-agnostic approval (A)."""
    if relation is TumorTypeRelation.PAN_CANCER:
        return native_level == "A"
    return relation in (TumorTypeRelation.EXACT, TumorTypeRelation.ANCESTOR)
