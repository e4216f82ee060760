"""``microinv crate``: the Workflow Run RO-Crate of a real tiny campaign, loaded back with
the ``rocrate`` library and checked against the files and their provenance records."""

from __future__ import annotations

import pytest
from rocrate.rocrate import ROCrate

from conftest import ROOT, run_cli
from microinv.audit import Campaign, stage_of
from microinv.data import provenance
from test_report import copy_campaign, tiny_campaign

PROFILES = {"https://w3id.org/ro/wfrun/process/0.5", "https://w3id.org/ro/wfrun/workflow/0.5"}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    campaign = copy_campaign(tiny_campaign(tmp_path_factory), tmp_path_factory.mktemp("crate"))
    proc = run_cli("crate", campaign, "--workflow", ROOT / "Snakefile", "--exclude", "logs/crate.log")
    assert proc.returncode == 0, proc.stderr
    return campaign


def ids(value):
    return [v.id for v in (value if isinstance(value, list) else [value])]


def test_crate_lists_every_file_with_its_hash_and_size(campaign):
    crate = ROCrate(campaign)
    assert PROFILES <= set(ids(crate.root_dataset["conformsTo"]))
    workflow = crate.mainEntity
    assert workflow.id == "Snakefile" and "ComputationalWorkflow" in workflow.type
    assert workflow["programmingLanguage"].id.endswith("#snakemake")
    assert workflow["version"] == provenance.git_commit()
    assert "workflow/rules/report.smk" in ids(workflow["hasPart"])
    files = [p for p in campaign.rglob("*") if p.is_file() and p.name != "ro-crate-metadata.json"]
    assert len(files) > 40
    for path in files:
        rel = path.relative_to(campaign).as_posix()
        entity = crate.get(rel)
        assert entity is not None, rel
        assert entity["sha256"] == provenance.sha256_file(path), rel
        assert entity["contentSize"] == str(path.stat().st_size), rel
    assert crate.get("config.json")["encodingFormat"] == "application/json"


def test_one_create_action_per_stage_job_from_its_record(campaign):
    crate = ROCrate(campaign)
    actions = {a.id: a for a in crate.get_by_type("CreateAction")}
    records = Campaign(campaign).records()
    assert len(actions) == len(records) + 1  # one per job, one for the whole run
    for rel, record in records.items():
        action = actions[f"#run/{rel}"]
        assert ids(action["result"]) == [rel]
        assert action["startTime"] == record["started_utc"] and action["endTime"] == record["ended_utc"]
        assert action["name"] == f"microinv {stage_of(record)}: {rel}"
        assert record["command"] in action["description"]
        inputs = {Campaign(campaign).rel(Campaign(campaign).resolve(p)) for p in record["inputs_sha256"]}
        assert inputs <= set(ids(action["object"]))
        software = action["instrument"]
        assert software["version"] == record["microinv_version"]
        assert record["git_commit"] in software["softwareVersion"]
        assert software["softwareRequirements"]["version"] == record["python"]
    assert {stage_of(r) for r in records.values()} == {"sample", "generate", "solve", "aggregate"}
    solve = actions["#run/properties/diffusivity/chunk-0000.h5"]
    settings = {p["name"]: p["value"] for p in solve["object"] if "PropertyValue" in p.type}
    assert settings["solver.rtol"] == 1e-6 and settings["solver.ranks"] == 2

    run = actions["#campaign-run"]
    assert run["instrument"].id == "Snakefile" and ids(run["object"]) == ["config.json"]
    assert "dataset.h5" in ids(run["result"]) and "config.json" not in ids(run["result"])
    assert run["startTime"] == min(r["started_utc"] for r in records.values())
    assert run["endTime"] == max(r["ended_utc"] for r in records.values())
    assert "#campaign-run" in ids(crate.root_dataset["mentions"])
