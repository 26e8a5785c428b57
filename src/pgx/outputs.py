"""Writing outputs so that a failure leaves nothing half-written behind."""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import re
import socket
import struct
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

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

    `elsewhere`: another process compresses the blocks and writes the file (`BlocksElsewhere`),
    so that compression takes none of this process's time; the bytes are the same.
    """

    BLOCK_SIZE = 0xFF00  # input bytes per block, as htslib uses
    _HEADER = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"

    def __init__(self, path: str | os.PathLike[str], *, eof: bool = True, level: int = 6,
                 elsewhere: BlocksElsewhere | None = None) -> None:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self._elsewhere = elsewhere
        if elsewhere is None:
            self._handle: BinaryIO | None = open(path, "wb")  # noqa: SIM115 - closed in close()
        else:
            self._handle = None
            elsewhere.start(os.fspath(path), level)
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

        if self._elsewhere is not None or self._handle is None:
            raise ValueError("append_part needs a writer that writes its own file")
        self.end_block()
        self._drain(0)
        self.block_texts += [self.text_size + start for start in part.block_texts]
        self.block_files += [self.file_size + start for start in part.block_files]
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, self._handle)
        self.text_size += part.text_size
        self.file_size += part.file_size

    def layout(self) -> BgzfLayout:
        """Where the blocks written so far start (after `close`: all of them; with `elsewhere`,
        known only after `close`)."""
        return BgzfLayout(list(self.block_texts), list(self.block_files), self.text_size, self.file_size)

    def close(self) -> None:
        self.end_block()
        if self._elsewhere is not None:
            if self._eof:
                self._hand_over([b""])
            sizes = self._elsewhere.finish()
            self.block_files = [0, *itertools.accumulate(sizes[:-1])] if sizes else []
            self.file_size = sum(sizes)
            self._pool.shutdown()
            return
        self._drain(0)
        if self._eof:
            self._write_block(self.text_size, self.block(b""))
        assert self._handle is not None
        self._handle.close()
        self._pool.shutdown()

    def abandon(self) -> None:
        """Stop without finishing the file (the caller removes it)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._elsewhere is not None:
            self._elsewhere.abandon()
        if self._handle is not None:
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
        if self._elsewhere is not None:
            self._hand_over(blocks)
            return
        for block in blocks:
            self._queue.append((self.text_size, self._pool.submit(self.block, block, self._level)))
            self.text_size += len(block)
        # Batches of text arrive megabytes at a time: room for several keeps this thread
        # making text while the compression thread catches up.
        self._drain(256)

    def _hand_over(self, blocks: list[bytes | memoryview]) -> None:
        assert self._elsewhere is not None
        if blocks:
            self._elsewhere.put(blocks)
        for block in blocks:
            self.block_texts.append(self.text_size)
            self.text_size += len(block)

    def _drain(self, keep: int) -> None:
        while len(self._queue) > keep:
            text_start, compressed = self._queue.popleft()
            self._write_block(text_start, compressed.result())

    def _write_block(self, text_start: int, block: bytes) -> None:
        assert self._handle is not None
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


class BlocksElsewhere(Protocol):
    """Where a `BgzfWriter` hands its blocks: something that compresses them, in order, into
    the file at `path`, and tells each one's compressed size when finished."""

    def start(self, path: str, level: int) -> None: ...

    def put(self, blocks: list[bytes | memoryview]) -> None: ...

    def finish(self) -> list[int]: ...

    def abandon(self) -> None: ...


# Messages between BlocksToProcess and compress_blocks_from: a frame (kind, count, size), then
# `size` bytes (the path; the blocks' lengths as uint32 then their text; the sizes as uint64).
_FRAME = struct.Struct("<iqq")
_START, _BLOCKS, _FINISH, _SIZES, _FAILED = range(5)


