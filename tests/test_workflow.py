"""The campaign workflow, run for real: Snakemake, mpiexec -n 2, a SLURM cluster, a kill."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from conftest import BIN, ROOT, TINY_CONFIG, run_cli
from microinv.data import provenance
from microinv.microstructure import spinodoid
from microinv.mpi_env import launcher_environment
from slurm_cluster import SlurmCluster

TINY = TINY_CONFIG
DATASET = "results/tiny/dataset.h5"  # target of the runs that stop after the aggregate stage
BO_DESIGN = "results/tiny/design/ref/bo/design.json"


def snakemake_cmd(workdir, *args, profile="local", config=TINY):
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    return [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--configfile", "tiny.yaml",
            "--profile", str(ROOT / "profiles" / profile), "--cores", "2", *args]


def snakemake(workdir, *args, profile="local", config=TINY, env=None, timeout=900):
    proc = subprocess.run(snakemake_cmd(workdir, *args, profile=profile, config=config), cwd=workdir,
                          capture_output=True, text=True, env=env or launcher_environment(),
                          timeout=timeout)
    return proc


def dataset_arrays(path):
    """Everything in a dataset except provenance attributes and the manifest."""
    with h5py.File(path, "r") as fh:
        out = {}
        fh.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                      if isinstance(obj, h5py.Dataset) and name != "manifest" else None)
    return out


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """The tiny campaign, run once, uninterrupted."""
    workdir = tmp_path_factory.mktemp("campaign")
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir / "results" / "tiny"


def test_lint_and_format():
    lint = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=ROOT,
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr


def test_campaign_dataset(campaign):
    with h5py.File(campaign / "dataset.h5", "r") as fh:
        assert fh["structures"].shape == (6, 32, 32, 32)
        np.testing.assert_array_equal(fh["sample_index"][:], np.arange(6))
        eta = fh["properties/diffusivity/value"][:]
        status = fh["properties/diffusivity/status"][:]
        usable = fh["usable"][:]
        np.testing.assert_array_equal(usable, (status == 0).all(axis=1))
        porosity = fh["descriptors/porosity"][:]
        assert np.all((eta[usable] > 0) & (eta[usable] <= porosity[usable, None] + 1e-9))
        splits = np.concatenate([fh[f"splits/{s}"][:] for s in ("train", "val", "test")])
        np.testing.assert_array_equal(np.sort(splits), np.flatnonzero(usable))
        for rel, digest in fh["manifest"][:].astype(str):
            assert provenance.sha256_file(campaign / rel) == digest
        record = provenance.read(fh)
        assert record["config"]["campaign"] == "tiny"
        # a structure regenerates bit for bit from (theta, n, seed)
        assert np.array_equal(fh["structures"][4], spinodoid(fh["theta"][4], 32, int(fh["seed"][4])))
    with h5py.File(campaign / "properties/diffusivity/chunk-0000.h5", "r") as fh:
        record = provenance.read(fh)
        assert record["solver"]["ranks"] == 2
        assert list(record["inputs_sha256"].values())[0] == \
            provenance.sha256_file(campaign / "structures/chunk-0000.h5")
    assert (campaign / "report/structures.png").stat().st_size > 10_000


def test_campaign_surrogate_and_design(campaign):
    metrics = json.loads((campaign / "surrogate/metrics.json").read_text())
    assert metrics["test"]["mape"] >= 0
    for name in ("model.ckpt", "parity.png", "learning_curves.png"):
        assert (campaign / "surrogate" / name).stat().st_size > 0
    for method in ("abc", "bo"):
        validation = json.loads((campaign / f"design/ref/{method}/validation.json").read_text())
        assert len(validation["mean"]) == 3
        assert validation["method"] == method
        # K = 2 structures at the design, and for ABC K' = 2 more at posterior draws
        with h5py.File(campaign / f"design/ref/{method}/validation/diffusivity.h5", "r") as fh:
            assert fh["value"].shape == (2 + 2 * (method == "abc"), 3)
        assert validation["solved"] == 2 and (validation.get("predictive") or {}).get("solved") == (
            2 if method == "abc" else None)
    # two BO workers (two jobs) shared one study: 3 trials each
    assert (campaign / "report/design/ref/bo-history.png").stat().st_size > 10_000
    trials = json.loads((campaign / "design/ref/bo/design.json").read_text())["design"]["bo"]["trials"]
    assert trials["complete"] + trials["pruned"] == 6, trials


def planned_rules(workdir, config) -> set[str]:
    """The rules a dry run with ``config`` would run in ``workdir``."""
    proc = snakemake(workdir, "-n", config=config, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    if "Job stats:" not in log:
        assert "Nothing to be done" in log, log[-4000:]
        return set()
    stats = log.split("Job stats:")[1].split("total")[0]
    return {line.split()[0] for line in stats.splitlines()[3:] if line.strip()}


def test_config_change_reruns_the_stages_that_use_it_and_no_others(campaign, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(campaign.parent.parent, workdir, ignore=shutil.ignore_patterns("locks"))
    config_json = (workdir / "results/tiny/config.json").read_text()
    assert planned_rules(workdir, TINY) == set()  # nothing to do
    design = planned_rules(workdir, {**TINY, "design": {**TINY["design"], "population": 24}})
    assert {"design_abc", "validate_design"} <= design
    assert not design & {"sample", "generate", "solve", "aggregate", "train"}
    rtol = planned_rules(workdir, {**TINY, "solve": {**TINY["solve"], "rtol": 1e-5}})
    assert {"solve", "aggregate", "train", "design_abc", "design_bo_worker"} <= rtol
    assert not rtol & {"sample", "generate"}
    # a dry run leaves the resolved config of the finished run alone
    assert (workdir / "results/tiny/config.json").read_text() == config_json


def test_killed_abc_design_resumes_at_its_last_generation(campaign, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(campaign.parent.parent, workdir, ignore=shutil.ignore_patterns("locks"))
    abc = workdir / "results/tiny/design/ref/abc"
    reference = json.loads((abc / "design.json").read_text())["design"]["theta"]
    # the state a kill during generation 1 leaves: generation 0 on disk, no design.json
    (abc / "design.json").unlink()
    with h5py.File(abc / "posterior.h5", "r+") as fh:
        first = fh["generation-0000/particles"][()]
        del fh["generation-0001"]
    proc = snakemake(workdir, "results/tiny/design/ref/abc/design.json")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "resuming after generation 0 of 2" in (workdir / "results/tiny/logs/design/ref/abc.log").read_text()
    with h5py.File(abc / "posterior.h5", "r") as fh:
        assert sorted(fh) == ["generation-0000", "generation-0001"]
        np.testing.assert_array_equal(fh["generation-0000/particles"][()], first)
    # the same seeds give the same design as the uninterrupted run
    np.testing.assert_allclose(json.loads((abc / "design.json").read_text())["design"]["theta"], reference)


def kill_after_a_solve(workdir, *targets, config=TINY) -> dict[str, int]:
    """Run the campaign in ``workdir`` and SIGKILL it once a solve job has finished: the
    outputs (relative to ``workdir``) of the solves Snakemake had finished, with their
    mtimes. A solve still running may have written its file and is redone as incomplete."""
    log = workdir / "snakemake.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(snakemake_cmd(workdir, *targets, config=config), cwd=workdir,
                                start_new_session=True, stdout=sink, stderr=subprocess.STDOUT,
                                env=launcher_environment())
        deadline = time.time() + 600
        while not re.search(r"Finished jobid: \d+ \(Rule: solve\)", log.read_text()):
            assert proc.poll() is None and time.time() < deadline, "campaign ended before the kill"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()
    outputs = dict(re.findall(r"rule solve:.*?output: (\S+).*?jobid: (\d+)", text, flags=re.S))
    jobs = {jobid: out for out, jobid in outputs.items()}
    done = [jobs[j] for j in re.findall(r"Finished jobid: (\d+) \(Rule: solve\)", text)]
    return {out: (workdir / out).stat().st_mtime_ns for out in done}


def test_resume_after_sigkill(campaign, tmp_path):
    """Kill the campaign during the solve stage; the rerun finishes what is missing only."""
    props = tmp_path / "results" / "tiny" / "properties" / "diffusivity"
    finished = {Path(out).name: mtime for out, mtime in kill_after_a_solve(tmp_path, DATASET).items()}
    assert 1 <= len(finished) < 3, finished

    # what envs/campaign.sh does before it reruns (the kill left Snakemake's lock behind)
    assert snakemake(tmp_path, "--unlock").returncode == 0
    rerun = snakemake(tmp_path, DATASET)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    for name, mtime in finished.items():
        assert (props / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    leftovers = [p for p in (tmp_path / "results").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    resumed, reference = dataset_arrays(tmp_path / "results/tiny/dataset.h5"), dataset_arrays(campaign / "dataset.h5")
    assert resumed.keys() == reference.keys()
    for key in reference:
        if key.endswith(("/iterations", "/residual")):
            continue  # convergence figures, not results
        if key.endswith("/value"):  # solver output: equal within the solver tolerance
            np.testing.assert_allclose(resumed[key], reference[key], rtol=1e-5, err_msg=key)
        else:
            np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)


@pytest.mark.slurm
def test_slurm_profile(campaign, tmp_path):
    if not SlurmCluster.available():
        pytest.fail("slurmctld/slurmd/munged not installed: run envs/setup.sh")
    cluster = SlurmCluster(tmp_path / "slurm").start()
    try:
        # the data stages, and the BO design: its two workers are two SLURM jobs sharing one study
        proc = snakemake(tmp_path, DATASET, BO_DESIGN, "--slurm-init-seconds-before-status-checks", "2",
                         "--latency-wait", "10", "--jobs", "4", profile="slurm", env=cluster.env)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-6000:]
        jobids = [line for line in log.splitlines() if "SLURM jobid" in line or "SLURM job id" in line]
        assert jobids, log[-3000:]
        shown = subprocess.run(["scontrol", "show", "job"], capture_output=True, text=True, env=cluster.env)
        assert "JobState=COMPLETED" in shown.stdout
        assert "microinv" in shown.stdout or "snakemake" in shown.stdout
        # every job's status was read right: nothing reported complete too early and redone
        assert "Trying to restart" not in log, log[-6000:]
        # two BO workers, two SLURM jobs
        assert len(re.findall(r"Comment=rule_design_bo_worker_wildcards_ref_\d", shown.stdout)) == 2
    finally:
        cluster.stop()
    np.testing.assert_allclose(dataset_arrays(tmp_path / "results/tiny/dataset.h5")["properties/diffusivity/value"],
                               dataset_arrays(campaign / "dataset.h5")["properties/diffusivity/value"], rtol=1e-5)


def test_schema_error_stops_the_campaign(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**TINY, "samples": {"count": 0}}))
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--configfile", "bad.yaml",
                           "-n"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "count" in proc.stderr + proc.stdout and "minimum" in proc.stderr + proc.stdout


def test_missing_and_corrupt_chunks_are_named(campaign, tmp_path):
    good = campaign / "structures/chunk-0000.h5"
    corrupt = tmp_path / "chunk-0001.h5"
    corrupt.write_bytes(good.read_bytes()[:5000])  # truncated copy
    cfg = campaign / "config.json"
    prop = campaign / "properties/diffusivity/chunk-0000.h5"
    out = run_cli("aggregate", "--config", cfg, "--structures", good, tmp_path / "chunk-0002.h5",
                  "--property", "diffusivity", prop, prop, "-o", tmp_path / "d.h5")
    assert out.returncode == 2 and "chunk-0002.h5: structures chunk does not exist" in out.stderr
    out = run_cli("aggregate", "--config", cfg, "--structures", good, corrupt,
                  "--property", "diffusivity", prop, prop, "-o", tmp_path / "d.h5")
    assert out.returncode == 2 and f"{corrupt}: corrupt or unreadable" in out.stderr
    out = run_cli("solve", "diffusivity", corrupt, "-o", tmp_path / "p.h5")
    assert out.returncode == 2 and f"{corrupt}: corrupt or unreadable" in out.stderr
    assert not (tmp_path / "d.h5").exists() and not (tmp_path / "p.h5").exists()


def test_rve_rule_runs_under_snakemake(tmp_path):
    """The prior's RVE stage alone: sizes 8-16, two structures each, two prior draws."""
    proc = snakemake(tmp_path, "results/tiny/rve/prior.json", "--show-failed-logs", timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((tmp_path / "results/tiny/rve/prior.json").read_text())
    assert doc["settings"]["sizes"] == TINY["rve"]["sizes"] and doc["n"] == TINY["structure"]["n"]
    assert len(doc["entries"]) == TINY["rve"]["prior_draws"]
    assert doc["guard"]["fraction_exceeding"] == sum(e["rve_size"] is None or e["rve_size"] > 32
                                                     for e in doc["entries"]) / 2
    assert (tmp_path / "results/tiny/rve/prior-cv.png").stat().st_size > 0
    assert (tmp_path / "results/tiny/benchmarks/rve/prior.tsv").exists()


def test_campaign_carries_the_rve_guard(campaign):
    """The tiny campaign's RVE stage: the prior's guard on the answer page, each design's
    RVE size in its validation record."""
    for method in ("abc", "bo"):
        flag = json.loads((campaign / f"design/ref/{method}/validation.json").read_text())["rve"]
        assert flag["n"] == TINY["structure"]["n"] and isinstance(flag["exceeds"], bool)
        assert (campaign / f"design/ref/{method}/rve-cv.png").stat().st_size > 0
    answer = (campaign / "report/answer.html").read_text()
    assert "Representative volume" in answer and "need an RVE larger than the campaign&#x27;s N = 32" in answer
