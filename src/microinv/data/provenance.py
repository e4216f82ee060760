"""Provenance records attached to every output file.

A record says which code (package version, git commit), which configuration (the
resolved config and its SHA-256), which command on which host, when (UTC start/end), and
from which inputs (SHA-256 of each input file) an output was made. Stage-specific
figures (solver settings, convergence) go in ``extra``.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

import microinv
from microinv.errors import InputError

_PREFIX = "provenance."


def sha256_file(path, *, block=1 << 20) -> str:
    """SHA-256 hex digest of a file, read in blocks of ``block`` bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(block):
                digest.update(chunk)
    except OSError as err:
        raise InputError(f"{path}: cannot read input ({err.strerror})") from err
    return digest.hexdigest()


def sha256_json(obj) -> str:
    """SHA-256 of the canonical JSON form of ``obj`` (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def git_commit() -> str:
    """Commit of the source tree the package was imported from (``+dirty`` if modified)."""
    src = Path(microinv.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=src, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty.strip() else "")


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Provenance:
    """Collects the provenance of one output while the stage runs.

    >>> prov = Provenance(inputs=[], config={"seed": 1})
    >>> sorted(prov.finish())[:3]
    ['command', 'config', 'config_sha256']
    """

    def __init__(self, *, inputs=(), config=None, extra=None):
        self.started = utc_now()
        self.inputs = {str(p): sha256_file(p) for p in inputs}
        self.config = config
        self.extra = dict(extra or {})

    def finish(self) -> dict:
        """The record as a flat dict of JSON-serialisable values (end time taken now)."""
        return {
            "command": " ".join(sys.argv),
            "config": self.config,
            "config_sha256": sha256_json(self.config) if self.config is not None else None,
            "ended_utc": utc_now(),
            "git_commit": git_commit(),
            "host": platform.node(),
            "inputs_sha256": self.inputs,
            "microinv_version": microinv.__version__,
            "python": platform.python_version(),
            "started_utc": self.started,
            **self.extra,
        }


def attach(h5obj, record: dict) -> None:
    """Store a provenance record as ``provenance.<key>`` attributes (JSON strings)."""
    for key, value in record.items():
        h5obj.attrs[_PREFIX + key] = json.dumps(value)


def read(h5obj) -> dict:
    """Read back the record written by :func:`attach`."""
    return {key[len(_PREFIX):]: json.loads(value) for key, value in h5obj.attrs.items()
            if key.startswith(_PREFIX)}
