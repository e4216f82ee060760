"""A campaign folder as the audit and the RO-Crate read it.

``results/<campaign>/`` holds the resolved ``config.json``, the chunks of every stage,
``dataset.h5`` and, when those stages ran, ``surrogate/`` and ``design/``. Provenance
records (``provenance.*`` root attributes of HDF5 files, the ``"provenance"`` object of
JSON files) name their inputs by the path the stage was given, relative to the folder the
workflow ran in: the folder that holds ``results/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py

from microinv.data import layout, provenance
from microinv.data.dataset import open_dataset
from microinv.errors import InputError

#: Folders of a campaign whose files carry no results: job logs, Snakemake benchmarks.
BOOKKEEPING = ("logs", "benchmarks")


class Campaign:
    """The files of ``results/<campaign>/`` and their provenance records.

    Parameters
    ----------
    folder : path-like
        The campaign folder, ``<workdir>/results/<campaign>``.
    """

    def __init__(self, folder):
        self.folder = Path(folder).resolve()
        config_json = self.folder / layout.CONFIG
        if not config_json.is_file():
            raise InputError(f"{folder}: not a campaign folder (no {layout.CONFIG}); give results/<campaign>")
        #: The folder the workflow ran in; recorded input paths are relative to it.
        self.base = self.folder.parent.parent
        try:
            self.config = json.loads(config_json.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{config_json}: not valid JSON ({err})") from err
        try:
            self.properties = list(self.config["solve"]["properties"])
            self.count = int(self.config["samples"]["count"])
            #: Numbers of the chunks, ``0000`` ... (:func:`microinv.data.layout.chunk_ids`).
            self.chunks = layout.chunk_ids(self.config)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
            raise InputError(f"{config_json}: missing or bad field {err}") from err

    # -- paths ---------------------------------------------------------------------------
    def path(self, rel) -> Path:
        """Absolute path of a file given relative to the campaign folder."""
        return self.folder / rel

    def rel(self, path) -> str:
        """``path`` relative to the campaign folder (POSIX), or as given when outside it."""
        path = Path(path)
        try:
            return path.resolve().relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, recorded) -> Path:
        """The file a provenance record names: absolute, or relative to the workflow folder."""
        recorded = Path(recorded)
        return recorded if recorded.is_absolute() else self.base / recorded

    def dataset(self, check, required=()):
        """``dataset.h5`` open for reading (an ``h5py.File``), or None with ``check.skipped``
        saying why it cannot be read: missing, corrupt, or without a ``required`` dataset."""
        try:
            return open_dataset(self.path(layout.DATASET), required=required)
        except InputError as err:
            check.skipped = str(err)
            return None

    def expected(self) -> dict[str, list[str]]:
        """Files the config promises, by kind: samples, structures, properties, dataset."""
        ids = self.chunks
        return {
            "samples": [layout.SAMPLES.format(chunk=c) for c in ids],
            "structures": [layout.STRUCTURES.format(chunk=c) for c in ids],
            "properties": [layout.PROPERTIES.format(property=p, chunk=c) for p in self.properties for c in ids],
            "dataset": [layout.DATASET],
        }

    def files(self, *, exclude=()) -> list[str]:
        """Every regular file of the campaign (relative), temporaries of writers excluded."""
        out = []
        for path in sorted(self.folder.rglob("*")):
            rel = path.relative_to(self.folder).as_posix()
            if (path.is_file() and not path.name.endswith(".tmp") and not rel.startswith(".snakemake")
                    and not any(Path(rel).match(p) or rel == p for p in exclude)):
                out.append(rel)
        return out

    # -- records -------------------------------------------------------------------------
    def record(self, rel) -> dict | None:
        """The provenance record of a campaign file, None if it has none or is unreadable."""
        return read_record(self.path(rel))

    def records(self) -> dict[str, dict]:
        """{relative path: provenance record} of every campaign file that carries one."""
        out = {}
        for rel in self.files():
            if rel.split("/", 1)[0] in BOOKKEEPING:
                continue
            record = self.record(rel)
            if record:
                out[rel] = record
        return out


def read_record(path) -> dict | None:
    """The provenance record of an HDF5 or JSON file; None if it has none or is unreadable."""
    path = Path(path)
    if path.suffix == ".h5":
        try:
            with h5py.File(path, "r") as fh:
                return provenance.read(fh) or None
        except (OSError, ValueError):
            return None
    if path.suffix == ".json":
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        record = doc.get("provenance") if isinstance(doc, dict) else None
        return record if isinstance(record, dict) and record else None
    return None


def stage_of(record: dict) -> str:
    """The ``microinv`` stage that wrote a record, from its command line ("unknown" if none)."""
    words = str(record.get("command", "")).split()
    for i, word in enumerate(words[:-1]):
        if Path(word).name in ("microinv", "cli.py") or word == "microinv.cli":
            return words[i + 1]
    return "unknown"
