"""`pgx kb update`: fetch a newer CIViC monthly release and swap it into the knowledge base.

The only network code in pgx. Every request has a timeout; failed requests are retried with
backoff; a body shorter than its Content-Length, a checksum mismatch or a file that does not
parse as a CIViC release stops the update. The new knowledge base is built in a copy of the
current one and replaces it in one rename, so any failure leaves the current one intact.
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

from pgx.errors import PgxInputError
from pgx.kb import MANIFEST, civic, sha256, write_table

RELEASE_KINDS = ("ClinicalEvidence", "Variant", "MolecularProfile", "Assertion")
DEFAULT_BASE_URL = "https://civicdb.org/downloads"


class UpdateError(PgxInputError):
    def __init__(self, url: str, problem: str) -> None:
        super().__init__(url, f"{problem}; the current knowledge base is unchanged")


def release_file_names(release: str) -> dict[str, str]:
    """CIViC names monthly files '01-Aug-2024-ClinicalEvidenceSummaries.tsv' for 2024-08-01."""
    import datetime as dt

    day = dt.date.fromisoformat(release).strftime("%d-%b-%Y")
    return {kind: f"{day}-{kind}Summaries.tsv" for kind in RELEASE_KINDS}


def fetch(url: str, destination: Path, *, timeout: float, retries: int, backoff: float,
          expected_sha256: str | None = None, session: requests.Session | None = None) -> str:
    """Download `url` to `destination`; return its sha256. Retries connection errors,
    timeouts, truncated bodies and 5xx answers; a 4xx answer is final."""
    http = session or requests.Session()
    last = "no attempt"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with http.get(url, timeout=timeout, stream=True) as response:
                if 400 <= response.status_code < 500:
                    raise UpdateError(url, f"HTTP {response.status_code}")
                if response.status_code >= 500:
                    last = f"HTTP {response.status_code}"
                    continue
                digest = hashlib.sha256()
                size = 0
                with open(destination, "wb") as out:
                    for chunk in response.iter_content(1 << 16):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                expected = response.headers.get("Content-Length")
                if expected is not None and int(expected) != size:
                    last = f"truncated body ({size} of {expected} bytes)"
                    continue
        except UpdateError:
            raise
        except requests.exceptions.ChunkedEncodingError:
            last = "truncated body (the connection closed before Content-Length bytes arrived)"
            continue
        except requests.Timeout:
            last = f"no answer within {timeout:g} s"
            continue
        except requests.RequestException as exc:
            last = f"connection failed ({type(exc).__name__})"
            continue
        found = digest.hexdigest()
        if expected_sha256 and found != expected_sha256.lower():
            raise UpdateError(url, f"checksum mismatch (got {found[:12]}…, expected {expected_sha256[:12]}…)")
        return found
    raise UpdateError(url, f"gave up after {retries + 1} attempts: {last}")


def update(resources: Path, release: str, *, base_url: str = DEFAULT_BASE_URL,
           checksums: dict[str, str] | None = None, timeout: float = 30.0, retries: int = 3,
           backoff: float = 1.0) -> dict[str, Any]:
    """Replace the CIViC tables of `resources` by those of `release` (YYYY-MM-DD)."""
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
                                      backoff=backoff, expected_sha256=(checksums or {}).get(name),
                                      session=session)
        try:
            tables, counts = civic.build_tables(release_dir)
        except (KeyError, ValueError, UnicodeDecodeError, PgxInputError) as exc:
            raise UpdateError(base_url, f"release {release} does not parse as CIViC ({type(exc).__name__}: {exc})") from None
        if not tables["evidence"]:
            raise UpdateError(base_url, f"release {release} has no evidence items")
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
        from pgx.kb.build import _swap

        _swap(staging, resources)
        result: dict[str, Any] = manifest
        return result
    finally:
        shutil.rmtree(download, ignore_errors=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
