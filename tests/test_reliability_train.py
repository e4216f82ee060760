"""Training reruns the way a campaign reruns it: ``microinv train`` as the workflow calls it.

Before Snakemake reruns the ``train`` job it deletes the job's outputs (``model.ckpt``,
``metrics.json``); the undeclared resume state (``last.ckpt``, ``best.ckpt``) stays. The
tests below do the same, with real trainings of a tiny network on tiny real datasets, a
real truncated checkpoint and a really full disk (a small tmpfs in a user namespace).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import h5py
import pytest
import torch

from conftest import BIN, TINY_CONFIG, run_cli
from microinv.data import provenance
from microinv.figures.surrogate import read_epoch_metrics
from microinv.mpi_env import launcher_environment
from test_surrogate import SMALL, write_dataset

OPTIONS = ("--accelerator", "cpu", "--batch-size", "8", "--patience", "50",
           "--conv-widths", *map(str, SMALL["conv_widths"]), "--fc-widths", *map(str, SMALL["fc_widths"]))
OUTPUTS = ("model.ckpt", "metrics.json")  # the declared outputs of the workflow's train rule


def train(dataset, out, epochs, *extra):
    """``microinv train`` in a subprocess, stderr captured as the workflow's log captures it."""
    return run_cli("train", dataset, "-o", out, "--max-epochs", epochs, *OPTIONS, *extra)


def delete_outputs(out):
    """What Snakemake does before it reruns the train job."""
    for name in OUTPUTS:
        (out / name).unlink()


def trained_epochs(out, version: int) -> list[int]:
    """Epochs that run ``version`` of the folder trained (from its CSV log)."""
    path = out / "logs" / f"version_{version}" / "metrics.csv"
    return sorted(read_epoch_metrics([path]).get("train/mse", {})) if path.exists() else []


