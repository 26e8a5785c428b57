from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"
DEMO = ROOT / "demo"
SHARED = Path(os.environ.get("PGX_SHARED_DATA", ROOT.parent / "shared" / "data"))

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"public data folder {SHARED} is absent (it sits beside the checkout in CI)"
)

GRCH38_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=248956422>
##contig=<ID=chr2,length=242193529>
##contig=<ID=chr7,length=159345973>
##contig=<ID=chr12,length=133275309>
##contig=<ID=chr17,length=83257441>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=TVAF,Number=1,Type=Float,Description="Tumor VAF">
##INFO=<ID=TDP,Number=1,Type=Integer,Description="Tumor depth">
"""


def write_vcf(path: Path, records: list[str], samples: tuple[str, ...] = ("TUMOR",),
              header: str = GRCH38_HEADER, extra_header: str = "") -> Path:
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        columns += ["FORMAT", *samples]
    text = header + extra_header + "\t".join(columns) + "\n"
    text += "".join("\t".join(r.split()) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def resources() -> Path:
    return RESOURCES


@pytest.fixture(scope="session")
def kb() -> Any:
    from pgx.match import KnowledgeBase

    return KnowledgeBase.load(RESOURCES)


@pytest.fixture(scope="session")
def ontology() -> Any:
    from pgx.ontology import Ontology

    return Ontology.load(RESOURCES)


SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile")]


def demo_sheet(path: Path, copies: int = 1) -> Path:
    lines = (ROOT / "config/samples.tsv").read_text().splitlines()
    out = [lines[0]]
    for n in range(copies):
        for line in lines[1:]:
            cells = line.split("\t")
            cells[0] = cells[0] if copies == 1 else f"{cells[0]}-{n:05d}"
            cells = [str(ROOT / c) if c.startswith("demo/") else c for c in cells]
            out.append("\t".join(cells))
    path.write_text("\n".join(out) + "\n")
    return path


def run(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLURM_CONF": "/dev/null"}
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(ROOT / "config/config.yaml"),
         "--config", f"samples={workdir / 'samples.tsv'}", f"resources={RESOURCES}", *args],
        capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    demo_sheet(workdir / "samples.tsv")
    result = run(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir / "results"


# Headers of small GRCh37 and GRCh38 VCFs over the chromosomes the clinical cases use.
B37_HEADER = "##fileformat=VCFv4.2\n" + "".join(
    f"##contig=<ID={c},length={n}>\n" for c, n in
    (("2", 243199373), ("3", 198022430), ("4", 191154276), ("6", 171115067), ("7", 159138663),
     ("9", 141213431), ("10", 135534747), ("12", 133851895), ("13", 115169878), ("15", 102531392), ("17", 81195210))) + \
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
B38_HEADER = "##fileformat=VCFv4.2\n" + "".join(
    f"##contig=<ID=chr{c},length={n}>\n" for c, n in
    (("2", 242193529), ("3", 198295559), ("4", 190214555), ("6", 170805979), ("7", 159345973),
     ("9", 138394717), ("10", 133797422), ("12", 133275309), ("13", 114364328), ("15", 101991189), ("17", 83257441))) + \
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'


def match_record(tmp_path: Path, build: str, record: str | list[str], tumor: str, extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Annotate and match one VCF record ('7 140453136 . A T') in one build, by the CLI."""
    from pgx.cli import main
    from pgx.outputs import read_tsv

    out = tmp_path / f"{build}-{tumor}"
    out.mkdir(parents=True, exist_ok=True)
    records = [record] if isinstance(record, str) else record
    vcf = write_vcf(out / "t.vcf", [r + " . PASS . GT 0/1" for r in records],
                    header=B37_HEADER if build == "GRCh37" else B38_HEADER)
    assert main(["annotate", "--vcf", str(vcf), "--build", build, "--output-vcf", str(out / "a.vcf.gz"),
                 "--output-tsv", str(out / "v.tsv")]) == 0
    assert main(["match", "--variants", str(out / "v.tsv"), "--tumor-type", tumor, "--build", build,
                 "--output", str(out / "m.tsv"), *extra]) == 0
    return read_tsv(out / "m.tsv")


def with_final_newline(vcf: Path, folder: Path) -> Path:
    """`vcf`, or a copy in `folder` ending with the newline it lacks. Many of PharmCAT's
    hand-written test VCFs end without one, which pgx refuses as a possibly cut file (VCF 4.3;
    hts-specs lists such files as failures); nothing else of the file changes."""
    data = vcf.read_bytes()
    if data.endswith(b"\n"):
        return vcf
    copy = folder / vcf.name
    copy.write_bytes(data + b"\n")
    return copy


