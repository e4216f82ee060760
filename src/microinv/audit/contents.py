"""Sample by sample: the dataset holds what its chunks hold, every status is accounted for,
and the splits cover exactly the usable samples.

Hashes say *that* a file changed; these checks say *where*: the sample (and axis) whose
row differs. Structures are compared as stored (the compressed HDF5 chunk of each sample,
which ``microinv aggregate`` copies unchanged), so no structure is decompressed here.
"""

from __future__ import annotations

import numpy as np

from microinv.audit.campaign import Campaign
from microinv.audit.findings import Check
from microinv.data import layout
from microinv.data.chunks import open_h5, read_samples
from microinv.data.dataset import PER_SAMPLE, PROPERTY_FIELDS, SPLITS, split_rows
from microinv.errors import InputError
from microinv.physics.result import CONVERGED, NOT_PERCOLATING, STATUS_CODES


def check_contents(campaign: Campaign) -> Check:
    """Samples chunks -> structures chunks -> dataset rows, and properties chunks -> dataset."""
    check = Check("contents", "chunks -> dataset rows, sample by sample", unit="samples")
    dataset = campaign.dataset(check, ("sample_index", "structures"))
    if dataset is None:
        return check
    with dataset:
        index = dataset["sample_index"][()]
        rows = {int(i): r for r, i in enumerate(index)}
        missing = sorted(set(range(campaign.count)) - set(rows))
        if missing or len(rows) != len(index) or len(index) != campaign.count:
            check.fail("dataset.h5", f"sample_index does not hold each of the {campaign.count} "
                                     f"samples once (missing {missing[:10]}, {len(index)} rows)")
        for chunk in campaign.chunks:
            samples = _samples(check, campaign, layout.SAMPLES.format(chunk=chunk))
            structures = layout.STRUCTURES.format(chunk=chunk)
            try:
                with open_h5(campaign.path(structures), required=PER_SAMPLE + ("structures",),
                             what="structures chunk") as src:
                    chunk_index = src["sample_index"][()]
                    check.checked += len(chunk_index)
                    if samples is not None:
                        _compare_samples(check, structures, samples, src)
                    _compare_rows(check, structures, src, dataset, rows)
            except InputError as err:
                check.fail(structures, str(err).split(": ", 1)[-1])
                continue
            for prop in campaign.properties:
                rel = layout.PROPERTIES.format(property=prop, chunk=chunk)
                try:
                    with open_h5(campaign.path(rel), required=PROPERTY_FIELDS + ("sample_index",),
                                 what="properties chunk") as pc:
                        if not np.array_equal(pc["sample_index"][()], chunk_index):
                            check.fail(rel, f"sample_index {pc['sample_index'][()].tolist()} differs "
                                            f"from {structures}'s {chunk_index.tolist()}")
                            continue
                        _compare_properties(check, rel, prop, pc, dataset, rows)
                except InputError as err:
                    check.fail(rel, str(err).split(": ", 1)[-1])
    return check


def _samples(check, campaign, rel):
    try:
        return read_samples(campaign.path(rel))["samples"]
    except InputError as err:
        check.fail(rel, str(err).split(": ", 1)[-1])
        return None


def _compare_samples(check, structures, samples, src) -> None:
    """Index, seed and theta of the structures chunk are those of its samples chunk."""
    index, seed, theta = src["sample_index"][()], src["seed"][()], src["theta"][()]
    if len(samples) != len(index):
        check.fail(structures, f"{len(index)} structures for {len(samples)} samples in its samples chunk")
        return
    for r, s in enumerate(samples):
        if (int(index[r]) != s["index"] or int(seed[r]) != int(s["seed"])
                or not np.array_equal(theta[r], np.asarray(s["theta"], dtype=np.float64))):
            check.fail(structures, f"row {r}: (index, seed, theta) differ from its samples chunk",
                       sample=s["index"])


def _compare_rows(check, rel, src, dataset, rows) -> None:
    """Per-sample datasets and the stored structure of a chunk equal the dataset's rows."""
    names = list(PER_SAMPLE) + [f"descriptors/{d}" for d in src.get("descriptors", {})]
    dim = src["structures"].ndim - 1
    for r, i in enumerate(src["sample_index"][()]):
        row = rows.get(int(i))
        if row is None:
            continue  # reported with the dataset's sample_index
        differ = [n for n in names if n not in dataset
                  or not np.array_equal(src[n][r], dataset[n][row], equal_nan=src[n].dtype.kind == "f")]
        try:
            stored = src["structures"].id.read_direct_chunk((r,) + (0,) * dim)[1]
            copied = dataset["structures"].id.read_direct_chunk((row,) + (0,) * dim)[1]
        except (OSError, ValueError) as err:
            check.fail(rel, f"structure unreadable ({err})", sample=i)
            continue
        if stored != copied:
            differ.append(f"structures (stored bytes differ from dataset.h5 row {row})")
        if differ:
            check.fail(rel, f"differs from dataset.h5 row {row} in {', '.join(differ)}", sample=i)


