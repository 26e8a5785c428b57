"""`pgx kb update`: fetch a newer CIViC monthly release and swap it into the knowledge base.

The only network code in pgx. Every read has a timeout and the whole update a deadline (a
server sending a few bytes a second never trips a per-read timeout); failed requests are
retried with backoff. A body shorter than its Content-Length, a checksum mismatch, a file that
does not parse as a CIViC release, or a release that is not whole (`civic.release_problems`,
and fewer than `MINIMUM_SHARE` of the current knowledge base's evidence items) stops the
update. The new knowledge base is built beside the current one and exchanged with it in one
step (`pgx.kb.swap`), so any failure, even a kill, leaves a whole knowledge base.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import urllib3

from pgx.errors import PgxInputError
from pgx.kb import MANIFEST, civic, sha256, write_table
from pgx.kb.swap import exclusive, resolved, swap_in

RELEASE_KINDS = ("ClinicalEvidence", "Variant", "MolecularProfile", "Assertion")
DEFAULT_BASE_URL = "https://civicdb.org/downloads"


class UpdateError(PgxInputError):
    def __init__(self, url: str, problem: str, keeps: str = "the current knowledge base") -> None:
        super().__init__(url, f"{problem}; {keeps} is unchanged")


def release_file_names(release: str) -> dict[str, str]:
    """CIViC names monthly files '01-Aug-2024-ClinicalEvidenceSummaries.tsv' for 2024-08-01."""
    import datetime as dt

    day = dt.date.fromisoformat(release).strftime("%d-%b-%Y")
    return {kind: f"{day}-{kind}Summaries.tsv" for kind in RELEASE_KINDS}


# CIViC grows month by month (4,375 accepted evidence items in 2024-08, 4,568 in 2025-07) and
# rarely withdraws many: a release with far fewer than we hold was most likely cut short.
MINIMUM_SHARE = 0.9


def fetch(url: str, destination: Path, *, timeout: float, retries: int, backoff: float,
          expected_digest: str | None = None, session: requests.Session | None = None,
          deadline_at: float | None = None, algorithm: str = "sha256",
          keeps: str = "the current knowledge base") -> str:
    """Download `url` to `destination`; return its digest (`algorithm`; compared with
    `expected_digest` when given, whatever the algorithm). Retries connection errors,
    timeouts, truncated bodies and 5xx answers; a 4xx answer is final, and so is passing
    `deadline_at` (time.monotonic()). Errors say that `keeps` is unchanged."""
    http = session or requests.Session()
    last = "no attempt"
    for attempt in range(retries + 1):
        if attempt:
            pause = backoff * 2 ** (attempt - 1)
            if deadline_at is not None and time.monotonic() + pause > deadline_at:
                break
            time.sleep(pause)
        try:
            with http.get(url, timeout=timeout, stream=True) as response:
                if 400 <= response.status_code < 500:
                    raise UpdateError(url, f"HTTP {response.status_code}", keeps)
                if response.status_code >= 500:
                    last = f"HTTP {response.status_code}"
                    continue
                digest = hashlib.new(algorithm)
                size = 0
                with open(destination, "wb") as out:
                    # read1 returns what has arrived, so the deadline is checked however slowly
                    # the bytes come (iter_content waits for a whole chunk).
                    while chunk := response.raw.read1(1 << 16, decode_content=True):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        _check_deadline(url, deadline_at, keeps)
                expected = response.headers.get("Content-Length")
                if expected is not None and int(expected) != size:
                    last = f"truncated body ({size} of {expected} bytes)"
                    continue
        except UpdateError:
            raise
        except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError):
            last = "truncated body (the connection closed before Content-Length bytes arrived)"
            continue
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            last = f"no answer within {timeout:g} s"
            continue
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            last = f"connection failed ({type(exc).__name__})"
            continue
        found = digest.hexdigest()
        if expected_digest and found != expected_digest.lower():
            raise UpdateError(url, f"checksum mismatch (got {found[:12]}…, expected {expected_digest[:12]}…)", keeps)
        return found
    _check_deadline(url, deadline_at, keeps)
    raise UpdateError(url, f"gave up after {retries + 1} attempts: {last}", keeps)


def _check_deadline(url: str, deadline_at: float | None, keeps: str = "the current knowledge base") -> None:
    if deadline_at is not None and time.monotonic() > deadline_at:
        raise UpdateError(url, "the download did not finish before the deadline (--deadline)", keeps)


def update(resources: Path, release: str, *, base_url: str = DEFAULT_BASE_URL,
           checksums: dict[str, str] | None = None, timeout: float = 30.0, retries: int = 3,
           backoff: float = 1.0, deadline: float = 900.0) -> dict[str, Any]:
    """Replace the CIViC tables of `resources` by those of `release` (YYYY-MM-DD), all within
    `deadline` seconds."""
    resources = resolved(resources)
    with exclusive(resources):
        return _update(resources, release, base_url=base_url, checksums=checksums, timeout=timeout,
                       retries=retries, backoff=backoff, deadline_at=time.monotonic() + deadline)


def _update(resources: Path, release: str, *, base_url: str, checksums: dict[str, str] | None,
            timeout: float, retries: int, backoff: float, deadline_at: float) -> dict[str, Any]:
    from pgx.liftover import LiftOver

    names = release_file_names(release)
    parent = resources.resolve().parent
    download = Path(tempfile.mkdtemp(prefix=".kb-download-", dir=parent))
    staging = Path(tempfile.mkdtemp(prefix=".kb-update-", dir=parent))
    try:
        release_dir = download / release
        release_dir.mkdir()
        fetched: dict[str, str] = {}
        with requests.Session() as session:
            for name in names.values():
                url = f"{base_url.rstrip('/')}/{release}/{name}"
                fetched[name] = fetch(url, release_dir / name, timeout=timeout, retries=retries,
                                      backoff=backoff, expected_digest=(checksums or {}).get(name),
                                      session=session, deadline_at=deadline_at)
        try:
            problems = civic.release_problems(release_dir)
            tables, counts = civic.build_tables(release_dir)
        except (KeyError, ValueError, UnicodeDecodeError, PgxInputError) as exc:
            raise UpdateError(base_url, f"release {release} does not parse as CIViC ({type(exc).__name__}: {exc})") from None
        if problems:
            raise UpdateError(base_url, f"release {release} is not whole: {problems[0]}")
        current = json.loads((resources / MANIFEST).read_text())["counts"]["civic"]["evidence_items"]
        if len(tables["evidence"]) < MINIMUM_SHARE * current:
            raise UpdateError(base_url, f"release {release} has {len(tables['evidence'])} evidence items, fewer "
                                        f"than {MINIMUM_SHARE:.0%} of the {current} held now: most likely cut short")
        shutil.copytree(resources, staging, dirs_exist_ok=True)
        lifted, lift_counts = civic.lift_variants(
            tables["variants"], LiftOver.load(staging / "liftover/GRCh37_to_GRCh38.tsv.gz"))
        tables["variants"] = lifted
        manifest = json.loads((staging / MANIFEST).read_text())
        for key, columns in (("variants", civic.VARIANT_COLUMNS), ("profiles", civic.PROFILE_COLUMNS),
                             ("evidence", civic.EVIDENCE_COLUMNS), ("coverage", civic.COVERAGE_COLUMNS)):
            relative = f"kb/civic/{key}.tsv"
            write_table(staging / relative, columns, tables[key])
            for entry in manifest["tables"]:
                if entry["path"] == relative:
                    entry.update(rows=len(tables[key]), sha256=sha256(staging / relative))
        for source in manifest["sources"]:
            if source["name"] == "CIViC":
                source.update(version=release, files_sha256=dict(sorted(fetched.items())))
        manifest["counts"]["civic"] = counts
        manifest["counts"]["liftover"] = lift_counts
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _check_deadline(base_url, deadline_at)
        swap_in(staging, resources)
        result: dict[str, Any] = manifest
        return result
    finally:
        shutil.rmtree(download, ignore_errors=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