def write_user_kb(folder: Path, gene: str, change: str, disease: str, doid: str, therapy: str = "Labinib",
                  url: str = "https://lab.example/1", source: dict[str, str] | None = None) -> Path:
    """A one-item user knowledge base (`pgx match --extra-kb`): `change` such as 'V600E' at
    level B for `disease`."""
    import json

    from pgx.kb.civic import EVIDENCE_COLUMNS, PROFILE_COLUMNS, VARIANT_COLUMNS
    from pgx.outputs import write_tsv_atomic

    folder.mkdir(parents=True, exist_ok=True)
    ref_aa, codon, alt_aa = change[0], int(change[1:-1]), change[-1]
    write_tsv_atomic(folder / "variants.tsv", VARIANT_COLUMNS, [
        {"variant_id": 1, "gene": gene, "name": change, "kind": "protein", "ref_aa": ref_aa, "codon": codon,
         "codon_end": codon, "alt_aa": alt_aa}])
    write_tsv_atomic(folder / "profiles.tsv", PROFILE_COLUMNS, [
        {"profile_id": 1, "name": f"{gene} {change}", "logic": "single", "expression": "v1", "variant_ids": "1"}])
    write_tsv_atomic(folder / "evidence.tsv", [*EVIDENCE_COLUMNS, "url"], [
        {"evidence_id": "LAB-1", "profile_id": 1, "evidence_type": "Predictive", "evidence_direction": "Supports",
         "significance": "Sensitivity/Response", "evidence_level": "B", "disease": disease, "doid": doid,
         "therapies": therapy, "variant_origin": "Somatic", "citation_id": "12345", "source_type": "PubMed",
         "url": url}])
    (folder / "source.json").write_text(json.dumps(source or {"name": "LabKB", "version": "1", "license": "internal"}))
    return folder


MANE_SEQUENCES = SHARED / "reference/sequences/hgvs-weaver"
MANE_GENES = {"APC": "NM_000038.6", "BARD1": "NM_000465.4", "ALPL": "NM_000478.6", "LDLR": "NM_000527.5"}


def write_mane_genome(path: Path) -> Path:
    """A FASTA of chr1, chr2, chr5 and chr19 up to past APC, BARD1, ALPL and LDLR, with
    the exons of their MANE transcripts at their GRCh38 places (the real RefSeq cDNA in
    ../shared/data/reference/sequences) and N everywhere else: what an assembly download
    would hold at those bases. One line per contig (faidx allows it), faidx-indexed by htslib."""
    import pysam

    from pgx.transcripts import TranscriptIndex, reverse_complement

    index = TranscriptIndex.load(RESOURCES / "annotation")
    contigs: dict[str, bytearray] = {}
    for gene, refseq in MANE_GENES.items():
        tx = index.of_gene(gene)
        assert tx is not None and tx.refseq == refseq, gene
        cdna = (MANE_SEQUENCES / f"{refseq}.seq").read_text().strip()
        assert len(cdna) == sum(end - start for start, end in tx.exons), gene
        genomic = cdna if tx.strand == "+" else reverse_complement(cdna)  # exons in genomic order
        contig = contigs.setdefault(f"chr{tx.chrom}", bytearray())
        if len(contig) < tx.tx_end + 500:
            contig.extend(b"N" * (tx.tx_end + 500 - len(contig)))
        used = 0
        for start, end in tx.exons:
            contig[start:end] = genomic[used:used + end - start].encode()
            used += end - start
    with open(path, "wb") as out:
        for name in sorted(contigs, key=lambda c: int(c[3:])):
            out.write(f">{name}\n".encode() + bytes(contigs[name]) + b"\n")
    pysam.faidx(str(path))
    return path


@pytest.fixture(scope="session")
def mane_genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MANE_SEQUENCES.is_dir():
        pytest.skip(f"{MANE_SEQUENCES} is absent (it sits beside the checkout in CI)")
    return write_mane_genome(tmp_path_factory.mktemp("genome") / "GRCh38.fa")


class Server:
    """A local HTTP server of named payloads, each answered as `mode` says: the network is the
    one part tests fake."""

    def __init__(self, payloads: dict[str, bytes]):
        self.payloads = payloads
        self.mode: dict[str, str] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                name = self.path.rsplit("/", 1)[-1]
                outer.requests.append(name)
                mode = outer.mode.get(name, outer.mode.get("*", "ok"))
                body = outer.payloads.get(name)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if mode == "500" or (mode == "500-once" and outer.requests.count(name) == 1):
                    self.send_response(500)
                    self.end_headers()
                    return
                if mode == "slow":
                    time.sleep(1.5)
                if mode == "corrupt":
                    body = b"\x89PNG not a table at all\n" * 20
                if mode == "drip":  # a few bytes at a time, forever: only a deadline stops it
                    self.send_response(200)
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        for start in range(0, len(body), 64):
                            self.wfile.write(body[start:start + 64])
                            self.wfile.flush()
                            time.sleep(0.05)
                    return
                if mode == "rows-cut":  # cut at a row boundary, no Content-Length to tell
                    lines = body.splitlines(keepends=True)
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"".join(lines[: len(lines) // 2]))
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "truncated" else body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def joint_demo_germline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three demo germline VCFs joint as a cohort's would be (bcftools merge, htslib):
    samples MEL-01-N, LUNG-01-N, CRC-01-N; a site one of them lacks is ./. for it."""
    import pysam
    from pysam import bcftools

    folder = tmp_path_factory.mktemp("joint")
    parts = []
    for name in ("MEL-01", "LUNG-01", "CRC-01"):
        part = folder / f"{name}.vcf.gz"
        pysam.tabix_compress(str(DEMO / f"{name}.germline.vcf"), str(part), force=True)
        pysam.tabix_index(str(part), preset="vcf", force=True)
        parts.append(str(part))
    joint = folder / "joint.vcf.gz"
    bcftools.merge("-Oz", "-o", str(joint), *parts, catch_stdout=False)
    pysam.tabix_index(str(joint), preset="vcf", force=True)
    return joint
