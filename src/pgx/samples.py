"""The sample sheet: one row per patient, checked before any job runs."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from pgx.errors import PgxInputError
from pgx.ontology import Ontology
from pgx.vcf import BUILDS

REQUIRED = ("patient", "tumor_type", "tumor_vcf", "germline_vcf", "build")
OPTIONAL = ("tumor_sample", "normal_sample", "germline_sample", "cna", "fusions", "sex", "outside_calls")
PATIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Patient:
    patient: str
    tumor_type: str
    build: str
    tumor_vcf: str
    germline_vcf: str
    tumor_sample: str
    normal_sample: str
    germline_sample: str
    cna: str
    fusions: str
    sex: str
    outside_calls: str


def read_sheet(path: str | Path, ontology: Ontology, check_files: bool = True) -> list[Patient]:
    """Parse and check the sheet; the first problem is raised naming the row and column.

    Paths are taken relative to the current directory (Snakemake's working directory)."""
    path = Path(path)
    if not path.exists():
        raise PgxInputError(str(path), "sample sheet does not exist")
    with open(path, encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    columns = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise PgxInputError(str(path), f"missing column(s): {', '.join(missing)}", record="header")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise PgxInputError(str(path), f"unknown column(s): {', '.join(unknown)}", record="header")
    patients: list[Patient] = []
    seen: set[str] = set()
    for n, row in enumerate(reader, start=2):
        where = f"line {n}"
        values = {c: (row.get(c) or "").strip() for c in REQUIRED + OPTIONAL}
        pid = values["patient"]
        if not PATIENT_ID.match(pid):
            raise PgxInputError(str(path), f"patient id {pid!r} must be 1-64 letters, digits, '.', '_' or '-'", record=where)
        if pid in seen:
            raise PgxInputError(str(path), f"duplicate patient {pid!r}", record=where)
        seen.add(pid)
        if not ontology.is_known(values["tumor_type"]):
            raise PgxInputError(str(path), f"unknown OncoTree code {values['tumor_type']!r} for {pid}", record=where)
        if values["build"] not in BUILDS:
            raise PgxInputError(str(path), f"build {values['build']!r} for {pid} must be GRCh37 or GRCh38", record=where)
        if not values["tumor_vcf"] and not values["germline_vcf"]:
            raise PgxInputError(str(path), f"{pid} has neither tumor_vcf nor germline_vcf", record=where)
        if values["sex"] and values["sex"] not in ("female", "male", "unknown"):
            raise PgxInputError(str(path), f"sex {values['sex']!r} must be female, male or unknown", record=where)
        if check_files:
            for column in ("tumor_vcf", "germline_vcf", "cna", "fusions", "outside_calls"):
                if values[column] and not Path(values[column]).exists():
                    raise PgxInputError(str(path), f"{column} of {pid} does not exist: {values[column]}", record=where)
        patients.append(Patient(**values))
    if not patients:
        raise PgxInputError(str(path), "sample sheet has no patients")
    return patients
