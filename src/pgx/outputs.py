"""Writing outputs so that a failure leaves nothing half-written behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple


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


class BgzfLayout(NamedTuple):
    """Where each block of a BGZF file starts, in its text and in the file; and their sizes."""

    block_texts: list[int]
    block_files: list[int]
    text_size: int
    file_size: int


class BgzfWriter:
    """BGZF, the blocked gzip of VCF.gz and its tabix index (SAM/BAM spec, section 4.1),
    compressed on a background thread.

    Deflate is libdeflate's (the `deflate` package; htslib uses the same library when built
    with it), level 6: on annotated VCF text it takes half the CPU of zlib at the same level and
    writes 3% fewer bytes; its output is the same on every run, as reproducible outputs need
    (ISA-L's, tried, changed one block in about 4,000 between runs). The `deflate` package
    holds the GIL while it compresses a block (0.1 ms); the thread still overlaps the Polars
    work of the annotating thread, which lets go of the GIL. A block
    ends every 65,280 input bytes and wherever `end_block()` is called, so the bytes written
    depend only on the text and those calls, never on timing or thread count. `eof=False`
    leaves out the end-of-file block, for parts to be joined (BGZF files concatenate).
    """

    BLOCK_SIZE = 0xFF00  # input bytes per block, as htslib uses
    _HEADER = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"

    def __init__(self, path: str | os.PathLike[str], *, eof: bool = True, level: int = 6) -> None:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self._handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._eof = eof
        self._level = level
        self._text: list[bytes] = []  # UTF-8 text not yet cut into blocks
        self._chars = 0
        self._carry = b""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bgzf")
        self._queue: deque[tuple[int, Future[bytes]]] = deque()
        # Where each block starts in the text and in the file, for an index made while writing.
        self.block_texts: list[int] = []
        self.block_files: list[int] = []
        self.text_size = 0  # bytes of text cut into blocks so far
        self.file_size = 0  # bytes written to the file so far

    def write(self, text: str | bytes) -> None:
        """Text, or text already encoded as UTF-8."""
        data = text.encode() if isinstance(text, str) else text
        self._text.append(data)
        self._chars += len(data)
        if self._chars >= 8 * self.BLOCK_SIZE:
            self._cut(whole_blocks_only=True)

    def write_bytes(self, data: bytes) -> None:
        """Bytes that are not text (an index), cut into blocks as text would be."""
        self._cut(whole_blocks_only=True)
        self._carry += data
        self._cut(whole_blocks_only=True)

    def end_block(self) -> None:
        """End the current block here (a no-op when nothing is pending)."""
        self._cut(whole_blocks_only=False)

    def append_part(self, path: str | os.PathLike[str], part: BgzfLayout) -> None:
        """Copy the blocks of a BGZF file written with `eof=False` (laid out as `part`) after
        what was written."""
        import shutil

        self.end_block()
        self._drain(0)
        self.block_texts += [self.text_size + start for start in part.block_texts]
        self.block_files += [self.file_size + start for start in part.block_files]
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, self._handle)
        self.text_size += part.text_size
        self.file_size += part.file_size

    def layout(self) -> BgzfLayout:
        """Where the blocks written so far start (after `close`: all of them)."""
        return BgzfLayout(list(self.block_texts), list(self.block_files), self.text_size, self.file_size)

    def close(self) -> None:
        self.end_block()
        self._drain(0)
        if self._eof:
            self._write_block(self.text_size, self.block(b""))
        self._handle.close()
        self._pool.shutdown()

    def abandon(self) -> None:
        """Stop without finishing the file (the caller removes it)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._handle.close()

    def __enter__(self) -> BgzfWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    def _cut(self, *, whole_blocks_only: bool) -> None:
        # Blocks are views of the text as written (a batch is megabytes): only the carried
        # rest of a block is copied.
        size = self.BLOCK_SIZE
        text = memoryview(self._text[0] if len(self._text) == 1 else b"".join(self._text))
        self._text, self._chars = [], 0
        blocks: list[bytes | memoryview] = []
        if len(self._carry) >= size:  # bytes from write_bytes: cut them with the text
            text, self._carry = memoryview(self._carry + text), b""
        if self._carry:
            need = size - len(self._carry)
            if len(text) < need and whole_blocks_only:
                self._carry += text
                return
            blocks.append(self._carry + text[:need])
            text = text[need:]
        end = len(text) - len(text) % size if whole_blocks_only else len(text)
        blocks += [text[start : start + size] for start in range(0, end, size)]
        self._carry = bytes(text[end:])
        for block in blocks:
            self._queue.append((self.text_size, self._pool.submit(self.block, block, self._level)))
            self.text_size += len(block)
        # Batches of text arrive megabytes at a time: room for several keeps this thread
        # making text while the compression thread catches up.
        self._drain(256)

    def _drain(self, keep: int) -> None:
        while len(self._queue) > keep:
            text_start, compressed = self._queue.popleft()
            self._write_block(text_start, compressed.result())

    def _write_block(self, text_start: int, block: bytes) -> None:
        self.block_texts.append(text_start)
        self.block_files.append(self.file_size)
        self._handle.write(block)
        self.file_size += len(block)

    @classmethod
    def block(cls, data: bytes | memoryview, level: int = 6) -> bytes:
        """One BGZF block: a gzip member whose extra field 'BC' holds the block's size."""
        import struct

        import deflate

        # An empty block is the specification's 28-byte end-of-file marker, byte for byte.
        body = deflate.deflate_compress(data, level) if data else b"\x03\x00"
        return (cls._HEADER + struct.pack("<H", len(body) + 25) + body
                + struct.pack("<II", deflate.crc32(data), len(data)))
