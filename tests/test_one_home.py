"""Concepts with one home: chunk names and paths (``microinv.data.layout``), the split
rounding (``microinv.splits``) that the config check and the dataset share."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import ROOT
from microinv.config import campaign_errors, load
from microinv.data import layout
from microinv.data.dataset import split_rows
from microinv.splits import split_sizes

CFG = {"samples": {"count": 10, "per_chunk": 4}}


def test_layout_locates_and_parses_chunk_files():
    assert [layout.locate(CFG, s) for s in (0, 3, 4, 9)] == [("0000", 0), ("0000", 3), ("0001", 0), ("0002", 1)]
    for template in (layout.SAMPLES, layout.STRUCTURES, layout.PROPERTIES):
        assert layout.chunk_of(template.format(chunk="0002", property="diffusivity")) == "0002"
    assert layout.chunk_of(layout.DATASET) is None and layout.chunk_of("structures/chunk-12.h5") is None
    stems = re.compile(layout.stem_pattern(layout.DATASET, layout.STRUCTURES))
    assert stems.fullmatch("dataset") and stems.fullmatch("structures/chunk-0007")
    assert not stems.fullmatch("samples/chunk-0007") and not stems.fullmatch("structures/chunk-7")


@pytest.mark.parametrize("count", [3, 4, 5, 7, 10])
def test_the_config_check_counts_the_rows_the_dataset_splits(count):
    cfg = load(ROOT / "config" / "config.yaml")
    cfg["samples"]["count"] = count
    cfg["splits"] = {"train": 0.7, "val": 0.15, "test": 0.15}
    rows = split_rows(np.arange(count), cfg["splits"], seed=1)
    assert {k: len(v) for k, v in rows.items()} == split_sizes(cfg["splits"], count)
    empty = {k for k, v in rows.items() if len(v) == 0}
    assert {key.split(".")[1] for key, _ in campaign_errors(cfg) if key.startswith("splits.")} == empty
