"""Writing outputs so that a failure leaves nothing half-written behind."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pgx.errors import PgxInputError


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
    """Tab-separated table with a fixed column order; None is written as an empty cell, and a
    cell a spreadsheet would run as a formula is made inert (`inert`)."""
    lines = [f"## {c}" for c in comments or []]
    lines.append("\t".join(columns))
    for row in rows:
        lines.append("\t".join([inert(cell(row.get(c))) for c in columns]))
    write_text_atomic(final, "\n".join(lines) + "\n")


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


FORMULA_STARTS = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def inert(text: str) -> str:
    """A cell that a spreadsheet opening the TSV would run as a formula ('=HYPERLINK(…)', '@SUM(…)',
    '+cmd', '-1+1') gets a leading apostrophe, which spreadsheets show as text (OWASP's advice
    for CSV injection). A plain number such as -0.5, and a lone '-', stay as they are; a cell
    that already starts with apostrophes before such a text gets one more, so `read_tsv` gives
    back every value exactly."""
    if len(text) > 1 and (
        (text[0] in FORMULA_STARTS and not _NUMBER.fullmatch(text))
        or (text[0] == "'" and inert(text[1:]) != text[1:])
    ):
        return "'" + text
    return text


def _restored(text: str) -> str:
    """The value `inert` was given."""
    return text[1:] if text[:1] == "'" and inert(text[1:]) == text else text


def iter_tsv(path: str | os.PathLike[str], needs: Sequence[str] = (),
             allowed: Mapping[str, Collection[str]] | None = None) -> Iterator[dict[str, str]]:
    """Stream a table written by `write_tsv_atomic` (lines starting with '##' are comments), one
    row at a time. A table that is not UTF-8, names a column twice, lacks a column it `needs`,
    has a row whose cells do not match its header, or a value outside a closed vocabulary
    (`allowed`: column → values) is refused with one line naming the file and line."""
    import gzip
    import zlib

    name = str(path)
    if not Path(path).exists():
        raise PgxInputError(name, "file does not exist")
    opener = gzip.open if name.endswith(".gz") else open
    number = 0
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            header: list[str] | None = None
            for number, line in enumerate(handle, start=1):  # noqa: B007 (number used after)
                if line.startswith("##"):
                    continue
                values = line.rstrip("\r\n").split("\t")
                if header is None:
                    header = values
                    repeated = sorted({c for c in header if header.count(c) > 1})
                    if repeated:
                        raise PgxInputError(name, f"column(s) named twice: {', '.join(repeated)}",
                                            record="header")
                    missing = [c for c in needs if c not in header]
                    if missing:
                        raise PgxInputError(name, f"missing column(s) {', '.join(missing)}", record="header")
                    continue
                if len(values) != len(header):
                    if not line.strip():
                        continue
                    raise PgxInputError(name, f"{len(values)} cells, the header names {len(header)} "
                                              "columns", record=f"line {number}")
                row = {c: _restored(v) for c, v in zip(header, values, strict=True)}
                for column, values_allowed in (allowed or {}).items():
                    if column in row and row[column] not in values_allowed:
                        raise PgxInputError(name, f"{column} {row[column][:40]!r} is not one of "
                                                  f"{', '.join(sorted(values_allowed))}", record=f"line {number}")
                yield row
    except UnicodeDecodeError:
        raise PgxInputError(name, "not UTF-8 text", record=f"line {number + 1}") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise PgxInputError(name, f"damaged gzip data ({exc})", record=f"line {number + 1}") from None


def table_comments(path: str | os.PathLike[str]) -> list[str]:
    """The '## ' lines heading a table `write_tsv_atomic` wrote (versions, inputs)."""
    comments = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("##"):
                break
            comments.append(line[3:].rstrip("\n"))
    return comments


def read_tsv(path: str | os.PathLike[str], needs: Sequence[str] = (),
             allowed: Mapping[str, Collection[str]] | None = None) -> list[dict[str, str]]:
    """All rows of a table (see `iter_tsv`)."""
    return list(iter_tsv(path, needs, allowed))


def read_json(path: str | os.PathLike[str], what: str = "JSON") -> Any:
    """A JSON file, or one line naming the file and where it stops being JSON."""
    import json

    name = str(path)
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise PgxInputError(name, "file does not exist") from None
    except UnicodeDecodeError:
        raise PgxInputError(name, f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PgxInputError(name, f"not valid {what} ({exc.msg})",
                            record=f"line {exc.lineno} column {exc.colno}") from None


class VcfWriteFailed(RuntimeError):
    """htslib refused what was written (its first error line)."""


# Run in the child process: bcftools as pysam bundles it, reading the VCF text from stdin.
_BCFTOOLS_VIEW = (
    "import sys\n"
    "from pysam import bcftools\n"
    "bcftools.view('--no-version', '--threads', sys.argv[2], '-Oz', '--write-index=tbi', '-o', sys.argv[1], '-',\n"
    "              catch_stdout=False)\n"
)


class IndexedVcfWriter:
    """VCF text in; a bgzipped VCF and its tabix index (`path` + '.tbi') out, written by htslib.

    `bcftools view` (pysam bundles it) runs in a child process and reads what `write` sends
    through a pipe: it parses every line, so what lands is a VCF htslib reads back; compresses
    it, with `threads` extra threads; and indexes it, refusing records that are not sorted. A
    process, because pysam holds the GIL while htslib compresses; a pipe, because no htslib
    call that Python reaches takes a line of text. A thread feeds the pipe, so that the caller
    goes on while htslib reads. `close` waits for it all; `abandon` stops it."""

    _QUEUED = 4  # writes waiting for the pipe: a few batches of records

    def __init__(self, path: str | os.PathLike[str], *, threads: int = 0) -> None:
        import queue
        import subprocess
        import sys
        import threading

        self.path = os.fspath(path)
        self._messages = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BCFTOOLS_VIEW, self.path, str(max(0, threads))],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._messages, bufsize=0)
        assert self._process.stdin is not None
        self._pipe = self._process.stdin  # unbuffered: nothing left to flush once htslib stops reading
        self.messages: list[str] = []  # htslib's, once closed
        self._waiting: queue.Queue[bytes | None] = queue.Queue(maxsize=self._QUEUED)
        self._feeding = threading.Thread(target=self._feed, name="vcf-writer", daemon=True)
        self._feeding.start()

    def write(self, text: str | bytes) -> None:
        self._waiting.put(text.encode() if isinstance(text, str) else text)

    def _feed(self) -> None:
        stopped = False  # htslib stopped reading: `close` says why; the queue is still emptied
        while (data := self._waiting.get()) is not None:
            view = memoryview(data)
            while view and not stopped:
                try:
                    view = view[self._pipe.write(view):]
                except BrokenPipeError:
                    stopped = True
        with contextlib.suppress(OSError):
            self._pipe.close()

    def close(self) -> None:
        self._waiting.put(None)
        self._feeding.join()
        code = self._process.wait()
        self._messages.seek(0)
        self.messages = messages = self._messages.read().decode(errors="replace").splitlines()
        self._messages.close()
        if code:
            self._remove_outputs()
            errors = [m for m in messages if m.startswith("[E::")] or messages or [f"exit status {code}"]
            raise VcfWriteFailed(errors[0])

    def abandon(self) -> None:
        self._process.kill()
        self._waiting.put(None)
        self._feeding.join()
        self._process.wait()
        self._messages.close()
        self._remove_outputs()

    def _remove_outputs(self) -> None:
        for leftover in (self.path, self.path + ".tbi"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)

    def __enter__(self) -> IndexedVcfWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()
