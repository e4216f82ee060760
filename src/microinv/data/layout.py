"""Where a campaign's files live: the one home of campaign folders and chunk names.

A campaign of ``samples.count`` samples in chunks of ``samples.per_chunk`` has
``ceil(count / per_chunk)`` chunks, numbered ``0000, 0001, ...``; chunk ``c`` holds the
samples with global indices ``[c * per_chunk, min((c + 1) * per_chunk, count))``. Inside
``results/<campaign>/`` (docs/data-format.md):

======================================  =========================================
``config.json``                         the resolved config (every default filled)
``samples/chunk-{chunk}.json``          prior samples (theta, seed) of one chunk
``structures/chunk-{chunk}.h5``         voxel structures and descriptors
``properties/{property}/chunk-{chunk}.h5``  solver results of one property
``dataset.h5``                          the aggregated training set
``design/reference-grid.h5``            a process campaign's reference grid of phi
``design/reference-grid/chunk-{chunk}.h5``  one part of it (one job's grid points)
======================================  =========================================

The templates below are Snakemake output patterns as they stand (``{chunk}`` and
``{property}`` are wildcards) and ``str.format`` patterns for everyone else.
"""

from __future__ import annotations

import math
import re

from microinv.errors import InputError

RESULTS = "results"
CONFIG = "config.json"
CHUNK_NAME = "chunk-{chunk}"
SAMPLES = f"samples/{CHUNK_NAME}.json"
STRUCTURES = f"structures/{CHUNK_NAME}.h5"
PROPERTIES = f"properties/{{property}}/{CHUNK_NAME}.h5"
DATASET = "dataset.h5"
REFERENCE_GRID = "design/reference-grid.h5"
REFERENCE_GRID_PARTS = "design/reference-grid"
REFERENCE_GRID_PART = f"{REFERENCE_GRID_PARTS}/{CHUNK_NAME}.h5"
#: A chunk number as it appears in file names (the Snakemake wildcard constraint).
CHUNK_PATTERN = r"\d{4}"
_CHUNK_FILE = re.compile(CHUNK_NAME.format(chunk=f"({CHUNK_PATTERN})") + r"\.\w+")


def campaign_folder(cfg) -> str:
    """``results/<campaign>``, relative to the folder the workflow runs in."""
    return f"{RESULTS}/{cfg['campaign']}"


def chunk_id(chunk: int) -> str:
    """The four-digit number of chunk ``chunk`` in file names: 3 -> ``"0003"``."""
    return f"{chunk:04d}"


def chunk_ids(cfg) -> list[str]:
    """Numbers of every chunk of the campaign, ``["0000", "0001", ...]``."""
    count, per = cfg["samples"]["count"], cfg["samples"]["per_chunk"]
    return [chunk_id(c) for c in range(math.ceil(count / per))]


def grid_chunks(cfg) -> list[range]:
    """The reference grid's points (a process campaign) in chunks of one job each: chunk c
    holds grid points ``[c * per, min((c + 1) * per, G))``, per =
    ``process_design.reference_points_per_job``, G = ``reference_grid ** P`` for the P
    parameters of the process family."""
    from microinv.microstructure.process import FAMILIES

    design = cfg["process_design"]
    points = design["reference_grid"] ** len(FAMILIES[cfg["process"]["family"]][1])
    per = design["reference_points_per_job"]
    return [range(first, min(first + per, points)) for first in range(0, points, per)]


def locate(cfg, sample: int) -> tuple[str, int]:
    """Chunk number and row of global sample index ``sample``: 7 at per_chunk 4 -> ``("0001", 3)``."""
    per = int(cfg["samples"]["per_chunk"])
    return chunk_id(sample // per), sample % per


def chunk_of(rel: str) -> str | None:
    """Chunk number of a chunk file's path (``properties/eta/chunk-0003.h5`` -> ``"0003"``);
    ``None`` for any other file."""
    match = _CHUNK_FILE.fullmatch(rel.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def stem_pattern(*templates: str) -> str:
    """Regular expression of the stems (no extension) of the files ``templates`` name, any
    chunk: ``stem_pattern(DATASET, STRUCTURES)`` -> ``dataset|structures/chunk-\\d{4}``."""
    return "|".join(t.rsplit(".", 1)[0].format(chunk=CHUNK_PATTERN) for t in templates)


def chunk_range(cfg, chunk: int) -> tuple[int, int]:
    """Global sample indices ``[start, stop)`` of chunk number ``chunk``.

    Raises
    ------
    InputError
        If the campaign has no such chunk.
    """
    per, count = cfg["samples"]["per_chunk"], cfg["samples"]["count"]
    start = chunk * per
    if chunk < 0 or start >= count:
        raise InputError(f"--chunk {chunk}: the campaign has {math.ceil(count / per)} chunks "
                         f"(samples.count={count}, samples.per_chunk={per})")
    return start, min(start + per, count)
