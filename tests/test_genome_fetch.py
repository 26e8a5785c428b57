"""`pgx reference fetch` against a local HTTP server serving a gzip FASTA and its md5sum.txt,
as UCSC does: the written genome is bgzipped and indexed by htslib, masked to the exons when
asked, and a failed fetch leaves the previous genome intact. Only the network is faked."""

from __future__ import annotations

import gzip
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server

from pgx.cli import main
from pgx.errors import PgxInputError
from pgx.genome import Genome, fetch_genome

rng = random.Random(7)
CONTIGS = {"chr1": "".join(rng.choice("ACGT") for _ in range(1000)), "chrX": "".join(rng.choice("acgt") for _ in range(250))}


def assembly(contigs: dict[str, str]) -> bytes:
    text = "".join(f">{name} some description\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
                   for name, seq in contigs.items())
    return gzip.compress(text.encode())


@pytest.fixture
def server() -> Iterator[Server]:
    body = assembly(CONTIGS)
    instance = Server({"hg38.fa.gz": body, "md5sum.txt": f"{hashlib.md5(body).hexdigest()}  hg38.fa.gz\n".encode()})
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


def test_a_whole_genome_is_written_bgzipped_and_indexed_with_every_base(server: Server, tmp_path: Path) -> None:
    path = fetch_genome("GRCh38", tmp_path, url=f"{server.url}/hg38.fa.gz", backoff=0)
    assert path == tmp_path / "GRCh38.fa.gz" and {p.name for p in tmp_path.iterdir()} == {
        "GRCh38.fa.gz", "GRCh38.fa.gz.fai", "GRCh38.fa.gz.gzi"}
    assert path.read_bytes()[-28:] == bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    genome = Genome(path, "GRCh38")
    assert genome.fetch("1", 0, 1000) == CONTIGS["chr1"] and genome.fetch("chrX", 0, 250) == CONTIGS["chrX"].upper()


def test_masked_to_exons_keeps_only_their_bases(server: Server, tmp_path: Path) -> None:
    exons = [("1", 100, 130), ("chr1", 120, 200), ("1", 990, 1000)]
    path = fetch_genome("GRCh38", tmp_path, url=f"{server.url}/hg38.fa.gz", exons=exons, backoff=0)
    genome = Genome(path, "GRCh38")
    seq = CONTIGS["chr1"]
    assert genome.fetch("chr1", 0, 1000) == "N" * 100 + seq[100:200] + "N" * 790 + seq[990:]
    assert genome.fetch("chrX", 0, 250) == "N" * 250


@pytest.mark.parametrize("mode,message", [
    ("corrupt", "checksum mismatch"), ("truncated", "gave up after 2 attempts: truncated body"),
    ("404", "no md5 for this file"),
])
def test_a_failed_fetch_leaves_the_previous_genome_intact(server: Server, tmp_path: Path, mode: str, message: str) -> None:
    fetch_genome("GRCh38", tmp_path, url=f"{server.url}/hg38.fa.gz", backoff=0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    if mode == "404":
        server.payloads["md5sum.txt"] = b"0123  other.fa.gz\n"
    else:
        server.mode["hg38.fa.gz"] = mode
    with pytest.raises(PgxInputError, match=message) as failed:
        fetch_genome("GRCh38", tmp_path, url=f"{server.url}/hg38.fa.gz", retries=1, backoff=0, exons=[])
    assert str(failed.value).endswith(f"{tmp_path / 'GRCh38.fa.gz'} is unchanged")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_command_masks_to_the_bundled_exons_and_says_where_it_wrote(server: Server, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "fetch", "--build", "GRCh38", "--output", str(tmp_path),
                 "--url", f"{server.url}/hg38.fa.gz"]) == 0
    assert f"{tmp_path / 'GRCh38.fa.gz'} written" in capsys.readouterr().out
    # No bundled transcript has an exon in the first 1,000 bases of chr1.
    assert Genome(tmp_path / "GRCh38.fa.gz", "GRCh38").fetch("chr1", 0, 1000) == "N" * 1000
    assert main(["reference", "fetch", "--build", "GRCh37", "--output", str(tmp_path),
                 "--url", f"{server.url}/hg38.fa.gz"]) == 1
    assert "fetch GRCh37 with --whole" in capsys.readouterr().err