class BlocksToProcess:
    """`BlocksElsewhere` over one end of a socket pair whose other end a process serves with
    `compress_blocks_from`. A thread sends, so the writer waits only when 16 hand-overs (about
    60 MB of text) are queued."""

    _QUEUED = 16

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._queue: queue.Queue[list[bytes | memoryview] | None] = queue.Queue(maxsize=self._QUEUED)
        self._error: OSError | None = None
        self._sending = threading.Thread(target=self._send_all, name="bgzf-send", daemon=True)

    def start(self, path: str, level: int) -> None:
        encoded = os.fsencode(path)
        self._sending.start()
        self._queue.put([_FRAME.pack(_START, level, len(encoded)), encoded])

    def put(self, blocks: list[bytes | memoryview]) -> None:
        lengths = [len(block) for block in blocks]
        self._queue.put([_FRAME.pack(_BLOCKS, len(blocks), 4 * len(blocks) + sum(lengths)),
                         struct.pack(f"<{len(lengths)}I", *lengths), *blocks])

    def finish(self) -> list[int]:
        self._queue.put([_FRAME.pack(_FINISH, 0, 0)])
        self._queue.put(None)
        self._sending.join()
        if self._error is not None:
            raise self._error
        try:
            kind, count, size = _FRAME.unpack(_received(self._connection, _FRAME.size))
            payload = _received(self._connection, size)
        except EOFError:
            raise OSError("the process compressing the annotated VCF stopped before it finished") from None
        if kind == _FAILED:
            raise OSError(payload.decode())
        return list(struct.unpack(f"<{count}Q", payload))

    def abandon(self) -> None:
        """Stop sending (the file is not finished; the caller removes it)."""
        self._queue.put(None)
        self._sending.join()

    def _send_all(self) -> None:
        # After a failed send the queue is still emptied: the writer must never wait on it.
        while (buffers := self._queue.get()) is not None:
            if self._error is None:
                try:
                    for buffer in buffers:
                        self._connection.sendall(buffer)
                except OSError as exc:
                    self._error = exc


def compress_blocks_from(connection: socket.socket) -> None:
    """The other end of `BlocksToProcess`: compress each block and write it to the file (made
    beforehand by the writer's caller: a file removed meanwhile is not made again). A failure
    (a full disk) is told when the writer finishes; the blocks are read until then, so that the
    writer never waits on a reader that stopped."""
    handle: BinaryIO | None = None
    failure: str | None = None
    sizes: list[int] = []
    level = 6
    try:
        while True:
            kind, count, size = _FRAME.unpack(_received(connection, _FRAME.size))
            if kind == _FINISH:
                break
            payload = _received(connection, size)
            if failure is None:
                try:
                    if kind == _START:
                        level = count
                        handle = open(os.fsdecode(bytes(payload)), "r+b")  # noqa: SIM115 - closed below
                        handle.truncate()
                    else:
                        assert handle is not None
                        sizes += _compressed_into(handle, payload, count, level)
                except Exception as exc:  # noqa: BLE001 - told to the writer, which raises it
                    failure = _failure_text(exc)
        if handle is not None:
            closing, handle = handle, None
            try:
                closing.close()  # writes what is buffered: it may fail as a write
            except OSError as exc:
                failure = failure or _failure_text(exc)
    except EOFError:
        return  # the writer went away: its caller removes the file
    finally:
        if handle is not None:
            handle.close()
    if failure is not None:
        message = failure.encode()
        connection.sendall(_FRAME.pack(_FAILED, 0, len(message)) + message)
    else:
        connection.sendall(_FRAME.pack(_SIZES, len(sizes), 8 * len(sizes)) + struct.pack(f"<{len(sizes)}Q", *sizes))


def _compressed_into(handle: BinaryIO, payload: bytearray, count: int, level: int) -> list[int]:
    """Write the `count` blocks of a hand-over (their lengths, then their text); their sizes."""
    lengths = struct.unpack_from(f"<{count}I", payload)
    text = memoryview(payload)[4 * count:]
    sizes = []
    start = 0
    for length in lengths:
        block = BgzfWriter.block(text[start:start + length], level)
        handle.write(block)
        sizes.append(len(block))
        start += length
    return sizes


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or 'the annotated VCF'}: {exc.strerror}"
    return f"compressing the annotated VCF: {exc!r}"


def _received(connection: socket.socket, size: int) -> bytearray:
    """Exactly `size` bytes, read in as few calls as the socket allows: each call lets go of the
    GIL, and a thread taking it back waits behind a busy one."""
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        n = connection.recv_into(view[got:], size - got, socket.MSG_WAITALL)
        if not n:
            raise EOFError
        got += n
    return data