def state(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def assert_finished(proc, out):
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name


def test_retrain_on_new_splits_trains_afresh(tmp_path):
    """Issue 11, defect 2: a finished training, then the dataset changes (new splits)."""
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    assert_finished(train(tmp_path / "d.h5", out, 2), out)
    delete_outputs(out)
    write_dataset(tmp_path / "d.h5", count=8, splits=(0.25, 0.5, 0.25))  # same settings, other data
    proc = train(tmp_path / "d.h5", out, 2)
    assert_finished(proc, out)
    assert trained_epochs(out, 1) == [0, 1]  # afresh, not "already at max_epochs"
    assert "dataset changed" in proc.stderr
    assert state(out / "last.stale.ckpt")["global_step"] == 2 * 2  # the old training kept aside
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["structures"] == {"train": 2, "val": 4, "test": 2}
    assert list(metrics["provenance"]["inputs_sha256"].values()) == [provenance.sha256_file(tmp_path / "d.h5")]


def test_more_epochs_on_new_data_never_continue_old_weights(tmp_path):
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    assert_finished(train(tmp_path / "d.h5", out, 1), out)
    delete_outputs(out)
    write_dataset(tmp_path / "d.h5", count=8, seed=5)  # other structures, same sizes and settings
    assert_finished(train(tmp_path / "d.h5", out, 2), out)
    assert trained_epochs(out, 1) == [0, 1]
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 2 * 2


def test_finished_training_rerun_publishes_its_best_model_and_continues(tmp_path):
    """The same data and settings: a rerun of a finished training trains nothing and yields its outputs."""
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    assert_finished(train(tmp_path / "d.h5", out, 2), out)
    best = state(out / "model.ckpt")["state_dict"]
    delete_outputs(out)
    assert_finished(train(tmp_path / "d.h5", out, 2), out)
    assert trained_epochs(out, 1) == []
    for key, value in state(out / "model.ckpt")["state_dict"].items():
        assert torch.equal(value, best[key]), key
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    # more epochs (a raised surrogate.max_epochs): the same training continues
    delete_outputs(out)
    assert_finished(train(tmp_path / "d.h5", out, 4), out)
    assert trained_epochs(out, 2) == [2, 3]
    assert state(out / "last.ckpt")["global_step"] == 4 * 2


def test_training_stopped_early_stays_finished(tmp_path):
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    options = ("--patience", "1", "--lr", "0.02")  # diverges: stops after two epochs
    assert_finished(train(tmp_path / "d.h5", out, 30, *options), out)
    first = json.loads((out / "metrics.json").read_text())
    assert first["stopped_early"] and first["epochs"] < 30
    for version in (1, 2):
        delete_outputs(out)
        assert_finished(train(tmp_path / "d.h5", out, 30, *options), out)
        assert trained_epochs(out, version) == []
        assert json.loads((out / "metrics.json").read_text())["global_step"] == first["global_step"]
    delete_outputs(out)  # a larger patience: the training continues where it stopped
    assert_finished(train(tmp_path / "d.h5", out, first["epochs"] + 1, "--patience", "3", "--lr", "0.02"), out)
    assert trained_epochs(out, 3) == [first["epochs"]]


def test_killed_training_resumes_and_publishes_its_model(tmp_path):
    """SIGKILL during training, then the rerun the workflow makes (outputs deleted first)."""
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    proc = subprocess.Popen([str(BIN / "microinv"), "train", str(tmp_path / "d.h5"), "-o", str(out),
                             "--max-epochs", "500", *OPTIONS], stderr=subprocess.DEVNULL, env=launcher_environment())
    deadline = time.time() + 300
    while not (out / "last.ckpt").exists() or state(out / "last.ckpt")["global_step"] < 2 * 2:
        assert proc.poll() is None and time.time() < deadline, "training ended before the kill"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    done = state(out / "last.ckpt")["global_step"] // 2  # epochs completed, two batches each
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    assert_finished(train(tmp_path / "d.h5", out, done + 2), out)
    assert trained_epochs(out, 1) == [done, done + 1]
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 2 * (done + 2)


def test_truncated_checkpoint_is_set_aside_and_training_restarts(tmp_path):
    """Issue 11, defect 3: a truncated last.ckpt (a full disk, an old version) wedged every rerun."""
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    assert_finished(train(tmp_path / "d.h5", out, 2), out)
    delete_outputs(out)
    size = (out / "last.ckpt").stat().st_size
    os.truncate(out / "last.ckpt", size // 2)
    proc = train(tmp_path / "d.h5", out, 2)
    assert_finished(proc, out)
    assert re.search(r"last\.ckpt: unreadable checkpoint .*set aside as .*last\.corrupt\.ckpt", proc.stderr), \
        proc.stderr[-3000:]
    assert (out / "last.corrupt.ckpt").stat().st_size == size // 2
    assert trained_epochs(out, 1) == [0, 1]
    assert state(out / "last.ckpt")["global_step"] == 2 * 2


def _can_mount_tmpfs() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unprivileged user and mount namespaces (unshare -rm)")
def test_full_disk_during_training_leaves_no_truncated_checkpoint(tmp_path):
    """Train into a tmpfs with room for one checkpoint and a half: the second write hits ENOSPC."""
    write_dataset(tmp_path / "d.h5", count=8)
    assert_finished(train(tmp_path / "d.h5", tmp_path / "probe", 1), tmp_path / "probe")
    size = (tmp_path / "probe" / "model.ckpt").stat().st_size
    full, kept = tmp_path / "full", tmp_path / "kept"
    full.mkdir()
    script = (f"mount -t tmpfs -o size={size * 3 // 2 // 1024 + 16}k tmpfs {full} && "
              f"{BIN / 'microinv'} train {tmp_path / 'd.h5'} -o {full} --max-epochs 2 {' '.join(OPTIONS)}; "
              f"echo rc=$?; cp -a {full} {kept}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600)
    for ckpt in kept.glob("*.ckpt"):
        state(ckpt)  # every checkpoint left behind is whole
    assert not list(kept.glob(".*.tmp"))
    assert "rc=2" in proc.stdout, proc.stderr[-3000:]
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("microinv: error: ") and "No space left on device" in error, proc.stderr[-3000:]
    proc = train(tmp_path / "d.h5", kept, 2)  # space again: the rerun finishes
    assert_finished(proc, kept)


def test_log_has_one_line_per_epoch_once_and_no_srun_warning(tmp_path):
    """Issue 11, defect 8: what ``logs/train.log`` shows under the workflow (stderr not a TTY)."""
    write_dataset(tmp_path / "d.h5", count=8)
    out = tmp_path / "surrogate"
    proc = train(tmp_path / "d.h5", out, 3)
    assert_finished(proc, out)
    lines = proc.stderr.splitlines()
    epochs = [line for line in lines if re.search(r"epoch \d+/3: train loss [-+.\de]+, val loss [-+.\de]+, "
                                                  r"val MAPE [.\d]+ %, [.\d]+ s$", line)]
    assert len(epochs) == 3 and [re.search(r"epoch (\d)", e)[1] for e in epochs] == ["1", "2", "3"], proc.stderr
    records = [re.match(r"(?:[A-Z]+|\d\d:\d\d:\d\d \S+): (.*)", line) for line in lines]  # log lines
    messages = [record[1] for record in records if record]
    twice = {m for m in messages if messages.count(m) > 1}
    assert not twice, twice
    if shutil.which("srun", path=os.environ["PATH"]):  # Lightning warns only where srun is installed
        assert "srun" not in proc.stderr


def test_workflow_retrains_after_new_splits(tmp_path):
    """The issue's reproduction through Snakemake: a finished campaign, then other ``splits``."""
    from test_workflow import snakemake

    target = "results/tiny/surrogate/metrics.json"
    first = snakemake(tmp_path, target)
    assert first.returncode == 0, first.stderr[-4000:]
    log = tmp_path / "results/tiny/logs/train.log"
    before = json.loads((tmp_path / target).read_text())["structures"]
    config = {**TINY_CONFIG, "splits": {"train": 0.5, "val": 1 / 6, "test": 1 / 3}}
    second = snakemake(tmp_path, target, config=config)
    assert second.returncode == 0, second.stderr[-4000:] + log.read_text()[-3000:]
    metrics = json.loads((tmp_path / target).read_text())
    with h5py.File(tmp_path / "results/tiny/dataset.h5", "r") as fh:
        assert metrics["structures"] == {split: len(fh[f"splits/{split}"]) for split in before}
    assert metrics["structures"] != before and metrics["epochs"] == 2
    assert len(re.findall(r"epoch \d/2: train loss", log.read_text())) == 2  # the rerun's log
