"""Atomic file output: a killed job never leaves a half-written file that looks complete.

A full disk, a quota or a file-size limit met while writing is reported as one
:class:`~microinv.errors.InputError` naming the output, and the partial file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from microinv.errors import InputError

#: errno values that say the output, not an input, could not be written
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def write_errno(err: Exception) -> int | None:
    """The errno of ``err`` when it says that an output could not be written (:data:`WRITE_ERRNOS`),
    else None. HDF5 reports a failed write while closing a file as a RuntimeError whose
    message holds ``errno = N``."""
    code = getattr(err, "errno", None)
    if code is None and isinstance(err, RuntimeError):
        found = re.search(r"errno = (\d+)", str(err))
        code = int(found.group(1)) if found else None
    return code if code in WRITE_ERRNOS else None


def _temporary(path: Path, size: int) -> Path:
    """A new empty file beside ``path`` (stale ones of a killed writer removed first), with
    at least ``size`` bytes free on its file system."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed writer
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise InputError(f"{path}: cannot write output ({err.strerror})") from err
    os.close(fd)
    tmp = Path(tmp)
    free = shutil.disk_usage(path.parent).free
    if size > free:
        tmp.unlink()
        raise InputError(f"{path}: needs about {size / 1e6:.3g} MB, only {free / 1e6:.3g} MB free on "
                         f"its file system")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide results from colleagues
    return tmp


def check_writable(path, *, size: int = 0) -> None:
    """Raise :class:`~microinv.errors.InputError` now if ``path`` could not be written, or its
    file system has fewer than ``size`` bytes free: a long stage checks before it works."""
    _temporary(Path(path), size).unlink()


@contextlib.contextmanager
def atomic_path(path, *, size: int = 0):
    """Yield a temporary path in the folder of ``path``; rename it to ``path`` on success.

    The temporary file lives in the same folder (same file system), so the final
    ``os.replace`` is atomic. On any exception the temporary file is removed and
    ``path`` is left as it was. Temporary files of an earlier writer of ``path`` that
    was killed (SIGKILL skips all clean-up) are removed first. ``size`` (bytes, an
    estimate of the output) is checked against the free space before anything is written;
    an out-of-space (or quota, file-size limit, read-only) error while writing becomes an
    :class:`~microinv.errors.InputError` naming ``path``.
    """
    path = Path(path)
    tmp = _temporary(path, size)
    try:
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        code = write_errno(err)
        if code is None:
            raise
        raise InputError(f"{path}: cannot write output ({os.strerror(code)})") from err
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
