"""Reading and writing the per-chunk files of a campaign (see docs/data-format.md), and the
one reader of the JSON documents the stages write (:func:`read_json`).

Readers check what they read and raise :class:`~microinv.errors.InputError` naming the
file and the field; writers go through :func:`~microinv.data.atomic.atomic_path`.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from microinv.data.atomic import write_json
from microinv.errors import InputError

SAMPLES_FORMAT = "microinv.samples/1"
STRUCTURE_COMPRESSION = {"compression": "gzip", "compression_opts": 1}


def write_samples(path, *, campaign, chunk, n, dim, samples, acceptance_rate, provenance, model=None):
    """Write a samples chunk (JSON) atomically; ``samples`` is a list of dicts.

    ``model``: the process settings of a process campaign
    (:func:`microinv.microstructure.models.process_settings`); None (no field) for spinodoids.
    """
    doc = {"format": SAMPLES_FORMAT, "campaign": campaign, "chunk": chunk, "n": n, "dim": dim,
           "samples": samples, "acceptance_rate": acceptance_rate, "provenance": provenance}
    write_json(path, doc if model is None else {**doc, "model": model})


def read_json(path, what: str, fmt: str | None = None) -> dict:
    """The JSON object of file ``path`` (a ``what``: "samples chunk", "validation", ...).

    Raises
    ------
    InputError
        One line naming the file, when it cannot be read, is not valid JSON, is not an
        object, or (``fmt`` given) its ``"format"`` field is not ``fmt``.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise InputError(f"{path}: cannot read {what} ({err.strerror})") from err
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: corrupt {what} (invalid JSON: {err})") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object ({what}), got {type(doc).__name__}")
    if fmt is not None and doc.get("format") != fmt:
        raise InputError(f"{path}: format: expected {fmt!r}")
    return doc


def read_samples(path) -> dict:
    """Read and check a samples chunk."""
    doc = read_json(path, "samples chunk", SAMPLES_FORMAT)
    for key in ("n", "dim", "samples"):
        if key not in doc:
            raise InputError(f"{path}: missing field {key!r}")
    model = doc.get("model")
    if model is not None and not (isinstance(model, dict) and isinstance(model.get("parameters"), list)):
        raise InputError(f"{path}: model: expected the process settings with their parameter names, got {model!r}")
    expected = doc["dim"] + 1 if model is None else len(model["parameters"])
    for i, s in enumerate(doc["samples"]):
        for key in ("index", "seed", "theta"):
            if key not in s:
                raise InputError(f"{path}: samples[{i}]: missing field {key!r}")
        if len(s["theta"]) != expected:
            raise InputError(f"{path}: samples[{i}].theta: expected {expected} values, got {len(s['theta'])}")
    return doc


def open_h5(path, *, required=(), what="HDF5 file"):
    """Open an HDF5 file for reading, checking that ``required`` datasets exist."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} does not exist")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path}: corrupt or unreadable {what} ({err})") from err
    missing = [name for name in required if name not in fh]
    if missing:
        fh.close()
        raise InputError(f"{path}: {what} lacks dataset(s) {', '.join(missing)}")
    return fh


def open_structures(path, *, required=(), what="structures chunk"):
    """Open a structures chunk or dataset, checking ``required`` datasets and the voxel dtype.

    Structures are uint8 (1 = solid, 0 = pore); any other dtype (a float32 copy, say) is
    refused here, before any sample is processed.
    """
    fh = open_h5(path, required=("structures", "sample_index", *required), what=what)
    dtype = fh["structures"].dtype
    if dtype != np.uint8:
        fh.close()
        raise InputError(f"{path}: structures: dtype {dtype}, expected uint8 with 1 = solid and 0 = pore")
    return fh


def create_structures_dataset(fh, count, shape):
    """An empty (count, *shape) uint8 dataset, one HDF5 chunk per structure, compressed."""
    return fh.create_dataset("structures", shape=(count, *shape), dtype=np.uint8,
                             chunks=(1, *shape), **STRUCTURE_COMPRESSION)


def create_field_dataset(fh, count, shape):
    """An empty (count, *shape) float32 dataset ``field`` for the level-set fields of the
    structures (pore where f < 0), one HDF5 chunk per structure, compressed."""
    return fh.create_dataset("field", shape=(count, *shape), dtype=np.float32,
                             chunks=(1, *shape), **STRUCTURE_COMPRESSION)


def read_field(fh, row, solid) -> np.ndarray:
    """The level-set field of structure ``row``: the stored ``field`` of the chunk, else
    regenerated bit for bit from the chunk's (theta, seed) and the structure's size with
    `microinv.microstructure.spinodoid_field`; checked against ``solid``.

    Raises
    ------
    InputError
        Naming the file and the sample when the chunk holds neither a field nor (theta,
        seed), or the field disagrees with the voxels (`microinv.checks.check_field`).
    """
    from microinv.checks import check_field
    from microinv.microstructure import spinodoid_field

    where = f"{fh.filename}: field[{row}] (sample {fh['sample_index'][row]})"
    if "field" in fh:
        try:
            field = fh["field"][row]
        except OSError as err:
            raise InputError(f"{where}: unreadable, the file is corrupt ({err})") from err
    elif "theta" in fh and "seed" in fh:
        field = spinodoid_field(fh["theta"][row], solid.shape[0], int(fh["seed"][row]), dim=solid.ndim)
    else:
        raise InputError(f"{where}: the chunk has no field and no (theta, seed) to regenerate it from")
    try:
        return check_field(field, solid)
    except InputError as err:
        raise InputError(f"{where}: {err}") from err


def read_structure(fh, row) -> np.ndarray:
    """Structure ``row`` of an open chunk/dataset, checked for values other than 0/1.

    Raises
    ------
    InputError
        Naming the file, the row and the sample if the stored structure cannot be
        decompressed (a corrupt chunk) or holds values other than 0 and 1.
    """
    where = f"{fh.filename}: structures[{row}] (sample {fh['sample_index'][row]})"
    try:
        solid = fh["structures"][row]
    except OSError as err:
        raise InputError(f"{where}: unreadable, the file is corrupt ({err}); delete it and rerun the "
                         f"workflow to remake it") from err
    if solid.max(initial=0) > 1:
        raise InputError(f"{where}: values other than 0 (pore) and 1 (solid)")
    return solid


def verify_structures(fh) -> None:
    """Read every structure of an open chunk once (:func:`read_structure`), so that a corrupt
    or invalid one is reported before any work is done."""
    for row in range(len(fh["structures"])):
        read_structure(fh, row)
