"""The sample sheet: one row per patient, checked before any job runs."""

from __future__ import annotations

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
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise PgxInputError(str(path), "sample sheet is not UTF-8 text", record=f"line {bad_line}") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.startswith("#")]
    if not numbered:
        raise PgxInputError(str(path), "sample sheet has no patients")
    columns = [c.strip() for c in numbered[0][1].split("\t")]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise PgxInputError(str(path), f"column(s) named twice: {', '.join(repeated)}", record="header")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise PgxInputError(str(path), f"missing column(s): {', '.join(missing)}", record="header")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise PgxInputError(str(path), f"unknown column(s): {', '.join(unknown)}", record="header")
    patients: list[Patient] = []
    seen: dict[str, str] = {}
    samples_of: dict[str, list[str]] = {}  # a cohort's joint-called VCF is opened once
    for n, line in numbered[1:]:
        where = f"line {n}"
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise PgxInputError(str(path), f"{len(cells)} cells, the header names {len(columns)} columns",
                                record=where)
        row = dict(zip(columns, cells, strict=True))
        values = {c: (row.get(c) or "").strip() for c in REQUIRED + OPTIONAL}
        pid = values["patient"]
        if not PATIENT_ID.match(pid):
            raise PgxInputError(str(path), f"patient id {pid!r} must be 1-64 letters, digits, '.', '_' or '-'", record=where)
        if pid.lower() in RESERVED_IDS:
            raise PgxInputError(str(path), f"patient id {pid!r} is reserved (results/{pid.lower()} holds "
                                           "the cohort's outputs)", record=where)
        if pid.lower() in seen:
            if seen[pid.lower()] == pid:
                raise PgxInputError(str(path), f"duplicate patient {pid!r}", record=where)
            # Ids name folders: on a case-insensitive file system (macOS, Windows shares) two
            # patients that differ by case would write into one.
            raise PgxInputError(str(path), f"patient ids differing only by case: {seen[pid.lower()]!r} "
                                           f"and {pid!r}", record=where)
        seen[pid.lower()] = pid
        if not ontology.is_known(values["tumor_type"]):
            raise PgxInputError(str(path), f"unknown OncoTree code {values['tumor_type']!r} for {pid}"
                                           f"{ontology.suggestion(values['tumor_type'])}", record=where)
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
            _check_sample_columns(values, str(path), where, samples_of)
        patients.append(Patient(**values))
    if not patients:
        raise PgxInputError(str(path), "sample sheet has no patients")
    return patients


RESERVED_IDS = frozenset({"cohort"})


def _check_sample_columns(values: dict[str, str], sheet: str, where: str,
                          samples_of: dict[str, list[str]]) -> None:
    """The sample columns the sheet names must be in the VCF headers, and a germline VCF of
    several samples needs the patient's named: found now, not halfway through the run. Opening
    a VCF also checks that it is whole (`pgx.vcf.open_vcf`)."""
    from pgx.vcf import open_vcf

    pid = values["patient"]
    for vcf_column, sample_columns in (("tumor_vcf", ("tumor_sample", "normal_sample")),
                                       ("germline_vcf", ("germline_sample",))):
        if not values[vcf_column]:
            continue
        vcf = values[vcf_column]
        if vcf not in samples_of:
            samples_of[vcf] = list(open_vcf(vcf).samples)
        samples = samples_of[vcf]
        for column in sample_columns:
            name = values[column]
            if name and name not in samples:
                raise PgxInputError(sheet, f"{column} {name!r} of {pid} is not a sample of "
                                           f"{values[vcf_column]} (it has {', '.join(samples) or 'none'})",
                                    record=where)
        if vcf_column == "germline_vcf" and len(samples) > 1 and not values["germline_sample"]:
            raise PgxInputError(sheet, f"germline_vcf of {pid} has {len(samples)} samples: name the "
                                       "patient's in the germline_sample column", record=where)
