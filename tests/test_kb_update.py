"""`pgx kb update` against a local HTTP server serving recorded CIViC release payloads:
good, truncated, corrupt, slow, 500 and checksum-mismatch answers. Only the network is faked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, Server, needs_shared

from pgx.errors import PgxInputError
from pgx.kb import Manifest, verify
from pgx.kb.update import release_file_names, update

RELEASE = "2024-09-01"
SOURCE = SHARED / "somatic/civic/2024-08-01"


def recorded_release(source: Path = SOURCE, release: str = RELEASE, share: float = 1.0) -> dict[str, bytes]:
    """A real release's files served as if they were `release`: header plus a slice."""
    payloads = {}
    for kind, name in release_file_names(release).items():
        lines = next(source.glob(f"*-{kind}Summaries.tsv")).read_bytes().splitlines(keepends=True)
        payloads[name] = b"".join(lines[: 1 + int((len(lines) - 1) * share)])
    return payloads


@pytest.fixture
def server() -> Iterator[Server]:
    instance = Server(recorded_release())
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    copy = tmp_path / "resources"
    shutil.copytree(RESOURCES, copy)
    return copy


def fast(kb: Path, server: Server, **kw: object) -> dict:
    return update(kb, RELEASE, base_url=server.url, timeout=0.5, retries=2, backoff=0.01, **kw)  # type: ignore[arg-type]


def snapshot(kb: Path) -> dict[str, bytes]:
    return {str(p.relative_to(kb)): p.read_bytes() for p in sorted(kb.rglob("*")) if p.is_file()}


@needs_shared
def test_good_update_swaps_in_the_new_release(kb: Path, server: Server) -> None:
    manifest = fast(kb, server)
    assert Manifest.load(kb).versions["CIViC"] == RELEASE
    assert verify(kb) == []
    assert manifest["counts"]["civic"]["evidence_items"] == 4375
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(".kb-")]


@needs_shared
def test_an_update_reads_the_2025_release_format(kb: Path) -> None:
    # From 2025 CIViC names features (fusions with partner columns) instead of genes.
    release = "2025-08-01"
    server = Server(recorded_release(SHARED / "somatic/civic/2025-07-01", release, share=1.0))
    try:
        manifest = update(kb, release, base_url=server.url, timeout=2, retries=0)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert Manifest.load(kb).versions["CIViC"] == release and verify(kb) == []
    assert manifest["counts"]["civic"]["evidence_items"] == 4568
    assert (kb / "kb/civic/variants.tsv").read_bytes() == (RESOURCES / "kb/civic/variants.tsv").read_bytes()


@needs_shared
@pytest.mark.parametrize("mode,message", [
    ("500", "gave up after 3 attempts: HTTP 500"),
    ("truncated", "truncated body"),
    ("slow", "no answer within 0.5 s"),
    ("corrupt", "does not parse as CIViC"),
])
def test_failed_update_leaves_the_knowledge_base_intact(kb: Path, server: Server, mode: str, message: str) -> None:
    before = snapshot(kb)
    server.mode["*"] = mode
    with pytest.raises(PgxInputError) as err:
        fast(kb, server)
    assert message in str(err.value) and "unchanged" in str(err.value)
    assert snapshot(kb) == before
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(".kb-")]


@needs_shared
def test_a_passing_500_is_retried(kb: Path, server: Server) -> None:
    server.mode["*"] = "500-once"
    fast(kb, server)
    assert Manifest.load(kb).versions["CIViC"] == RELEASE
    assert len(server.requests) == 2 * len(release_file_names(RELEASE))


@needs_shared
def test_checksum_mismatch_stops_the_update(kb: Path, server: Server) -> None:
    before = snapshot(kb)
    name = release_file_names(RELEASE)["Variant"]
    good = hashlib.sha256(server.payloads[name]).hexdigest()
    fast(kb, server, checksums={name: good})  # the right checksum passes
    assert Manifest.load(kb).versions["CIViC"] == RELEASE
    before = snapshot(kb)
    with pytest.raises(PgxInputError, match="checksum mismatch"):
        fast(kb, server, checksums={name: "0" * 64})
    assert snapshot(kb) == before


def test_missing_release_is_a_clear_error(kb: Path) -> None:
    server = Server({})
    try:
        with pytest.raises(PgxInputError, match="HTTP 404.*unchanged"):
            update(kb, RELEASE, base_url=server.url, timeout=0.5, retries=0)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert json.loads((kb / "manifest.json").read_text())["sources"][0]["version"] == "2025-07-01"


@needs_shared
@pytest.mark.parametrize("kind,message", [
    ("ClinicalEvidence", "fewer than 90% of the 4568 held now"),
    ("MolecularProfile", "is not whole: "),
    ("Variant", "is not whole: "),
])
def test_a_release_cut_at_a_row_boundary_without_content_length_is_refused(
        kb: Path, server: Server, kind: str, message: str) -> None:
    before = snapshot(kb)
    server.mode[release_file_names(RELEASE)[kind]] = "rows-cut"
    with pytest.raises(PgxInputError, match=message):
        fast(kb, server)
    assert snapshot(kb) == before and verify(kb) == []
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(".kb-")]


@needs_shared
def test_a_dripping_server_is_stopped_by_the_deadline(kb: Path, server: Server) -> None:
    before = snapshot(kb)
    server.mode["*"] = "drip"
    started = time.monotonic()
    with pytest.raises(PgxInputError, match="deadline.*unchanged"):
        update(kb, RELEASE, base_url=server.url, timeout=0.5, retries=2, backoff=0.01, deadline=1.0)
    assert time.monotonic() - started < 5
    assert snapshot(kb) == before
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(".kb-")]


def test_a_crash_between_the_two_renames_is_recovered_on_the_next_start(kb: Path) -> None:
    from pgx.cli import main

    before = snapshot(kb)
    # What the fallback swap leaves when killed between its renames: the old folder renamed
    # aside, the new one not yet in place.
    kb.rename(kb.with_name("resources.previous"))
    assert main(["--resources", str(kb), "kb", "verify"]) == 0
    assert snapshot(kb) == before
    assert not kb.with_name("resources.previous").exists()


@needs_shared
@pytest.mark.slow
def test_kill_9_during_an_update_leaves_a_whole_knowledge_base(kb: Path, server: Server) -> None:
    """SIGKILL at several moments of a real update in a subprocess: the folder is always the old
    or the new knowledge base, whole; the next update clears what the killed one left."""
    server.mode["*"] = "slow"  # 1.5 s per file: the kill lands in the download, build or swap
    old = Manifest.load(kb).versions["CIViC"]
    command = [sys.executable, "-m", "pgx.cli", "--resources", str(kb), "kb", "update", "--release", RELEASE,
               "--base-url", server.url, "--timeout", "5", "--retries", "0"]
    for delay in (0.3, 2.0, 4.0, 6.5):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        from pgx.kb.swap import recover

        recover(kb)
        assert verify(kb) == [] and Manifest.load(kb).versions["CIViC"] in (old, RELEASE), delay
    server.mode["*"] = "ok"
    fast(kb, server)
    assert Manifest.load(kb).versions["CIViC"] == RELEASE and verify(kb) == []
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(".kb-") or p.name.endswith(".previous")]
