"""Writing files so that a failure leaves nothing half-written, and what a failed write tells the user.

``write_text_atomic`` writes a temporary file beside the target and renames it over the target: a reader
(the report, ``--resume``, another process) sees the old file or the new one, never half of one, and a
full disk or a read-only folder leaves the old file and no temporary behind. ``output_error`` turns the
OSError of a write the user's environment refused (no space, no permission, a read-only file system) into
an OutputError with the path and a fix, and so does a path that cannot be a file (a folder, a missing
parent, a name too long); other OSErrors are bugs and stay tracebacks.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from trainwell.errors import OutputError, Problem

# Errors that describe the place being written, not a bug in trainwell.
_FIXES = {
    errno.ENOSPC: "free disk space or write to another disk (--run-dir, -o); a killed run resumes with --resume",
    errno.EDQUOT: "free space within your quota or write to another disk (--run-dir, -o)",
    errno.EFBIG: "write to a file system that allows larger files",
    errno.EROFS: "the file system is read-only: write to another folder (--run-dir, -o)",
    errno.EACCES: "you may not write there: choose a writable folder (--run-dir, -o) or fix its permissions",
    errno.EPERM: "you may not write there: choose a writable folder (--run-dir, -o) or fix its permissions",
    # The path itself: a folder where a file goes (or the reverse), a missing parent folder, a name too long.
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.ENOENT: "a folder on the path does not exist: create it or check the path",
    errno.ENAMETOOLONG: "use a shorter path",
}


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename; on any failure the temporary is
    removed and the previous ``path`` (if any) is left as it was."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError) and exc.filename in (None, str(temp)):  # name the file the user knows
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def is_output_error(exc: OSError) -> bool:
    return exc.errno in _FIXES


def output_error(exc: OSError) -> OutputError:
    """The OutputError for a write the environment refused (``is_output_error``)."""
    where = str(exc.filename) if exc.filename else "output"
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return OutputError(
        problems=[Problem(where, "must be a writable path", reason, _FIXES.get(exc.errno or 0, "check the disk and the folder"))]
    )
