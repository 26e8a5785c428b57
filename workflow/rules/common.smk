# Helpers of the workflow: configuration, the sample sheet and the files each patient needs.
import hashlib
import re
import sys

import jsonschema
import yaml
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import validate

# This workflow's own folder, also when it runs as another workflow's module (where
# workflow.basedir is the host's).
WORKFLOW_DIR = Path(str(workflow.current_basedir)).parent
# A checkout runs its own library (the job scripts do the same through scripts/pgx_checkout.py); a
# deployed workflow uses the installed pgx package.
if (WORKFLOW_DIR.parent / "src/pgx").is_dir():
    sys.path.insert(0, str(WORKFLOW_DIR.parent / "src"))

from pgx.errors import PgxInputError  # noqa: E402
from pgx.kb import default_resources  # noqa: E402
from pgx.ontology import Ontology  # noqa: E402
from pgx.samples import read_sheet  # noqa: E402
from pgx.workflow import genome_files  # noqa: E402

validate(config, str(WORKFLOW_DIR / "schemas/config.schema.yaml"))

# "" is the knowledge base bundled with pgx; a relative path is taken from the working directory.
RESOURCES = (
    Path(config["resources"]).absolute() if config["resources"] else default_resources()
)
ENV = str(WORKFLOW_DIR / "envs/pgx.yaml")
# The image of containers/Dockerfile (docker://… or a .sif) for `--sdm apptainer`; none by default.
CONTAINER = config.get("container") or None


def _load_patients():
    try:
        patients = read_sheet(config["samples"], Ontology.load(RESOURCES))
    except PgxInputError as exc:
        raise WorkflowError(f"sample sheet: {exc}") from None
    # One compiled validator for every row: snakemake.utils.validate re-reads the schema per
    # call, which costs minutes on a 10,000-patient sheet.
    schema = yaml.safe_load((WORKFLOW_DIR / "schemas/samples.schema.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for patient in patients:
        error = jsonschema.exceptions.best_match(
            validator.iter_errors({k: v for k, v in asdict(patient).items() if v})
        )
        if error is not None:
            raise WorkflowError(
                f"sample sheet: patient {patient.patient}: {error.message}"
            )
    return {p.patient: p for p in patients}


PATIENTS = _load_patients()
SHEET_ROWS = {name: asdict(p) for name, p in PATIENTS.items()}
RUN_SETTINGS = {
    "filters": config["filters"],
    "missing_as_reference": config["pharmacogenomics"]["missing_as_reference"],
    "reference": {b: p or "none" for b, p in config["reference"].items()},
}


wildcard_constraints:
    # The sheet's id pattern; a list of every id would make matching slow on large cohorts.
    patient="[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    cohort="[A-Za-z0-9._-]{1,40}-[0-9a-f]{10}",


def patient(wildcards):
    return PATIENTS[wildcards.patient]


def sheet_row(wildcards):
    """The patient's sample-sheet row for a rule's params: one function per rule, since
    Snakemake inspects every params function of every job (seconds on large cohorts)."""
    return SHEET_ROWS[wildcards.patient]


def tumor_vcf(wildcards):
    return patient(wildcards).tumor_vcf


def germline_vcf(wildcards):
    return patient(wildcards).germline_vcf


def genome_inputs(wildcards):
    """The reference FASTAs (and indexes) the patient's VCFs are read against: inputs, so
    that a missing one stops the run before any job."""
    return genome_files(config["reference"], patient(wildcards).build)


def report_inputs(wildcards):
    p = patient(wildcards)
    inputs = {}
    if p.tumor_vcf:
        inputs["variants"] = f"results/{p.patient}/variants.tsv"
        inputs["qc"] = f"results/{p.patient}/annotate_qc.json"
        inputs["matches"] = f"results/{p.patient}/match/somatic_matches.tsv"
    if p.germline_vcf:
        inputs["pharmacogenes"] = f"results/{p.patient}/pharmacogenes.tsv"
        inputs["guidance"] = f"results/{p.patient}/guidance.tsv"
        inputs["germline_matches"] = f"results/{p.patient}/match/germline_matches.tsv"
    return inputs


def _germline_cohorts():
    """Germline VCFs that several patients share (a cohort's joint call), each read once for
    all their samples by one job named after the file; and each such patient's cohort.
    """
    by_file = {}
    for p in PATIENTS.values():
        if p.germline_vcf:
            by_file.setdefault(p.germline_vcf, []).append(p)
    cohorts, cohort_of = {}, {}
    for path, patients in by_file.items():
        if len(patients) < 2:
            continue
        builds = sorted({p.build for p in patients})
        if len(builds) > 1:
            raise WorkflowError(
                f"sample sheet: {path} is the germline VCF of patients of builds {' and '.join(builds)}"
            )
        digest = hashlib.sha256(str(Path(path).absolute()).encode()).hexdigest()[:10]
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name)[:40]
        cohorts[f"{name}-{digest}"] = {
            "vcf": path,
            "build": builds[0],
            "samples": sorted(
                {p.germline_sample for p in patients if p.germline_sample}
            ),
        }
        cohort_of.update((p.patient, f"{name}-{digest}") for p in patients)
    return cohorts, cohort_of


GERMLINE_COHORTS, COHORT_OF = _germline_cohorts()


def cohort(wildcards):
    return GERMLINE_COHORTS[wildcards.cohort]


def cohort_vcf(wildcards):
    return cohort(wildcards)["vcf"]


def cohort_genome_inputs(wildcards):
    return genome_files(config["reference"], cohort(wildcards)["build"])


def germline_findings_inputs(wildcards):
    p = patient(wildcards)
    if p.patient in COHORT_OF:
        return {
            "variants": f"results/germline/{COHORT_OF[p.patient]}/germline_variants.tsv"
        }
    return {"vcf": p.germline_vcf, "genome": genome_inputs(wildcards)}


def pharmacogenomics_inputs(wildcards):
    p = patient(wildcards)
    if p.patient in COHORT_OF:
        inputs = {"calls": f"results/germline/{COHORT_OF[p.patient]}/pharmacogenes.tsv"}
    else:
        inputs = {"vcf": p.germline_vcf}
    if p.tumor_vcf:
        inputs["matches"] = f"results/{p.patient}/match/somatic_matches.tsv"
    return inputs


def all_targets():
    targets = []
    for p in PATIENTS.values():
        targets += [
            f"results/{p.patient}/report.html",
            f"results/{p.patient}/report.json",
        ]
        if p.tumor_vcf:
            targets.append(f"results/{p.patient}/annotated.vcf.gz")
        if p.germline_vcf:
            targets.append(f"results/{p.patient}/pharmacogenes.tsv")
    targets += ["results/cohort/summary.html", "results/cohort/summary.tsv"]
    return targets
