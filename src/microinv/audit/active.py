"""The active-learning rounds: each round's dataset holds the campaign's chunks and the
round batches so far, row for row, and leaves the val and test splits as they were.

Round r's ``active/round-{r}/dataset.h5`` (:mod:`microinv.design.active`) must list in its
manifest, with their SHA-256, exactly the campaign's structures and properties chunks
plus those of every non-empty ``batch.json`` of rounds 1..r; each batch's structures
chunk must hold its samples (index, seed, theta) and equal its dataset rows; its rows
must be in the train split; the val and test splits must be the campaign dataset's.
"""

from __future__ import annotations

import os
import re

from microinv.audit.campaign import Campaign
from microinv.audit.contents import _compare_rows, _compare_samples
from microinv.audit.findings import Check
from microinv.data import provenance
from microinv.data.chunks import open_h5, read_samples
from microinv.data.dataset import PER_SAMPLE, open_dataset
from microinv.errors import InputError

__all__ = ["check_active", "round_datasets"]

_ROUND = re.compile(r"round-([1-9]\d*)")


def round_datasets(campaign: Campaign) -> list[tuple[int, str]]:
    """(round, relative path) of every round dataset of the campaign, by round."""
    found = []
    for path in (campaign.folder / "active").glob("round-*/dataset.h5"):
        match = _ROUND.fullmatch(path.parent.name)
        if match:
            found.append((int(match.group(1)), campaign.rel(path)))
    return sorted(found)


def _batches(campaign: Campaign, check: Check, r: int) -> list[tuple[str, list]]:
    """(batch folder, samples) of the non-empty batches of rounds 1..r."""
    out = []
    for q in range(1, r + 1):
        for path in sorted((campaign.folder / f"active/round-{q}").glob("*/*/batch.json")):
            try:
                samples = read_samples(path)["samples"]
            except InputError as err:
                check.fail(campaign.rel(path), str(err).split(": ", 1)[-1])
                continue
            if samples:
                out.append((campaign.rel(path.parent / "batch"), samples))
    return out


def check_active(campaign: Campaign) -> Check:
    """Every round dataset against its chunks and the campaign dataset's splits."""
    check = Check("active", "active-learning rounds -> round datasets, splits", unit="added samples")
    expected_base = campaign.expected()
    base = expected_base["structures"] + expected_base["properties"]
    try:
        with open_dataset(campaign.path("dataset.h5"), required=("splits/val", "splits/test")) as fh:
            index = fh["sample_index"][()]
            kept = {s: set(index[fh[f"splits/{s}"][()]].tolist()) for s in ("val", "test")}
    except InputError as err:
        check.skipped = str(err)
        return check
    for r, rel in round_datasets(campaign):
        batches = _batches(campaign, check, r)
        promised = base + [f"{b}/{name}.h5" for b, _ in batches for name in ("structures", *campaign.properties)]
        try:
            dataset = open_dataset(campaign.path(rel), required=("manifest", "sample_index", "splits/train"))
        except InputError as err:
            check.fail(rel, str(err).split(": ", 1)[-1])
            continue
        with dataset:
            _check_manifest(check, campaign, rel, dataset, promised)
            index = dataset["sample_index"][()]
            rows = {int(i): row for row, i in enumerate(index)}
            train = set(index[dataset["splits/train"][()]].tolist())
            for split, samples in kept.items():
                if set(index[dataset[f"splits/{split}"][()]].tolist()) != samples:
                    check.fail(rel, f"splits/{split} differs from dataset.h5's: the round touched it")
            for folder, samples in batches:
                structures = f"{folder}/structures.h5"
                try:
                    with open_h5(campaign.path(structures), required=PER_SAMPLE + ("structures",),
                                 what="structures chunk") as src:
                        _compare_samples(check, structures, samples, src)
                        _compare_rows(check, structures, src, dataset, rows)
                except InputError as err:
                    check.fail(structures, str(err).split(": ", 1)[-1])
                for s in samples:
                    check.checked += 1
                    if s["index"] not in train:
                        check.fail(rel, "an added sample is not in the train split", sample=s["index"])
    return check


def _check_manifest(check, campaign, rel, dataset, promised) -> None:
    """The manifest lists exactly ``promised`` (campaign-relative), each with its SHA-256."""
    folder = os.path.dirname(rel)
    listed = set()
    for entry, digest in dataset["manifest"][()].astype(str):
        name = os.path.normpath(os.path.join(folder, entry))
        listed.add(name)
        path = campaign.path(name)
        if not path.is_file():
            check.fail(rel, f"manifest lists {name}, which is missing")
        elif provenance.sha256_file(path) != digest:
            check.fail(name, f"SHA-256 differs from {rel}'s manifest: the chunk changed after the round")
    for name in sorted(set(promised) - listed):
        check.fail(rel, f"manifest does not list {name}")
    for name in sorted(listed - set(promised)):
        check.fail(rel, f"manifest lists {name}, which the rounds do not promise")