def _compare_properties(check, rel, prop, pc, dataset, rows) -> None:
    for r, i in enumerate(pc["sample_index"][()]):
        row = rows.get(int(i))
        if row is None:
            continue
        for field in PROPERTY_FIELDS:
            key = f"properties/{prop}/{field}"
            if key not in dataset:
                check.fail("dataset.h5", f"lacks {key}")
                return
            ours, theirs = pc[field][r], dataset[key][row]
            for axis in np.flatnonzero(~_equal(ours, theirs)):
                check.fail(rel, f"{field} {ours[axis]:.10g} differs from dataset.h5's {theirs[axis]:.10g}",
                           sample=i, axis=axis)


def _equal(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    same = a == b
    if a.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    return same


def check_status(campaign: Campaign) -> Check:
    """Every sample and axis has a known status and a value that fits it: converged ->
    finite and positive; does not percolate -> 0; diverged or error -> a reason."""
    check = Check("status", "every sample's status accounted for", unit="solves")
    counts = {}
    for prop in campaign.properties:
        tally = dict.fromkeys(STATUS_CODES.values(), 0)
        for chunk in campaign.chunks:
            rel = layout.PROPERTIES.format(property=prop, chunk=chunk)
            try:
                with open_h5(campaign.path(rel), required=("sample_index", "value", "status", "reason"),
                             what="properties chunk") as pc:
                    index, value, status = pc["sample_index"][()], pc["value"][()], pc["status"][()]
                    reason = pc["reason"][()].astype(str)
            except InputError:
                continue  # a missing or unreadable chunk is the layout's and contents' finding
            for (r, axis), code in np.ndenumerate(status):
                check.checked += 1
                sample, v, why = index[r], value[r, axis], reason[r, axis]
                if int(code) not in STATUS_CODES:
                    check.fail(rel, f"status {code} is none of {STATUS_CODES}", sample=sample, axis=axis)
                    continue
                tally[STATUS_CODES[int(code)]] += 1
                if code == CONVERGED and not (np.isfinite(v) and v > 0):
                    check.fail(rel, f"converged but value is {v!r}", sample=sample, axis=axis)
                elif code == NOT_PERCOLATING and v != 0:
                    check.fail(rel, f"does not percolate but value is {v!r}, not 0", sample=sample, axis=axis)
                elif code != CONVERGED and not why.strip():
                    check.fail(rel, f"{STATUS_CODES[int(code)]} without a reason", sample=sample, axis=axis)
        counts[prop] = tally
    check.details["status_counts"] = counts
    check.details["note"] = "; ".join(f"{p}: " + ", ".join(f"{n} {k}" for k, n in t.items() if n)
                                      for p, t in counts.items())
    return check


def check_splits(campaign: Campaign, split_settings: tuple[dict, int] | None) -> Check:
    """``usable`` is 'every property converged on every axis'; train/val/test are disjoint,
    cover exactly the usable rows, and are the seeded split ``microinv aggregate`` makes
    from ``split_settings`` = (the config's ``splits`` fractions, its ``seed``)."""
    check = Check("splits", "usable flags and train/val/test splits", unit="rows")
    fh = campaign.dataset(check, ("usable",))
    if fh is None:
        return check
    with fh:
        usable = fh["usable"][()]
        index = fh["sample_index"][()]
        check.checked = len(usable)
        converged = np.ones(len(usable), dtype=bool)
        for prop in campaign.properties:
            key = f"properties/{prop}/status"
            if key in fh:
                converged &= np.all(fh[key][()] == CONVERGED, axis=1)
        for row in np.flatnonzero(usable != converged):
            check.fail("dataset.h5", f"usable is {bool(usable[row])} but the solver status says "
                                     f"{bool(converged[row])}", sample=index[row])
        splits = {name: fh[f"splits/{name}"][()] if f"splits/{name}" in fh else None
                  for name in SPLITS}
    for name, rows in splits.items():
        if rows is None:
            check.fail("dataset.h5", f"lacks splits/{name}")
    if any(rows is None for rows in splits.values()):
        return check
    joined = np.concatenate(list(splits.values()))
    seen, counts = np.unique(joined, return_counts=True)
    for row in seen[counts > 1]:
        check.fail("dataset.h5", f"row {row} is in more than one split", sample=index[row])
    expected = set(np.flatnonzero(converged).tolist())
    for row in sorted(set(seen.tolist()) - expected):
        check.fail("dataset.h5", f"row {row} is in a split but not usable")
    for row in sorted(expected - set(seen.tolist())):
        check.fail("dataset.h5", f"usable row {row} is in no split", sample=index[row])
    if split_settings is not None and check.ok:
        fractions, seed = split_settings
        for name, rows in split_rows(np.flatnonzero(usable), fractions, seed).items():
            if not np.array_equal(rows, splits[name]):
                check.fail("dataset.h5", f"splits/{name} is not the seeded split of splits={fractions}, "
                                         f"seed={seed}")
    check.details["sizes"] = {name: int(len(rows)) for name, rows in splits.items()}
    check.details["note"] = (", ".join(f"{n} {len(r)}" for n, r in splits.items())
                             + f" of {int(usable.sum())} usable")
    return check
