"""The `pgx` command: one sub-command per workflow step, each reading and writing files."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pgx import __version__
from pgx.errors import PgxInputError


def _resources(args: argparse.Namespace) -> Path:
    from pgx.kb import default_resources
    from pgx.kb.swap import recover

    resources = Path(args.resources) if args.resources else default_resources()
    recover(resources)  # a swap a crash interrupted is finished before anything reads the KB
    return resources


def cmd_annotate(args: argparse.Namespace) -> None:
    import os

    # Polars would start a thread per core of the node; a cluster job gets what it asked for.
    os.environ.setdefault("POLARS_MAX_THREADS", str(max(1, args.threads)))
    from pgx.annotate import annotate_vcf
    from pgx.vcf import Filters

    qc = annotate_vcf(
        args.vcf, build=args.build, out_vcf=args.out_vcf, out_tsv=args.out_tsv,
        resources=_resources(args), tumor_sample=args.tumor_sample,
        normal_sample=args.normal_sample,
        filters=Filters(not args.keep_non_pass, args.min_depth, args.min_vaf),
        reference_fasta=args.reference_fasta, qc_out=args.qc_out, threads=args.threads,
    )
    print(f"annotated {qc['kept']} of {qc['alleles']} alleles from {qc['records']} records", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> None:
    """Read the whole VCF once so that a bad record stops the run before any work is done."""
    from pgx.outputs import write_text_atomic
    from pgx.vcf import Filters, ReadStats, check_build, checked_records, iter_variants, open_vcf

    if args.role == "germline":
        vcf = open_vcf(args.vcf)
        check_build(vcf, args.build, args.vcf)
        if not list(vcf.samples):
            raise PgxInputError(args.vcf, "germline VCF has no sample columns")
        records = sum(1 for _ in checked_records(vcf, args.vcf))
        write_text_atomic(args.out, f"{args.vcf}\t{records} records\tok\n")
        return
    stats = ReadStats()
    for _ in iter_variants(args.vcf, build=args.build, tumor_sample=args.tumor_sample,
                           normal_sample=args.normal_sample, filters=Filters(), stats=stats):
        pass
    write_text_atomic(args.out, f"{args.vcf}\t{stats.records} records\t{stats.kept} alleles kept\tok\n")


def _match_and_write(args: argparse.Namespace, origin: str,
                     load: Callable[[Path, Any], tuple[list[dict[str, str]], list[Any], list[str]]]) -> int:
    """Resolve the tumor type and knowledge base, then load the inputs (`load`: variants,
    further alterations, notes for the table's header), match them and write the table."""
    from pgx.match import MATCH_COLUMNS, KnowledgeBase, alterations_from_variants, match
    from pgx.ontology import Ontology
    from pgx.outputs import write_tsv_atomic

    resources = _resources(args)
    ontology = Ontology.load(resources)
    tumor = ontology.tumor_type(args.tumor_type)
    kb = KnowledgeBase.load(resources, [Path(p) for p in getattr(args, "extra_kb", None) or []])
    variants, others, notes = load(resources, kb)
    alterations = alterations_from_variants(variants, args.build, kb.hotspot_codons, kb.inactivated_genes)
    rows = match(alterations + others, kb, ontology, tumor, origin=origin)
    write_tsv_atomic(args.out, MATCH_COLUMNS, rows,
                     [f"pgx {__version__}", f"knowledge base: {kb.version}",
                      f"tumor type: {tumor.code} ({tumor.name})", *notes])
    return len(rows)


def cmd_match(args: argparse.Namespace) -> None:
    from pgx.match import (
        alterations_from_cna,
        alterations_from_fusions,
        in_evidence_genes,
        read_variants,
    )

    def load(resources: Path, kb: Any) -> tuple[list[dict[str, str]], list[Any], list[str]]:
        variants: list[dict[str, str]] = []
        if args.variants:
            variants = list(in_evidence_genes(read_variants(args.variants), kb))
        elif args.vcf:
            from pgx.annotate import annotate_vcf

            with tempfile.TemporaryDirectory() as tmp:
                annotate_vcf(args.vcf, build=args.build, out_vcf=f"{tmp}/a.vcf.gz",
                             out_tsv=f"{tmp}/v.tsv", resources=resources)
                variants = list(in_evidence_genes(read_variants(f"{tmp}/v.tsv"), kb))
        others = alterations_from_cna(args.cna or "") + alterations_from_fusions(args.fusions or "")
        return variants, others, []

    print(f"{_match_and_write(args, args.origin, load)} matches", file=sys.stderr)


def cmd_germline(args: argparse.Namespace) -> None:
    """Germline findings relevant to therapy: variants in genes with germline therapy evidence."""
    from pgx.annotate import annotate_in_genes
    from pgx.match import germline_therapy_genes
    from pgx.outputs import cell

    def load(resources: Path, kb: Any) -> tuple[list[dict[str, str]], list[Any], list[str]]:
        genes = germline_therapy_genes(kb)
        rows = annotate_in_genes(args.vcf, build=args.build, resources=resources, genes=genes, sample=args.sample)
        # Rows as variants.tsv would hold them, the form the matcher reads.
        variants = [{k: cell(v) for k, v in r.items()} for r in rows]
        return variants, [], [f"germline genes examined: {len(genes)}", f"variants in them: {len(rows)}"]

    print(f"{_match_and_write(args, 'germline', load)} germline matches", file=sys.stderr)


def cmd_diplotypes(args: argparse.Namespace) -> None:
    from pgx.kb.pharmacogenes import OUTSIDE_CALL_GENES
    from pgx.match import read_matches, therapy_drugs
    from pgx.outputs import write_tsv_atomic
    from pgx.pharmacogenes import (
        CALL_COLUMNS,
        GUIDANCE_COLUMNS,
        _for_sample,
        call_vcf,
        guidance,
        hla_alleles_of_interest,
        load_phenotypes,
        load_recommendations,
        not_tested,
        read_outside_calls,
    )

    resources = _resources(args)
    calls = call_vcf(args.vcf, resources, samples=args.sample or None, genes=args.gene or None,
                     missing_as_reference=args.missing_as_reference, build=args.build)
    recommendations = load_recommendations(resources)
    samples = sorted({c.sample for c in calls})
    outside = read_outside_calls(args.outside_calls, "", load_phenotypes(resources, outside_calls=True),
                                 hla_alleles_of_interest(recommendations)) if args.outside_calls else []
    replaced = {c.gene for c in outside}
    calls = [c for c in calls if c.gene not in replaced]
    for sample in samples:
        calls += [_for_sample(c, sample) for c in outside]
        if not args.gene:  # every gene with guidance gets a row, tested or not
            calls += [not_tested(g, sample) for g in OUTSIDE_CALL_GENES if g not in replaced]
    calls.sort(key=lambda c: (c.sample, c.gene))
    comments = [f"pgx {__version__}", f"input: {Path(args.vcf).name}"]
    write_tsv_atomic(args.out, CALL_COLUMNS, [c.as_row() for c in calls], comments)
    if args.guidance_out:
        proposed: set[str] = set()
        if args.matches:
            for m in read_matches(args.matches):
                # Proposed: drugs the tumor's evidence speaks for in its own tumor type, not any
                # drug named in a resistance or off-label row.
                if m["direction"] == "sensitivity" and m["on_label"] == "true":
                    proposed |= set(therapy_drugs(m["therapy"]))
        rows: list[dict[str, object]] = []
        for sample in sorted({c.sample for c in calls}):
            rows += guidance([c for c in calls if c.sample == sample], recommendations, proposed)
        write_tsv_atomic(args.guidance_out, GUIDANCE_COLUMNS, rows, comments)


def cmd_report(args: argparse.Namespace) -> None:
    from pgx.ontology import Ontology
    from pgx.report import build_report, write_report

    resources = _resources(args)
    tumor = Ontology.load(resources).tumor_type(args.tumor_type)
    report = build_report(
        patient=args.patient,
        tumor_type={"code": tumor.code, "name": tumor.name, "lineage": list(tumor.lineage)},
        build=args.build,
        inputs={"tumor_vcf": Path(args.tumor_vcf).name if args.tumor_vcf else "",
                "germline_vcf": Path(args.germline_vcf).name if args.germline_vcf else ""},
        resources=resources, variants_tsv=args.variants, matches_tsv=args.matches,
        pharmacogenes_tsv=args.pharmacogenes, guidance_tsv=args.guidance,
        germline_matches_tsv=args.germline_matches, qc_json=args.qc,
        settings=_settings(args.settings),
        callable_mb=args.callable_mb,
    )
    write_report(report, args.json_out, args.html_out)
    if args.matches_out:
        from pgx.report import write_flagged_matches

        write_flagged_matches(args.matches, args.guidance, args.matches_out, args.germline_matches)


def _settings(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PgxInputError("--settings", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(settings, dict):
        raise PgxInputError("--settings", "must be a JSON object")
    return settings


def cmd_cohort(args: argparse.Namespace) -> None:
    from pgx.cohort import summarise

    summarise(args.reports, args.out_tsv, args.out_html)


def cmd_kb_build(args: argparse.Namespace) -> None:
    from pgx.kb.build import build

    manifest = build(Path(args.shared_data), _resources(args))
    print(json.dumps(manifest["counts"], indent=1, sort_keys=True))


def cmd_kb_update(args: argparse.Namespace) -> None:
    from pgx.kb.update import update

    checksums = {}
    for item in args.sha256 or []:
        name, _, digest = item.partition("=")
        checksums[name] = digest
    manifest = update(_resources(args), args.release, base_url=args.base_url, checksums=checksums,
                      timeout=args.timeout, retries=args.retries, backoff=args.backoff,
                      deadline=args.deadline)
    civic_source = next(s for s in manifest["sources"] if s["name"] == "CIViC")
    print(f"knowledge base updated to CIViC {civic_source['version']} "
          f"({manifest['counts']['civic']['evidence_items']} evidence items)")


def cmd_kb_verify(args: argparse.Namespace) -> None:
    from pgx.kb import Manifest, verify

    resources = _resources(args)
    bad = verify(resources)
    if bad:
        raise PgxInputError(str(resources), f"checksum mismatch: {', '.join(bad)}")
    print(f"knowledge base intact: {Manifest.load(resources).label}")


def cmd_samples(args: argparse.Namespace) -> None:
    from pgx.ontology import Ontology
    from pgx.samples import read_sheet

    patients = read_sheet(args.sheet, Ontology.load(_resources(args)), check_files=not args.no_files)
    print(f"{len(patients)} patients OK")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pgx", description=__doc__)
    p.add_argument("--version", action="version", version=f"pgx {__version__}")
    p.add_argument("--resources", help="knowledge-base folder (default: the bundled resources/)")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("annotate", help="normalise and annotate a VCF")
    a.add_argument("--vcf", required=True)
    a.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"])
    a.add_argument("--tumor-sample")
    a.add_argument("--normal-sample")
    a.add_argument("--min-depth", type=int, default=0)
    a.add_argument("--min-vaf", type=float, default=0.0)
    a.add_argument("--keep-non-pass", action="store_true", help="keep records whose FILTER is not PASS")
    a.add_argument("--reference-fasta", help="FASTA for left-alignment and codon bases")
    a.add_argument("--out-vcf", required=True)
    a.add_argument("--out-tsv", required=True)
    a.add_argument("--qc-out")
    a.add_argument("--threads", type=int, default=1,
                   help="cores: 2 reads records ahead in a second process; more annotates that many "
                        "contigs at a time (needs a .tbi index beside the VCF)")
    a.set_defaults(func=cmd_annotate)

    val = sub.add_parser("validate", help="check an input VCF")
    val.add_argument("--vcf", required=True)
    val.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"])
    val.add_argument("--role", choices=["tumor", "germline"], default="tumor")
    val.add_argument("--tumor-sample")
    val.add_argument("--normal-sample")
    val.add_argument("--out", required=True)
    val.set_defaults(func=cmd_validate)

    m = sub.add_parser("match", help="match variants to therapies")
    source = m.add_mutually_exclusive_group(required=True)
    source.add_argument("--vcf", help="a VCF (annotated on the fly)")
    source.add_argument("--variants", help="variants.tsv from `pgx annotate`")
    m.add_argument("--tumor-type", required=True, help="OncoTree code, e.g. LUAD")
    m.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"])
    m.add_argument("--cna", help="TSV with columns gene, call")
    m.add_argument("--fusions", help="TSV with columns gene_5, gene_3")
    m.add_argument("--origin", choices=["somatic", "germline"], default="somatic")
    m.add_argument("--extra-kb", action="append", metavar="DIR",
                   help="a user knowledge base (variants.tsv, profiles.tsv, evidence.tsv, source.json)")
    m.add_argument("--out", required=True)
    m.set_defaults(func=cmd_match)

    g = sub.add_parser("germline", help="germline findings relevant to therapy")
    g.add_argument("--vcf", required=True)
    g.add_argument("--tumor-type", required=True)
    g.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"])
    g.add_argument("--sample", help="sample column (else the only sample)")
    g.add_argument("--out", required=True)
    g.set_defaults(func=cmd_germline)

    d = sub.add_parser("diplotypes", help="call pharmacogenes from a germline VCF")
    d.add_argument("--vcf", required=True)
    d.add_argument("--build", choices=["GRCh37", "GRCh38"], default="GRCh38")
    d.add_argument("--sample", action="append")
    d.add_argument("--gene", action="append")
    d.add_argument("--missing-as-reference", action="store_true")
    d.add_argument("--outside-calls")
    d.add_argument("--matches", help="matches.tsv: its drugs come first in the guidance")
    d.add_argument("--guidance-out")
    d.add_argument("--out", required=True)
    d.set_defaults(func=cmd_diplotypes)

    r = sub.add_parser("report", help="write report.json and report.html")
    r.add_argument("--patient", required=True)
    r.add_argument("--tumor-type", required=True)
    r.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"])
    r.add_argument("--tumor-vcf", default="")
    r.add_argument("--germline-vcf", default="")
    for name in ("variants", "matches", "pharmacogenes", "guidance", "germline-matches", "qc"):
        r.add_argument(f"--{name}")
    r.add_argument("--settings", help="JSON object of run settings to show")
    r.add_argument("--callable-mb", type=float, default=0.0, help="callable size (Mb) for TMB; 0: not computed")
    r.add_argument("--matches-out", help="final match table with the pgx_guidance column")
    r.add_argument("--json-out", required=True)
    r.add_argument("--html-out", required=True)
    r.set_defaults(func=cmd_report)

    c = sub.add_parser("cohort", help="summary across patients")
    c.add_argument("--reports", nargs="+", required=True)
    c.add_argument("--out-tsv", required=True)
    c.add_argument("--out-html", required=True)
    c.set_defaults(func=cmd_cohort)

    s = sub.add_parser("samples", help="check a sample sheet")
    s.add_argument("sheet")
    s.add_argument("--no-files", action="store_true", help="do not check that files exist")
    s.set_defaults(func=cmd_samples)

    kb = sub.add_parser("kb", help="knowledge base")
    kbsub = kb.add_subparsers(dest="kb_command", required=True)
    b = kbsub.add_parser("build", help="build resources/ from the public sources")
    b.add_argument("--shared-data", required=True, help="folder with the raw public data")
    b.set_defaults(func=cmd_kb_build)
    u = kbsub.add_parser("update", help="fetch a CIViC monthly release and swap it in (network)")
    u.add_argument("--release", required=True, help="release date, YYYY-MM-DD (CIViC releases monthly)")
    u.add_argument("--base-url", default="https://civicdb.org/downloads")
    u.add_argument("--sha256", action="append", metavar="FILE=HEX", help="expected checksum of a release file")
    u.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer or read")
    u.add_argument("--deadline", type=float, default=900.0,
                   help="seconds the whole update may take, however slowly the server sends")
    u.add_argument("--retries", type=int, default=3)
    u.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds, doubling")
    u.set_defaults(func=cmd_kb_update)
    v = kbsub.add_parser("verify", help="check the tables against the manifest")
    v.set_defaults(func=cmd_kb_verify)
    return p


@contextlib.contextmanager
def _stopping_cleanly_on_sigterm() -> Iterator[None]:
    """SIGTERM (a cancelled cluster job, Snakemake stopping) unwinds like Ctrl-C, so temporary
    outputs and folders are removed on the way out."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Whatever goes wrong ends in one `pgx: error:` line: a refused input
    names the file, record and problem, with htslib's own words folded in."""
    import os

    from pgx.htslib_messages import HTSLIB

    args = parser().parse_args(argv)
    error: str | None = None
    code = 0
    with _stopping_cleanly_on_sigterm(), HTSLIB.captured():
        try:
            args.func(args)
        except PgxInputError as exc:
            error, code = str(exc), 2
        except OSError as exc:  # an output that cannot be written (a full disk, a missing directory)
            error, code = str(exc), 1
        except Exception as exc:
            if os.environ.get("PGX_DEBUG"):
                raise
            error, code = (f"unexpected failure, a bug in pgx (rerun with PGX_DEBUG=1 for the "
                           f"traceback and please report it): {type(exc).__name__}: {exc}"), 1
        htslib = HTSLIB.since()
    if error is not None:
        said = f" (htslib: {'; '.join(htslib)})" if htslib else ""
        print(f"pgx: error: {' '.join(error.split())}{said}", file=sys.stderr)
    else:
        for line in htslib:
            print(f"pgx: htslib: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
