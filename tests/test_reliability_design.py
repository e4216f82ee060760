"""Reliability of the design stage, run for real: a BO design killed with kill -9 while its
workers run finishes its study on the rerun, the audit checks every design against its
study, and a run kept aside by ``--restart-on-change`` is not audited as a live record."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

from conftest import TINY_CONFIG, run_cli
from microinv import config as campaign_config
from microinv.commands import design as design_cmd
from microinv.data.provenance import sha256_json
from microinv.data.journal import journal_storage
from microinv.errors import InputError
from microinv.mpi_env import launcher_environment
from test_workflow import snakemake, snakemake_cmd

optuna.logging.set_verbosity(optuna.logging.WARNING)

TRIALS, WORKERS = 8, 2
CONFIG = {**TINY_CONFIG, "design": {**TINY_CONFIG["design"], "methods": ["bo"], "trials": TRIALS,
                                    "workers": WORKERS}}
TOTAL = TRIALS * WORKERS
CAMPAIGN = "results/tiny"
BO = f"{CAMPAIGN}/design/ref/bo"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def study_of(journal):
    """The one study of a journal, read back."""
    storage = journal_storage(journal)
    (summary,) = optuna.get_all_study_summaries(storage, include_best_trial=False)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def finished(journal) -> int:
    return len(study_of(journal).get_trials(deepcopy=False, states=FINISHED))


def logged_trials(workdir) -> int:
    """Trials the BO workers have logged so far."""
    logs = (workdir / CAMPAIGN / "logs/design/ref").glob("bo-worker-*.log")
    return sum(len(re.findall(r"^.*trial \d+ \(", log.read_text(), flags=re.M)) for log in logs)


def audit(campaign):
    """``microinv audit --skip-solve``: (exit status, JSON report)."""
    proc = run_cli("audit", campaign, "--skip-solve", "--json", campaign.parent / "audit.json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads((campaign.parent / "audit.json").read_text()), proc.stdout


def copy_workdir(source, dest):
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("locks"))
    return dest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny campaign up to its trained surrogate (no design yet)."""
    workdir = tmp_path_factory.mktemp("trained")
    proc = snakemake(workdir, f"{CAMPAIGN}/surrogate/model.ckpt", config=CONFIG)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir


@pytest.fixture(scope="module")
def resumed(trained, tmp_path_factory):
    """The BO design killed (kill -9 of Snakemake's process group) mid-study, then rerun;
    (workdir, finished trials at the kill).

    One core: the workers run one after the other. The kill comes when the second worker
    has logged two trials, or as soon as a ``design.json`` appears, whichever is first (a
    worker that writes it, as workers did, is then killed before its ``.done`` is touched).
    """
    workdir = copy_workdir(trained, tmp_path_factory.mktemp("killed") / "w")
    log = workdir / "snakemake.log"
    cmd = snakemake_cmd(workdir, f"{BO}/design.json", "--cores", "1", config=CONFIG)
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=workdir, start_new_session=True, stdout=sink,
                                stderr=subprocess.STDOUT, env=launcher_environment())
        deadline = time.time() + 600
        while logged_trials(workdir) < TRIALS + 2 and not (workdir / BO / "design.json").exists():
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-4000:]
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    at_kill = finished(workdir / BO / "study.journal")
    assert snakemake(workdir, "--unlock", config=CONFIG).returncode == 0
    rerun = snakemake(workdir, f"{BO}/design.json", config=CONFIG)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    return workdir, at_kill


def test_killed_bo_design_finishes_its_study_on_rerun(resumed):
    workdir, at_kill = resumed
    assert 0 < at_kill < TOTAL  # killed mid-study
    study = study_of(workdir / BO / "study.journal")
    assert len(study.get_trials(deepcopy=False, states=FINISHED)) == TOTAL
    bo = json.loads((workdir / BO / "design.json").read_text())["design"]["bo"]
    assert bo["trials"]["complete"] + bo["trials"]["pruned"] == TOTAL, bo["trials"]
    assert (bo["trial"], bo["value"]) == (study.best_trial.number, study.best_value)
    assert sorted(p.name for p in (workdir / BO / "workers").iterdir()) == ["0.done", "1.done"]
    status, report, summary = audit(workdir / CAMPAIGN)
    assert status == 0 and report["ok"], summary
    designs = next(c for c in report["checks"] if c["name"] == "designs")
    assert designs["checked"] == 1


@pytest.fixture(scope="module")
def uninterrupted(trained, tmp_path_factory):
    """The same BO design, its two workers at once, not interrupted."""
    workdir = copy_workdir(trained, tmp_path_factory.mktemp("uninterrupted") / "w")
    proc = snakemake(workdir, f"{BO}/design.json", config=CONFIG)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir


def test_killed_and_resumed_design_equals_an_uninterrupted_one(resumed, uninterrupted):
    """Reproducible BO: killed mid-study and resumed, its workers one after the other, the
    design holds the trials, and gives the design, of a run whose workers ran at once."""
    def trials(workdir):
        return {t.number: (t.params, t.user_attrs.get("seeds"), t.value)
                for t in study_of(workdir / BO / "study.journal").get_trials(states=FINISHED)}

    def design(workdir):
        return json.loads((workdir / BO / "design.json").read_text())["design"]

    assert trials(resumed[0]) == trials(uninterrupted)
    assert design(resumed[0])["theta"] == design(uninterrupted)["theta"]
    assert design(resumed[0])["bo"]["trial"] == design(uninterrupted)["bo"]["trial"]


