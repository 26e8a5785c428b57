"""Replacing the knowledge-base folder so that no crash can leave none.

A new knowledge base is built in a staging folder beside `resources/` and then exchanged with
it in one step: Linux's renameat2(RENAME_EXCHANGE) swaps the two names atomically, so at every
instant `resources/` is whole, old or new. Where the file system cannot exchange, the old folder
is first renamed aside to `resources.previous` and the new one renamed in; a crash between
those two renames is repaired by `recover` the next time any command opens the knowledge base.
Updates hold a lock on the parent folder, so the temporary folders a killed update left behind
are known to be stale and are removed by the next one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pgx.errors import PgxInputError

TEMPORARY_PREFIXES = (".kb-download-", ".kb-update-", ".kb-build-")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def previous_of(out: Path) -> Path:
    return out.with_name(out.name + ".previous")


def swap_in(staging: Path, out: Path) -> None:
    """Make `staging` the folder `out`; the old `out` is deleted once it is no longer named."""
    if not out.exists():
        staging.rename(out)
        return
    if _exchange(staging, out):
        shutil.rmtree(staging)  # the name now holds the previous knowledge base
        return
    previous = previous_of(out)
    if previous.exists():
        shutil.rmtree(previous)
    out.rename(previous)
    staging.rename(out)  # a crash before this line is undone by `recover`
    shutil.rmtree(previous)


def recover(out: Path) -> None:
    """Finish or undo a swap a crash interrupted: `out` missing but its previous copy there
    means the crash fell between the two renames."""
    previous = previous_of(out)
    if not previous.exists():
        return
    if out.exists():
        shutil.rmtree(previous, ignore_errors=True)
    else:
        previous.rename(out)


@contextlib.contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the update lock of `out`'s parent folder; temporary folders found there then belong
    to no running update and are removed, and an interrupted swap is recovered. `out` must be
    the folder itself, not a link to it (`resolved`)."""
    parent = out.parent
    descriptor = os.open(parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PgxInputError(str(out), "another knowledge-base update is running on this folder") from None
        for leftover in parent.iterdir():
            if leftover.name.startswith(TEMPORARY_PREFIXES) and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        recover(out)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def resolved(out: Path) -> Path:
    """The real folder behind `out`: the checkout's `resources/` is a link into the package, and
    exchanging the link itself would leave the knowledge base where it was."""
    return out.resolve() if out.is_symlink() or out.exists() else out.absolute()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux 3.15+); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc/Linux
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
