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
from pgx.vcf import BUILDS


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
        args.vcf, build=args.build, out_vcf=args.output_vcf, out_tsv=args.output_tsv,
        resources=_resources(args), tumor_sample=args.tumor_sample,
        normal_sample=args.normal_sample,
        filters=Filters(not args.keep_non_pass, args.min_depth, args.min_vaf),
        references=_references(args), qc_out=args.output_qc, threads=args.threads,
    )
    print(f"annotated {qc['kept']} of {qc['alleles']} alleles from {qc['records']} records", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> None:
    """Read the whole VCF once so that a bad record stops the run before any work is done."""
    from pgx.outputs import write_text_atomic
    from pgx.vcf import (
        Filters,
        ReadStats,
        check_build,
        checked_records,
        iter_variants,
        open_vcf,
        record_line_batches,
    )

    # The lines as written, as annotate reads them: htslib's reading below drops sample
    # columns the header does not name, without a word.
    for _ in record_line_batches(open_vcf(args.vcf), args.vcf):
        pass
    if args.role == "germline":
        vcf = open_vcf(args.vcf)
        check_build(vcf, args.build, args.vcf)
        if not list(vcf.samples):
            raise PgxInputError(args.vcf, "germline VCF has no sample columns")
        records = sum(1 for _ in checked_records(vcf, args.vcf))
        write_text_atomic(args.output, f"{args.vcf}\t{records} records\tok\n")
        return
    from pgx.genome import Genome

    stats = ReadStats()
    genome = _references(args).get(args.build)
    for _ in iter_variants(args.vcf, build=args.build, tumor_sample=args.tumor_sample,
                           normal_sample=args.normal_sample, filters=Filters(), stats=stats,
                           genome=Genome(genome, args.build) if genome else None):
        pass
    write_text_atomic(args.output, f"{args.vcf}\t{stats.records} records\t{stats.kept} alleles kept\tok\n")


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
    write_tsv_atomic(args.output, MATCH_COLUMNS, rows,
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
                             out_tsv=f"{tmp}/v.tsv", resources=resources, references=_references(args))
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
        if args.variants:  # the sample's rows of a cohort's table (pgx germline-variants)
            rows: list[dict[str, Any]] = _sample_rows(args.variants, args.sample)
        else:
            rows = annotate_in_genes(args.vcf, build=args.build, resources=resources, genes=genes,
                                     samples=[args.sample] if args.sample else None, references=_references(args))
        # Rows as variants.tsv would hold them, the form the matcher reads.
        variants = [{k: cell(v) for k, v in r.items() if k != "sample"} for r in rows]
        return variants, [], [f"germline genes examined: {len(genes)}", f"variants in them: {len(rows)}"]

    print(f"{_match_and_write(args, 'germline', load)} germline matches", file=sys.stderr)


def _sample_rows(path: str, sample: str | None) -> list[dict[str, str]]:
    from pgx.match import read_variants

    rows = []
    for row in read_variants(path):
        if "sample" not in row:
            raise PgxInputError(path, "no sample column: not a table 'pgx germline-variants' wrote", record="header")
        if sample is None or row["sample"] == sample:
            rows.append(row)
    return rows


def cmd_germline_variants(args: argparse.Namespace) -> None:
    """A cohort's joint-called germline VCF read once: the variants of every sample in genes
    with germline therapy evidence, for `pgx germline --variants` to match per patient."""
    from pgx.annotate import VARIANT_COLUMNS, annotate_in_genes
    from pgx.kb import Manifest
    from pgx.match import KnowledgeBase, germline_therapy_genes
    from pgx.outputs import write_tsv_atomic
    from pgx.vcf import open_vcf

    resources = _resources(args)
    genes = germline_therapy_genes(KnowledgeBase.load(resources, []))
    rows = annotate_in_genes(args.vcf, build=args.build, resources=resources, genes=genes,
                             samples=args.sample or list(open_vcf(args.vcf).samples), references=_references(args))
    write_tsv_atomic(args.output, ["sample", *VARIANT_COLUMNS], rows,
                     [f"pgx {__version__}", f"knowledge base: {Manifest.load(resources).label}",
                      f"input: {Path(args.vcf).name}", f"germline genes examined: {len(genes)}"])
    print(f"{len(rows)} variants in {len(genes)} genes", file=sys.stderr)


def cmd_diplotypes(args: argparse.Namespace) -> None:
    from pgx.match import proposed_drugs, read_matches
    from pgx.outputs import table_comments, write_tsv_atomic
    from pgx.pharmacogenes import (
        CALL_COLUMNS,
        GUIDANCE_COLUMNS,
        call_vcf,
        calls_from_table,
        guidance_per_sample,
        hla_alleles_of_interest,
        load_phenotypes,
        load_recommendations,
        read_outside_calls,
        with_outside_calls,
    )

    resources = _resources(args)
    if args.calls:
        calls = calls_from_table(args.calls, args.sample or None)
        source = next((c.split(": ", 1)[1] for c in table_comments(args.calls) if c.startswith("input: ")), "")
    else:
        calls = call_vcf(args.vcf, resources, samples=args.sample or None, genes=args.gene or None,
                         missing_as_reference=args.missing_as_reference, build=args.build)
        source = Path(args.vcf).name
    recommendations = load_recommendations(resources)
    outside = read_outside_calls(args.outside_calls, "", load_phenotypes(resources, outside_calls=True),
                                 hla_alleles_of_interest(recommendations)) if args.outside_calls else []
    calls = with_outside_calls(calls, outside, every_gene=not args.gene)
    comments = [f"pgx {__version__}", f"input: {source}"]
    write_tsv_atomic(args.output, CALL_COLUMNS, [c.as_row() for c in calls], comments)
    if args.output_guidance:
        proposed = proposed_drugs(read_matches(args.matches)) if args.matches else set()
        write_tsv_atomic(args.output_guidance, GUIDANCE_COLUMNS,
                         guidance_per_sample(calls, recommendations, proposed), comments)


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
    write_report(report, args.output_json, args.output_html)
    if args.output_matches:
        from pgx.report import write_flagged_matches

        write_flagged_matches(args.matches, args.guidance, args.output_matches, args.germline_matches)


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

    summarise(args.reports, args.output_tsv, args.output_html)


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


def cmd_reference_fetch(args: argparse.Namespace) -> None:
    from pgx.genome import exon_intervals, fetch_genome

    exons = None
    if not args.whole:
        if args.build != "GRCh38":
            raise PgxInputError(args.build, "the bundled transcript models are GRCh38: fetch GRCh37 with --whole")
        from pgx.transcripts import TranscriptIndex

        exons = exon_intervals(TranscriptIndex.load(_resources(args) / "annotation"))
    path = fetch_genome(args.build, args.output, url=args.url, md5=args.md5, exons=exons, timeout=args.timeout,
                        retries=args.retries)
    print(f"{path} written; point config reference: {args.build}: at it, or pass --reference {args.build}={path}")


def _references(args: argparse.Namespace) -> dict[str, str]:
    """`--reference [BUILD=]FASTA` (repeatable): a FASTA per build; without BUILD=, the VCF's."""
    given = getattr(args, "reference", None) or []
    references = {}
    for item in [given] if isinstance(given, str) else given:
        build, sep, path = item.partition("=")
        if not sep or build not in BUILDS:
            build, path = args.build, item
        references[build] = path
    return references


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


EXIT_CODES = {0: "success", 1: "refused input (one `pgx: error:` line names the file, record and problem)",
              2: "usage error (an unknown or missing option)"}


class _Renamed(argparse.Action):
    """An option's former name, still accepted for one release because users' scripts call it:
    it sets the new option and says so once on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new_name: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new_name = new_name

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"pgx: warning: {option_string} is now {self.new_name}; the old name goes in a later release",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def _option(sub: argparse.ArgumentParser, *names: str, old: tuple[str, ...] = (), required: bool = False,
            **kwargs: Any) -> None:
    """Add an option; `old` names keep working, hidden, with a deprecation line. A required
    option with old names is checked after parsing (argparse cannot know either name will do)."""
    if required and old:
        kwargs["help"] = f"{kwargs['help']} (required)"
    action = sub.add_argument(*names, required=required and not old, **kwargs)
    for name in old:
        sub.add_argument(name, dest=action.dest, action=_Renamed, new_name=names[0], help=argparse.SUPPRESS)
    if required and old:
        sub.set_defaults(_required=[*(sub.get_default("_required") or []), (action.dest, names[0])])


def _global_options(parent: argparse.ArgumentParser, top: bool) -> None:
    """Options every command takes, before or after the sub-command name."""
    default = None if top else argparse.SUPPRESS  # after the command, only when given
    parent.add_argument("--resources", metavar="DIR", default=default,
                        help="knowledge-base folder (default: the bundled one, or $PGX_RESOURCES)")
    parent.add_argument("--progress", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="report records read, rate and time left every 30 s on stderr "
                             "(shown live anyway when stderr is a terminal)")


BUILD_HELP = "genome build of the VCF: GRCh37 or GRCh38"


def _vcf_or_table(sub: argparse.ArgumentParser, vcf_help: str, table: str, table_help: str) -> None:
    """The input: a VCF, or a table an earlier step made from one."""
    source = sub.add_mutually_exclusive_group(required=True)
    source.add_argument("--vcf", help=vcf_help)
    source.add_argument(table, metavar="TSV", help=table_help)


def _reference_option(sub: argparse.ArgumentParser) -> None:
    _option(sub, "--reference", old=("--reference-fasta",), action="append", metavar="[BUILD=]FASTA",
            help="reference genome (indexed FASTA) of the VCF's build, or BUILD=FASTA (repeatable): every "
                 "REF is checked against it, indels left-aligned and HGVS 3'-shifted, protein changes "
                 "computed; a GRCh37 VCF takes GRCh38=FASTA too for protein changes")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pgx", description=__doc__,
        epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".")
    p.add_argument("--version", action="version", version=f"pgx {__version__}")
    _global_options(p, top=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, top=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    a = command("annotate", "normalise and annotate a tumor VCF: annotated VCF.gz with index, variants.tsv")
    a.add_argument("--vcf", required=True, help="tumor VCF, VCF.gz or BCF")
    a.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    a.add_argument("--tumor-sample", help="tumor sample column (default: from the header or the only sample)")
    a.add_argument("--normal-sample", help="normal sample column, when the VCF holds both")
    a.add_argument("--min-depth", type=int, default=0, help="drop alleles read at a lower depth (default 0)")
    a.add_argument("--min-vaf", type=float, default=0.0, help="drop alleles at a lower allele fraction (default 0)")
    a.add_argument("--keep-non-pass", action="store_true", help="keep records whose FILTER is not PASS")
    _reference_option(a)
    _option(a, "--output-vcf", old=("--out-vcf",), required=True, help="annotated VCF.gz to write (its .tbi beside it)")
    _option(a, "--output-tsv", old=("--out-tsv",), required=True, help="variants.tsv to write")
    _option(a, "--output-qc", old=("--qc-out",), help="QC JSON to write: what was read, removed and why")
    a.add_argument("--threads", type=int, default=1,
                   help="cores: htslib, which writes the VCF.gz in a process of its own, compresses on "
                        "N-1 more threads (the same bytes whatever N)")
    a.set_defaults(func=cmd_annotate)

    val = command("validate", "read a whole input VCF through the checked reader; refuse it in one line if damaged")
    val.add_argument("--vcf", required=True, help="VCF, VCF.gz or BCF to check")
    val.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    val.add_argument("--role", choices=["tumor", "germline"], default="tumor",
                     help="tumor (sample roles, depth and allele fraction) or germline (genotypes)")
    val.add_argument("--tumor-sample", help="tumor sample column (tumor role)")
    val.add_argument("--normal-sample", help="normal sample column (tumor role)")
    _reference_option(val)
    _option(val, "--output", "-o", old=("--out",), required=True, help="one-line summary to write when the VCF is sound")
    val.set_defaults(func=cmd_validate)

    m = command("match", "match variants, copy-number calls and fusions to therapies")
    _vcf_or_table(m, "a VCF (annotated on the fly)", "--variants", "variants.tsv from `pgx annotate`")
    m.add_argument("--tumor-type", required=True, help="OncoTree code, e.g. LUAD")
    m.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    m.add_argument("--cna", help="TSV with columns gene, call")
    m.add_argument("--fusions", help="TSV with columns gene_5, gene_3")
    m.add_argument("--origin", choices=["somatic", "germline"], default="somatic",
                   help="which evidence applies: somatic (default) or germline")
    _reference_option(m)
    m.add_argument("--extra-kb", action="append", metavar="DIR",
                   help="a user knowledge base (variants.tsv, profiles.tsv, evidence.tsv, source.json)")
    _option(m, "--output", "-o", old=("--out",), required=True, help="matches.tsv to write")
    m.set_defaults(func=cmd_match)

    g = command("germline", "germline variants in genes with therapy evidence, matched like somatic ones")
    _vcf_or_table(g, "germline VCF", "--variants", "the table 'pgx germline-variants' wrote for a cohort's VCF; "
                                                   "with --sample, that sample's variants")
    g.add_argument("--tumor-type", required=True, help="OncoTree code, e.g. BRCA")
    g.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    g.add_argument("--sample", help="sample column (else the only sample)")
    _reference_option(g)
    _option(g, "--output", "-o", old=("--out",), required=True, help="germline matches.tsv to write")
    g.set_defaults(func=cmd_germline)

    gv = command("germline-variants", "read a cohort's joint-called germline VCF once: every sample's variants "
                                      "in genes with germline therapy evidence")
    gv.add_argument("--vcf", required=True, help="germline VCF; one or many samples")
    gv.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    gv.add_argument("--sample", action="append", help="sample to read (repeatable; default: every sample)")
    _reference_option(gv)
    _option(gv, "--output", "-o", required=True, help="variants table to write (variants.tsv columns and sample)")
    gv.set_defaults(func=cmd_germline_variants)

    d = command("diplotypes", "call pharmacogenes from a germline VCF and attach CPIC/DPWG guidance")
    _vcf_or_table(d, "germline VCF; one or many samples", "--calls",
                  "pharmacogenes.tsv that 'pgx diplotypes' wrote for many samples of one VCF (a cohort's "
                  "joint-called VCF read once); with --sample, those samples' calls")
    d.add_argument("--build", choices=BUILDS, default="GRCh38", help=BUILD_HELP + " (default GRCh38)")
    d.add_argument("--sample", action="append", help="sample to call (repeatable; default: every sample)")
    d.add_argument("--gene", action="append", help="gene to call (repeatable; default: every gene defined)")
    d.add_argument("--missing-as-reference", action="store_true",
                   help="read positions absent from the VCF as reference (only for whole-genome calls "
                        "that omit reference sites; each assumption is listed)")
    d.add_argument("--outside-calls", help="TSV of calls made elsewhere (gene, diplotype or phenotype, e.g. HLA-B, CYP2D6)")
    d.add_argument("--matches", help="matches.tsv: its drugs come first in the guidance")
    _option(d, "--output", "-o", old=("--out",), required=True, help="pharmacogenes.tsv to write (one row per sample and gene)")
    _option(d, "--output-guidance", old=("--guidance-out",), help="guidance.tsv to write (CPIC/DPWG recommendations)")
    d.set_defaults(func=cmd_diplotypes)

    r = command("report", "write the patient's report.json and self-contained report.html")
    r.add_argument("--patient", required=True, help="patient id, as in the sample sheet")
    r.add_argument("--tumor-type", required=True, help="OncoTree code, e.g. LUAD")
    r.add_argument("--build", required=True, choices=BUILDS, help=BUILD_HELP)
    r.add_argument("--tumor-vcf", default="", help="tumor VCF's name, shown as the input")
    r.add_argument("--germline-vcf", default="", help="germline VCF's name, shown as the input")
    for name, what in (("variants", "variants.tsv from `pgx annotate`"), ("matches", "matches.tsv from `pgx match`"),
                       ("pharmacogenes", "pharmacogenes.tsv from `pgx diplotypes`"),
                       ("guidance", "guidance.tsv from `pgx diplotypes`"),
                       ("germline-matches", "germline matches.tsv from `pgx germline`"),
                       ("qc", "QC JSON from `pgx annotate`")):
        r.add_argument(f"--{name}", help=f"{what} (optional)")
    r.add_argument("--settings", help="JSON object of run settings to show")
    r.add_argument("--callable-mb", type=float, default=0.0, help="callable size (Mb) for TMB; 0: not computed")
    _option(r, "--output-matches", old=("--matches-out",), help="final match table with the pgx_guidance column")
    _option(r, "--output-json", old=("--json-out",), required=True, help="report.json to write")
    _option(r, "--output-html", old=("--html-out",), required=True, help="report.html to write")
    r.set_defaults(func=cmd_report)

    c = command("cohort", "summary across patients: actionable genes, levels by tumor type, phenotype shares")
    c.add_argument("--reports", nargs="+", required=True, help="the patients' report.json files")
    _option(c, "--output-tsv", old=("--out-tsv",), required=True, help="summary.tsv to write")
    _option(c, "--output-html", old=("--out-html",), required=True, help="summary.html to write")
    c.set_defaults(func=cmd_cohort)

    s = command("samples", "check a sample sheet as the workflow would, before any job")
    s.add_argument("sheet", help="the sample sheet (TSV)")
    s.add_argument("--no-files", action="store_true", help="do not check that files exist")
    s.set_defaults(func=cmd_samples)

    kb = command("kb", "knowledge base: build, update, verify")
    kbsub = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    b = kbsub.add_parser("build", help="build resources/ from the public sources", parents=[common])
    b.add_argument("--shared-data", required=True, help="folder with the raw public data")
    b.set_defaults(func=cmd_kb_build)
    u = kbsub.add_parser("update", help="fetch a CIViC monthly release and swap it in (network)", parents=[common])
    u.add_argument("--release", required=True, help="release date, YYYY-MM-DD (CIViC releases monthly)")
    u.add_argument("--base-url", default="https://civicdb.org/downloads",
                   help="where the releases are (default: CIViC's downloads)")
    u.add_argument("--sha256", action="append", metavar="FILE=HEX", help="expected checksum of a release file")
    u.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer or read")
    u.add_argument("--deadline", type=float, default=900.0,
                   help="seconds the whole update may take, however slowly the server sends")
    u.add_argument("--retries", type=int, default=3, help="further attempts after a failed download (default 3)")
    u.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds, doubling")
    u.set_defaults(func=cmd_kb_update)
    v = kbsub.add_parser("verify", help="check the tables against the manifest", parents=[common])
    v.set_defaults(func=cmd_kb_verify)

    ref = command("reference", "reference genome: fetch the FASTA annotation reads sequence from")
    refsub = ref.add_subparsers(dest="reference_command", required=True, metavar="REFERENCE_COMMAND")
    f = refsub.add_parser("fetch", help="download a build's assembly, check its md5, write it bgzipped and "
                                        "indexed (network)", parents=[common])
    f.add_argument("--build", required=True, choices=BUILDS, help="genome build")
    _option(f, "--output", "-o", old=("--out",), required=True, metavar="DIR",
            help="folder to write <build>.fa.gz (+ .fai, .gzi) into")
    f.add_argument("--whole", action="store_true",
                   help="keep every base (about 900 MB); default: the exons of the bundled transcript "
                        "models and 50 bases each side (90 Mb of sequence), the rest N (about 30 MB)")
    f.add_argument("--url", help="gzip FASTA to download (default: UCSC's hg38.fa.gz or hg19.fa.gz)")
    f.add_argument("--md5", help="its expected md5 (default: read from md5sum.txt beside it)")
    f.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each answer or read")
    f.add_argument("--retries", type=int, default=3, help="further attempts after a failed download (default 3)")
    f.set_defaults(func=cmd_reference_fetch)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    top = parser()
    args = top.parse_args(argv)
    for dest, flag in getattr(args, "_required", []):
        if getattr(args, dest, None) is None:
            top.error(f"the following arguments are required: {flag}")
    return args


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

    args = parse(argv)
    from pgx.progress import PROGRESS

    PROGRESS.configure(args.progress)
    error: str | None = None
    code = 0
    with _stopping_cleanly_on_sigterm(), HTSLIB.captured():
        try:
            args.func(args)
        except PgxInputError as exc:
            error, code = str(exc), 1
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
