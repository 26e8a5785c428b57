"""`pgx kb build`: convert the public sources into the bundled knowledge base, reproducibly."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pgx.errors import PgxInputError
from pgx.kb import MANIFEST, civic, diseases, pharmacogenes, reference, sha256, write_table
from pgx.kb.swap import exclusive, resolved, swap_in
from pgx.outputs import write_text_atomic
from pgx.transcripts import CODON_COLUMNS, TRANSCRIPT_COLUMNS

CIVIC_RELEASE = "somatic/civic/2025-07-01"


def build(shared_data: Path, out: Path, civic_release: Path | None = None) -> dict[str, Any]:
    """Build every table into a fresh folder, then swap it in for `out` in one step."""
    shared_data = shared_data.resolve()
    if not shared_data.is_dir():
        raise PgxInputError(str(shared_data), "shared data folder does not exist")
    civic_dir = civic_release or shared_data / CIVIC_RELEASE
    out.parent.mkdir(parents=True, exist_ok=True)
    out = resolved(out)
    with exclusive(out):
        staging = Path(tempfile.mkdtemp(prefix=".kb-build-", dir=out.parent))
        staging.chmod(0o755)
        try:
            manifest = _build_into(shared_data, civic_dir, staging)
            swap_in(staging, out)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return manifest


def _build_into(shared: Path, civic_dir: Path, out: Path) -> dict[str, Any]:
    tables: list[dict[str, Any]] = []

    def put(relative: str, columns: list[str], rows: list[dict[str, object]]) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        write_table(path, columns, rows)
        tables.append({"path": relative, "rows": len(rows), "sha256": sha256(path)})

    from pgx.liftover import BLOCK_COLUMNS, LiftOver, blocks_from_chain

    ref = shared / "reference"
    blocks = blocks_from_chain(ref / "liftover/hg19ToHg38.over.chain.gz")
    put("liftover/GRCh37_to_GRCh38.tsv.gz", BLOCK_COLUMNS, blocks)
    civic_tables, civic_counts = civic.build_tables(civic_dir)
    lifted, lift_counts = civic.lift_variants(civic_tables["variants"], LiftOver.from_rows(blocks))
    put("kb/civic/variants.tsv", civic.VARIANT_COLUMNS, lifted)
    put("kb/civic/profiles.tsv", civic.PROFILE_COLUMNS, civic_tables["profiles"])
    put("kb/civic/evidence.tsv", civic.EVIDENCE_COLUMNS, civic_tables["evidence"])
    put("kb/civic/coverage.tsv", civic.COVERAGE_COLUMNS, civic_tables["coverage"])

    transcripts = reference.build_transcripts(ref / "transcripts/mane_select_cds_models.GRCh38.tsv.gz")
    put("annotation/transcripts.GRCh38.tsv.gz", TRANSCRIPT_COLUMNS, transcripts)
    codons, codon_counts = reference.build_codons(
        transcripts,
        [ref / "hotspots/cacao/cacao.hotspot.grch38.tsv", ref / "hotspots/cacao/cacao.civic.grch38.tsv"],
    )
    put("annotation/codons.GRCh38.tsv", CODON_COLUMNS, codons)
    hotspots = reference.build_hotspots(transcripts, ref / "hotspots/cacao/cacao.hotspot.grch38.tsv")
    put("kb/hotspots.tsv", reference.HOTSPOT_COLUMNS, hotspots)
    codon_counts["hotspot_codons"] = len(hotspots)

    onto = ref / "ontology"
    tree = diseases.build_oncotree(onto / "oncotree_2025_10_03.flat.tsv")
    crosswalk, disease_counts = diseases.build_diseases(
        tree, onto / "oncotree_to_doid_via_umls.tsv", onto / "phenoncox_oncotree_basic.tsv",
        onto / "pcgr_oncotree_phenotypes.tsv.gz", civic.release_files(civic_dir)["ClinicalEvidence"],
    )
    put("ontology/oncotree.tsv", diseases.ONCOTREE_COLUMNS, tree)
    put("ontology/diseases.tsv", diseases.DISEASE_COLUMNS, crosswalk)

    pgx = shared / "pgx"
    positions, alleles, definition_versions = pharmacogenes.build_definitions(
        pgx / "pharmcat/definition/alleles")
    put("pgx/positions.tsv", pharmacogenes.POSITION_COLUMNS, positions)
    put("pgx/alleles.tsv", pharmacogenes.ALLELE_COLUMNS, alleles)
    put("pgx/exemptions.tsv", pharmacogenes.EXEMPTION_COLUMNS,
        pharmacogenes.build_exemptions(pgx / "pharmcat/definition/alleles/exemptions.json"))
    functions, diplotypes, phenotype_versions = pharmacogenes.build_phenotypes(
        [pgx / "pharmcat/phenotype", pgx / "pharmcat-archive/phenotype-latest-available"])
    put("pgx/functions.tsv", pharmacogenes.FUNCTION_COLUMNS, functions)
    # Outside-call genes' tables (CYP2D6: 15,051 diplotypes) apart: every VCF call would read them.
    outside = set(pharmacogenes.OUTSIDE_CALL_GENES)
    put("pgx/diplotypes.tsv.gz", pharmacogenes.DIPLOTYPE_COLUMNS, [d for d in diplotypes if d["gene"] not in outside])
    put("pgx/outside_call_diplotypes.tsv.gz", pharmacogenes.DIPLOTYPE_COLUMNS,
        [d for d in diplotypes if d["gene"] in outside])
    recommendations = pharmacogenes.build_recommendations(
        pgx / "pharmcat-archive/v2.12.0/recommendations_flat.tsv")
    put("pgx/recommendations.tsv", pharmacogenes.RECOMMENDATION_COLUMNS, recommendations)
    cpic_version = sorted({str(r["data_version"]) for r in recommendations})[-1]

    manifest: dict[str, Any] = {
        "format": 1,
        "sources": [
            {"name": "CIViC", "version": civic.release_date(civic_dir),
             "url": "https://civicdb.org/releases", "license": "CC0 1.0",
             "used_for": "somatic and germline therapy evidence"},
            {"name": "PharmCAT allele definitions", "version": max(definition_versions.values()),
             "url": "https://github.com/PharmGKB/PharmCAT", "license": "MPL-2.0 (definitions from CPIC/PharmVar)",
             "used_for": "star-allele positions and definitions (19 genes)"},
            {"name": "CPIC/DPWG guideline data (PharmCAT v2.12.0)", "version": cpic_version,
             "url": "https://cpicpgx.org/guidelines/", "license": "CPIC: CC0 1.0; DPWG via PharmGKB: CC BY-SA 4.0",
             "used_for": "prescribing recommendations"},
            {"name": "MANE Select", "version": "v1.5 (GENCODE v44/v50 models)",
             "url": "https://www.ncbi.nlm.nih.gov/refseq/MANE/", "license": "public domain (NCBI/EMBL-EBI)",
             "used_for": "built-in annotator transcript models"},
            {"name": "cancerhotspots.org via cacao", "version": "v2 (cacao 2020-12)",
             "url": "https://github.com/sigven/cacao", "license": "MIT (cacao); ODbL (cancerhotspots)",
             "used_for": "hotspot codons (gene-level evidence gate) and reference bases of hotspot codons"},
            {"name": "UCSC hg19ToHg38 chain", "version": "hg19ToHg38.over.chain",
             "url": "https://hgdownload.soe.ucsc.edu/goldenPath/hg19/liftOver/", "license": "free for all uses (UCSC)",
             "used_for": "GRCh37 to GRCh38 coordinates (knowledge base and GRCh37 input)"},
            {"name": "OncoTree", "version": "2025-10-03", "url": "https://oncotree.mskcc.org",
             "license": "CC BY 4.0", "used_for": "tumor types"},
            {"name": "OncoTree-DOID maps (UMLS; phenOncoX 0.4.0; PCGR)", "version": "phenOncoX 0.4.0",
             "url": "https://github.com/sigven/phenOncoX", "license": "MIT",
             "used_for": "evidence disease to OncoTree crosswalk, with pgx's curated overrides "
                         "(src/pgx/kb/curation/disease_oncotree.tsv)"},
        ],
        "counts": {"civic": civic_counts, "codons": codon_counts, "liftover": lift_counts,
                   "diseases": disease_counts,
                   "pharmacogenes": {"genes": len(definition_versions), "positions": len(positions),
                                     "alleles": len(alleles), "diplotypes": len(diplotypes),
                                     "recommendations": len(recommendations)}},
        "tables": tables,
    }
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