def test_audit_names_a_journal_short_of_the_trials_its_design_claims(resumed, tmp_path):
    workdir = copy_workdir(resumed[0], tmp_path / "w")
    journal = workdir / BO / "study.journal"
    lines = journal.read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if json.loads(line)["op_code"] == 6)  # a trial told
    journal.write_text("".join(lines[:last]))  # the last finished trial left running
    status, report, summary = audit(workdir / CAMPAIGN)
    assert status == 1 and report["culprits"] == ["design/ref/bo/study.journal"], summary
    (failure,) = next(c for c in report["checks"] if c["name"] == "designs")["failures"]
    assert f"{TOTAL - 1} finished trials" in failure["message"], failure


def test_a_design_that_claims_fewer_trials_than_the_config_asks_fails_the_audit(resumed, tmp_path):
    """What a worker that wrote design.json mid-study left (the defect): a design of a study
    cut short."""
    workdir = copy_workdir(resumed[0], tmp_path / "w")
    config_json = workdir / CAMPAIGN / "config.json"
    config = json.loads(config_json.read_text())
    config["design"]["trials"] += 1  # the design's config asks for more trials than its study ran
    config_json.write_text(json.dumps(config))
    path = workdir / BO / "design.json"
    doc = json.loads(path.read_text())
    doc["provenance"]["config"]["design"]["trials"] += 1
    doc["provenance"]["config_sha256"] = sha256_json(doc["provenance"]["config"])
    path.write_text(json.dumps(doc))
    status, report, summary = audit(workdir / CAMPAIGN)
    assert status == 1 and report["culprits"] == ["design/ref/bo/design.json"], summary
    (failure,) = next(c for c in report["checks"] if c["name"] == "designs")["failures"]
    assert f"asks for {TOTAL + WORKERS}" in failure["message"], failure


def test_run_kept_by_restart_on_change_is_not_audited_as_live(trained, tmp_path):
    """A retrain makes the ABC design restart; the old run, kept as posterior.stale.h5,
    still names the old surrogate and must not fail the audit."""
    workdir = copy_workdir(trained, tmp_path / "w")
    surrogate = f"{CAMPAIGN}/surrogate/model.ckpt"
    design = ["design", "abc", "--surrogate", surrogate, "--config", f"{CAMPAIGN}/config.json",
              "--target", 0.4, 0.5, 0.6, "--population", 8, "--tolerances", 200, "--batch-size", 16,
              "--validation-count", 1, "--device", "cpu", "--restart-on-change", "-o",
              f"{CAMPAIGN}/design/ref/abc"]
    run_cli(*design, cwd=workdir, check=True)
    checkpoint = torch.load(workdir / surrogate, weights_only=False)  # a legitimate retrain
    for value in checkpoint["state_dict"].values():
        value.mul_(1.01)
    torch.save(checkpoint, workdir / surrogate)
    run_cli(*design, cwd=workdir, check=True)
    assert (workdir / CAMPAIGN / "design/ref/abc/posterior.stale.h5").is_file()
    status, report, summary = audit(workdir / CAMPAIGN)
    assert status == 0 and report["ok"], summary
    assert "posterior.stale.h5" in summary


def test_design_settings_default_to_the_schema(tmp_path):
    """Without --config a design takes the schema's defaults (validation_count 32, the
    schema's seed), not defaults of its own."""
    from test_design_commands import cli, untrained_surrogate

    out = tmp_path / "d"
    assert cli("design", "bo", "--surrogate", untrained_surrogate(tmp_path / "model.ckpt"), "--target",
               0.4, 0.5, 0.6, "-o", out, "--trials", 1, "--structures-per-trial", 2, "--device", "cpu",
               "--no-percolation") == 0
    design = json.loads((out / "design.json").read_text())["design"]
    defaults = campaign_config.resolve({})
    assert design["validation"]["count"] == defaults["design"]["validation_count"]
    assert design["seed"] == defaults["seed"]
    parser = argparse.ArgumentParser()
    design_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["design", "abc", "--surrogate", "s", "--target", "0.4", "0.5", "0.6", "-o", "o"])
    assert design_cmd.settings_of(args, defaults) == defaults["design"]


def test_workers_write_no_design_and_a_short_study_gives_none(tmp_path):
    from test_design_commands import cli, untrained_surrogate

    out = tmp_path / "d"
    common = ["design", "bo", "--surrogate", untrained_surrogate(tmp_path / "model.ckpt"), "--target", 0.4, 0.5,
              0.6, "-o", out, "--structures-per-trial", 2, "--device", "cpu", "--no-percolation",
              "--workers", 2, "--total-trials", 4]
    assert cli(*common, "--trials", 1, "--worker", 0, "--no-design") == 0
    assert cli(*common, "--trials", 1, "--worker", 1, "--no-design") == 0
    assert not (out / "design.json").exists()
    with pytest.raises(InputError, match=r"study.journal: study 'design-\w+' holds 2 finished trials of the 4"):
        cli(*common, "--trials", 0)
    assert not (out / "design.json").exists()
    assert cli(*common, "--trials", 2, "--worker", 1, "--no-design") == 0  # the rerun tops it up
    assert cli(*common, "--trials", 0) == 0
    trials = json.loads((out / "design.json").read_text())["design"]["bo"]["trials"]
    assert trials["complete"] + trials["pruned"] == 4
