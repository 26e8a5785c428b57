"""Writing outputs so that a failure leaves nothing half-written behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it over `final` only on success.

    On any exception the temporary file is removed and `final`, if it existed, is untouched.
    """
    final_path = Path(final)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{final_path.name}.", suffix=suffix or ".tmp", dir=final_path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600; outputs are for the whole team
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(final: str | os.PathLike[str], text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_tsv_atomic(
    final: str | os.PathLike[str],
    columns: list[str],
    rows: list[dict[str, object]],
    comments: list[str] | None = None,
) -> None:
    """Tab-separated table with a fixed column order; None is written as an empty cell."""
    lines = [f"## {c}" for c in comments or []]
    lines.append("\t".join(columns))
    for row in rows:
        lines.append("\t".join([cell(row.get(c)) for c in columns]))
    write_text_atomic(final, "\n".join(lines) + "\n")


class TsvWriter:
    """Rows written as they come (streaming), in the same format as `write_tsv_atomic`."""

    def __init__(self, handle: TextIO, columns: list[str], comments: list[str] | None = None):
        self._handle = handle
        self._columns = columns
        for c in comments or []:
            handle.write(f"## {c}\n")
        handle.write("\t".join(columns) + "\n")

    def write(self, row: dict[str, object]) -> None:
        self._handle.write("\t".join([cell(row.get(c)) for c in self._columns]) + "\n")


_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def cell(value: object) -> str:
    """One table cell: empty for None, true/false, floats to 4 significant digits."""
    if value is None:
        return ""
    if isinstance(value, str):
        # Tabs and newlines inside a value would break the table for every reader.
        if "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_BREAKS)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def read_tsv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a table written by `write_tsv_atomic` (lines starting with '##' are comments)."""
    import csv
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("##")]
    if not lines:
        return []
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
