"""htslib's own messages (`[E::…]`, `[W::…]`), which it writes straight to file descriptor 2.

cyvcf2 and pysam each link htslib and neither lets Python see these lines, so while a `pgx`
command runs, descriptor 2 points at a temporary file instead. Python's own `sys.stderr` keeps
writing to the terminal. The reader asks after each file whether htslib reported an error in
it (htslib reports some damage and then simply stops, which would look like the end of the
file), and the command's one error line carries htslib's words instead of printing them apart.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any


class HtslibMessages:
    def __init__(self) -> None:
        self._sink: IO[bytes] | None = None

    @contextlib.contextmanager
    def captured(self) -> Iterator[None]:
        """Send descriptor 2 to a temporary file for the duration."""
        if self._sink is not None:  # already captured (a command called from a command)
            yield
            return
        sys.stderr.flush()
        saved = os.dup(2)
        sink = tempfile.TemporaryFile()
        python_stderr = sys.stderr
        swap = _writes_to_descriptor_2(python_stderr)
        os.dup2(sink.fileno(), 2)
        if swap:
            sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8",
                                   errors="backslashreplace")
        self._sink = sink
        try:
            yield
        finally:
            if swap:
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            self._sink = None
            sink.close()

    def mark(self) -> int:
        """Where the messages written from now on begin."""
        return os.fstat(self._sink.fileno()).st_size if self._sink is not None else 0

    def since(self, mark: int = 0) -> list[str]:
        """The distinct messages written since `mark`, in order."""
        if self._sink is None:
            return []
        self._sink.seek(mark)
        lines = self._sink.read().decode("utf-8", "backslashreplace").splitlines()
        return list(dict.fromkeys(line.strip() for line in lines if line.strip()))

    def errors_since(self, mark: int) -> list[str]:
        return [line for line in self.since(mark) if line.startswith("[E::")]


def _writes_to_descriptor_2(stream: Any) -> bool:
    try:
        return bool(stream.fileno() == 2)
    except (AttributeError, OSError, ValueError):  # a StringIO, a test's capture
        return False


HTSLIB = HtslibMessages()
