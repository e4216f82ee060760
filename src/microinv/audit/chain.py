"""The SHA-256 chain of a campaign: dataset -> chunks -> samples -> resolved config.

* ``dataset.h5``'s manifest pins every structures and properties chunk it was built from;
* each properties chunk records the SHA-256 of its structures chunk, each structures chunk
  that of its samples chunk, each samples chunk that of ``config.json``;
* every record holds the resolved config and its SHA-256, which must agree with each other
  and with ``config.json`` on disk on the keys the record's stage depends on. The bytes of
  ``config.json`` are not pinned: a change to another stage's keys (which re-runs only
  that stage) leaves the earlier stages valid.

A file changed after a later stage read it breaks a link: the check names the file whose
bytes no longer match and the record that pinned them.
"""

from __future__ import annotations

import json
from pathlib import Path

from microinv.audit.campaign import Campaign
from microinv.audit.findings import Check
from microinv.config import STAGE_CONFIG_KEYS, stage_config
from microinv.data import layout, provenance

#: Each chunk kind and the kind of chunk its record must name as input.
LINKS = {"samples": "config", "structures": "samples", "properties": "structures"}


def check_layout(campaign: Campaign) -> Check:
    """Every file the config promises exists."""
    check = Check("layout", "files the config promises", unit="files")
    c = campaign.config
    for kind, files in campaign.expected().items():
        for rel in files:
            check.checked += 1
            if not campaign.path(rel).is_file():
                check.fail(rel, f"missing ({kind}: config.json has samples.count={c['samples']['count']}, "
                                f"samples.per_chunk={c['samples']['per_chunk']}, "
                                f"solve.properties={campaign.properties})")
    return check


def check_manifest(campaign: Campaign) -> Check:
    """The chunks listed in ``dataset.h5``'s manifest exist and have the recorded SHA-256,
    and the manifest lists exactly the structures and properties chunks of the config."""
    check = Check("manifest", "dataset.h5 manifest -> chunks (SHA-256)", unit="chunks")
    fh = campaign.dataset(check, ("manifest",))
    if fh is None:
        return check
    with fh:
        rows = fh["manifest"][()].astype(str)
    listed = {}
    for rel, digest in rows:
        listed[rel] = digest
        check.checked += 1
        path = campaign.path(rel)
        if not path.is_file():
            check.fail(rel, "listed in dataset.h5's manifest but missing")
        elif provenance.sha256_file(path) != digest:
            check.fail(rel, "SHA-256 differs from dataset.h5's manifest: the chunk changed after "
                            "the dataset was built")
    expected = campaign.expected()
    for rel in expected["structures"] + expected["properties"]:
        if rel not in listed:
            check.fail(layout.DATASET, f"manifest does not list {rel}")
    for rel in sorted(set(listed) - set(expected["structures"] + expected["properties"])):
        check.fail(layout.DATASET, f"manifest lists {rel}, which the config does not promise")
    return check


def check_recorded_inputs(campaign: Campaign, records: dict) -> Check:
    """Every input hash a record holds matches the file on disk, and each chunk's record
    names the file one step up the chain (samples -> config, structures -> samples,
    properties -> structures)."""
    check = Check("inputs", "recorded input SHA-256 -> files on disk", unit="recorded inputs")
    digests, missing, changed = {}, {}, {}
    for rel, record in records.items():
        inputs = record.get("inputs_sha256") or {}
        for recorded, digest in inputs.items():
            path = campaign.resolve(recorded)
            if path == campaign.folder / "config.json":
                continue  # compared key by key in check_config
            check.checked += 1
            if not path.is_file():
                missing.setdefault(campaign.rel(path), []).append(rel)
                continue
            if path not in digests:
                digests[path] = provenance.sha256_file(path)
            if digests[path] != digest:
                changed.setdefault(campaign.rel(path), []).append(rel)
        _check_link(check, campaign, rel, [campaign.rel(campaign.resolve(p)) for p in inputs])
    for name, users in missing.items():
        check.fail(name, f"missing, though {_files(users)} recorded it as input")
    for name, users in changed.items():
        check.fail(name, f"SHA-256 differs from the one recorded by {_files(users)}: the file changed "
                         "after it was read")
    return check


def _files(names, shown=4) -> str:
    """'a, b and 3 more' for a list of file names."""
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _check_link(check: Check, campaign: Campaign, rel: str, inputs: list[str]) -> None:
    """A chunk's record must name its parent in the chain (same chunk number)."""
    kind, chunk = rel.split("/")[0], layout.chunk_of(rel)
    if kind not in LINKS or chunk is None:
        return
    parent = {"config": layout.CONFIG, "samples": layout.SAMPLES.format(chunk=chunk),
              "structures": layout.STRUCTURES.format(chunk=chunk)}[LINKS[kind]]
    if parent not in inputs:
        check.fail(rel, f"its provenance does not record {parent} among its inputs "
                        f"(records {inputs or 'none'})")


def check_config(campaign: Campaign, records: dict) -> Check:
    """Each record's config hashes to its ``config_sha256`` and agrees with ``config.json``
    on the keys its stage depends on (:data:`microinv.config.STAGE_CONFIG_KEYS`, by the
    record's folder; every key for a file outside those folders).

    A stage's other keys may change after it ran (a new surrogate width leaves the solves
    valid); upstream changes reach it through the input SHA-256 chain. Keys a record holds
    that ``config.json`` lacks are defaults the schema of the day filled in when the stage
    loaded the config; they are not a mismatch. A key whose value differs, or one that
    ``config.json`` has and the record lacks, is.
    """
    check = Check("config", "recorded config -> config.json", unit="records")
    differences = {}
    for rel, record in records.items():
        if record.get("config") is None:
            continue
        check.checked += 1
        recorded = record["config"]
        if record.get("config_sha256") != provenance.sha256_json(recorded):
            check.fail(rel, "config_sha256 is not the SHA-256 of the config it records")
        in_grid = rel == layout.REFERENCE_GRID or rel.startswith(f"{layout.REFERENCE_GRID_PARTS}/")
        stage = "reference_grid" if in_grid else Path(rel).parts[0].split(".")[0]
        keys = STAGE_CONFIG_KEYS.get(stage, tuple(campaign.config))
        for key, on_disk, then in _differences(stage_config(campaign.config, keys), recorded):
            shown = "absent" if then is _ABSENT else json.dumps(then)
            differences.setdefault((key, json.dumps(on_disk), shown), []).append(rel)
    for (key, on_disk, then), users in differences.items():
        check.fail("config.json", f"{key}: {on_disk} on disk, {then} in the records of {_files(users)}")
    return check


_ABSENT = object()


def _differences(disk, record, prefix=""):
    """(key path, disk value, record value) where they differ; keys only in the record skipped."""
    if isinstance(disk, dict) and isinstance(record, dict):
        for key, value in disk.items():
            yield from _differences(value, record.get(key, _ABSENT), f"{prefix}{key}.")
    elif disk != record:
        yield prefix.rstrip("."), disk, record
