"""Progress of long reads on stderr: records read, rate and time left.

Shown live on a terminal, as a line every `LOG_INTERVAL` seconds with `--progress` (what the
workflow passes, so Snakemake's logs show a long job moving), and not at all otherwise, so
scripts reading stderr see only errors. Time left comes from how far into the file the reader
is: exact for text, estimated for BGZF from the compression ratio of a few sampled blocks.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from pathlib import Path

LOG_INTERVAL = 30.0
_LIVE_INTERVAL = 1.0
_BGZF_MAGIC = b"\x1f\x8b\x08\x04"


class Progress:
    def __init__(self) -> None:
        self.enabled = False
        self.live = False

    def configure(self, requested: bool) -> None:
        self.live = _is_terminal()
        self.enabled = requested or self.live

    def reading(self, path: str, what: str = "records") -> Reading:
        return Reading(self, path, what)


class Reading:
    """One file's progress; `advance` is cheap enough to call per record."""

    def __init__(self, progress: Progress, path: str, what: str) -> None:
        self.progress = progress
        self.name = Path(path).name
        self.what = what
        self.count = 0
        self.text_bytes = 0
        self.started = time.monotonic()
        self.next_report = self.started + (_LIVE_INTERVAL if progress.live else LOG_INTERVAL)
        self.expected_bytes = _expected_text_bytes(path) if progress.enabled else None

    def advance(self, text_bytes: int) -> None:
        self.count += 1
        self.text_bytes += text_bytes
        if not self.count & 1023:
            self._report_when_due()

    def advance_batch(self, records: int, text_bytes: int) -> None:
        self.count += records
        self.text_bytes += text_bytes
        self._report_when_due()

    def _report_when_due(self) -> None:
        if not self.progress.enabled:
            return
        now = time.monotonic()
        if now >= self.next_report:
            self.next_report = now + (_LIVE_INTERVAL if self.progress.live else LOG_INTERVAL)
            self._say(now, final=False)

    def done(self) -> None:
        if self.progress.enabled and time.monotonic() - self.started >= _LIVE_INTERVAL:
            self._say(time.monotonic(), final=True)

    def _say(self, now: float, final: bool) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.count / elapsed
        line = f"pgx: {self.name}: {self.count:,} {self.what} read, {rate:,.0f}/s"
        if final:
            line += f", done in {elapsed:.0f} s"
        elif self.expected_bytes:
            share = min(self.text_bytes / self.expected_bytes, 0.999)
            if share > 0:
                line += f", about {elapsed * (1 - share) / share:.0f} s left"
        if self.progress.live:
            print(f"\r{line}\x1b[K", end="\n" if final else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _is_terminal() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _expected_text_bytes(path: str) -> int | None:
    """The file's size as text: its size for a text file; for BGZF, its size times the
    compression ratio of up to 8 blocks sampled across the file."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if handle.read(4) != _BGZF_MAGIC:
                return size
            compressed = uncompressed = 0
            for k in range(8):
                handle.seek(size * k // 8)
                window = handle.read(1 << 17)
                at = window.find(_BGZF_MAGIC)
                while at >= 0 and window[at + 12:at + 14] != b"BC":
                    at = window.find(_BGZF_MAGIC, at + 1)
                if at < 0 or at + 18 > len(window):
                    continue
                block = struct.unpack("<H", window[at + 16:at + 18])[0] + 1
                if at + block > len(window):
                    continue
                compressed += block
                uncompressed += struct.unpack("<I", window[at + block - 4:at + block])[0]
            return int(size * uncompressed / compressed) if compressed else None
    except OSError:
        return None


PROGRESS = Progress()
