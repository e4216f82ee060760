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
======================================  =========================================

The templates below are Snakemake output patterns as they stand (``{chunk}`` and
``{property}`` are wildcards) and ``str.format`` patterns for everyone else.
"""

from __future__ import annotations

import math

from microinv.errors import InputError

RESULTS = "results"
CONFIG = "config.json"
CHUNK_NAME = "chunk-{chunk}"
SAMPLES = f"samples/{CHUNK_NAME}.json"
STRUCTURES = f"structures/{CHUNK_NAME}.h5"
PROPERTIES = f"properties/{{property}}/{CHUNK_NAME}.h5"
DATASET = "dataset.h5"
#: A chunk number as it appears in file names (the Snakemake wildcard constraint).
CHUNK_PATTERN = r"\d{4}"


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


def chunk_names(cfg) -> list[str]:
    """File stems of every chunk of the campaign, ``["chunk-0000", "chunk-0001", ...]``."""
    return [CHUNK_NAME.format(chunk=c) for c in chunk_ids(cfg)]


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
