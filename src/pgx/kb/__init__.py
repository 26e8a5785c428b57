"""Knowledge base: build from public sources, describe in a manifest, load for matching.

`resources/` holds the bundled build. Everything downstream reads only these tables.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgx.outputs import atomic_path, cell, read_tsv

MANIFEST = "manifest.json"


def default_resources() -> Path:
    """The bundled knowledge base, package data of `pgx` (so a wheel works from any folder; the
    checkout's `resources/` links to it), or $PGX_RESOURCES."""
    env = os.environ.get("PGX_RESOURCES")
    if env:
        return Path(env)
    return Path(str(importlib.resources.files("pgx").joinpath("resources")))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_table(path: Path, columns: list[str], rows: list[dict[str, object]]) -> None:
    """A TSV whose bytes depend only on its rows (gzip without a timestamp)."""
    buffer = io.StringIO()
    buffer.write("\t".join(columns) + "\n")
    for row in rows:
        buffer.write("\t".join(cell(row.get(c)) for c in columns) + "\n")
    data = buffer.getvalue().encode("utf-8")
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
                gz.write(data)
        else:
            tmp.write_bytes(data)


@dataclass(frozen=True)
class Manifest:
    data: dict[str, Any]

    @classmethod
    def load(cls, resources: Path) -> Manifest:
        return cls(json.loads((resources / MANIFEST).read_text()))

    @property
    def versions(self) -> dict[str, str]:
        """Source name → version, as each output records them."""
        return {s["name"]: s["version"] for s in self.data["sources"]}

    @property
    def label(self) -> str:
        return "; ".join(f"{k} {v}" for k, v in self.versions.items())


def load_table(resources: Path, relative: str) -> list[dict[str, str]]:
    return read_tsv(resources / relative)


def verify(resources: Path) -> list[str]:
    """Tables whose checksum differs from the manifest (empty when all is intact)."""
    manifest = Manifest.load(resources)
    bad = []
    for table in manifest.data["tables"]:
        path = resources / table["path"]
        if not path.exists() or sha256(path) != table["sha256"]:
            bad.append(table["path"])
    return bad
