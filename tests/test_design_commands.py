"""``microinv design abc|bo`` and ``microinv validate`` on a tiny untrained surrogate."""

from __future__ import annotations

import argparse
import json

import h5py
import lightning as L
import numpy as np
import pytest
import torch

from microinv.commands import design as design_cmd
from microinv.commands import generate as generate_cmd
from microinv.commands import validate as validate_cmd
from microinv.data.chunks import read_samples
from microinv.design.history import PosteriorHistory
from microinv.errors import InputError

SurrogateModule = pytest.importorskip("microinv.surrogate.module").SurrogateModule

TARGET = ["0.40", "0.50", "0.60"]


def cli(*argv):
    """Parse and run like ``microinv`` (each command's register/run)."""
    parser = argparse.ArgumentParser(prog="microinv")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (design_cmd, validate_cmd, generate_cmd):
        command.register(sub)
    args = parser.parse_args([str(a) for a in argv])
    args.petsc_options = []
    return args.func(args)


def untrained_surrogate(path, seed=0):
    """An untrained surrogate of the reference layout, shrunk to 16^3 inputs."""
    torch.manual_seed(seed)
    module = SurrogateModule(16, conv_widths=(4, 4, 4), fc_widths=(8,))
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": L.__version__}, path)
    return path


@pytest.fixture(scope="module")
def surrogate(tmp_path_factory):
    return untrained_surrogate(tmp_path_factory.mktemp("surrogate") / "model.ckpt")


def test_abc_with_other_settings_stops_or_restarts_on_request(tmp_path, surrogate):
    out = tmp_path / "design"
    common = ("design", "abc", "--surrogate", surrogate, "--target", *TARGET, "-o", out, "--tolerances", 100,
              "--batch-size", 32, "--seed", 5, "--generator", "torch", "--device", "cpu")
    assert cli(*common, "--population", 8) == 0
    with pytest.raises(InputError, match="setting 'population' is 12 but the run being resumed used 8"):
        cli(*common, "--population", 12)
    assert cli(*common, "--population", 12, "--restart-on-change") == 0
    assert PosteriorHistory(out / "posterior.stale.h5").settings["population"] == 8
    assert PosteriorHistory(out / "posterior.h5").settings["population"] == 12


def test_abc_design_then_generate_then_validate(tmp_path, surrogate):
    out = tmp_path / "design"
    assert cli("design", "abc", "--surrogate", surrogate, "--target", *TARGET, "-o", out,
               "--population", 16, "--tolerances", 100, 60, "--batch-size", 32, "--seed", 5,
               "--validation-count", 3, "--posterior-predictive", 2, "--upscale", 3, "--generator", "torch",
               "--device", "cpu") == 0
    history = PosteriorHistory(out / "posterior.h5")
    assert len(history.generations) == 2 and history.settings["population"] == 16
    doc = read_samples(out / "design.json")  # a samples chunk as `generate` reads it
    design = doc["design"]
    posterior = history.generations[-1]
    assert np.allclose(design["abc"]["mean"], posterior.weights @ posterior.particles)
    # the validated design: the candidate of smallest surrogate expected discrepancy, refined
    # to put the surrogate's mean eta on the target (or kept where that does not improve it)
    refinement = design["abc"]["refinement"]
    assert refinement["start"] == design["abc"]["candidates"]["theta"] and refinement["evaluations"] <= 60
    assert design["theta"] == refinement["theta"] and design["validated"].startswith("ABC candidate")
    assert refinement["discrepancy"] <= refinement["start_discrepancy"]
    assert design["validated"].endswith(", refined") == refinement["improved"]
    assert doc["n"] == 48 and len(doc["samples"]) == 3 + 2
    assert np.allclose(doc["samples"][0]["theta"][:3], np.array(design["theta"][:3]) / 3)
    assert len({s["seed"] for s in doc["samples"]}) == 5
    # the posterior-predictive samples: each at a particle of the last generation (a / 3)
    assert design["validation"]["predictive"] == {"count": 2, "first_index": 3}
    particles = np.array(posterior.particles) * [1 / 3, 1 / 3, 1 / 3, 1]
    for sample in doc["samples"][3:]:
        assert np.isclose(particles, sample["theta"]).all(axis=1).any()
    assert design["abc"]["generations"][1]["tolerance"] == 60

    # the lead's generate stage makes the validation structures from design.json as it is
    structures = tmp_path / "structures.h5"
    assert cli("generate", out / "design.json", "-o", structures) == 0
    properties = tmp_path / "properties.h5"
    eta = np.array([[0.40, 0.50, 0.60], [0.44, 0.50, 0.59], [0.39, 0.40, 0.61]])
    at_draws = np.array([[0.40, 0.51, 0.60], [0.30, 0.50, 0.60]])
    with h5py.File(properties, "w") as f:
        f["sample_index"] = np.arange(5)
        f["value"] = np.concatenate([eta, at_draws])
        f["status"] = np.zeros((5, 3), dtype=np.int8)
    report = tmp_path / "validation" / "validation.json"
    assert cli("validate", out / "design.json", properties, structures, "--surrogate", surrogate,
               "-o", report) == 0
    record = json.loads(report.read_text())
    assert np.allclose(record["mean"], eta.mean(axis=0))
    assert record["hit_fraction"] == pytest.approx(1 / 3) and record["solved"] == 3
    assert record["predictive"]["hit_fraction"] == 0.5 and np.allclose(record["predictive"]["mean"], at_draws.mean(0))
    # predicted on the 48^3 structures coarsened to 16^3
    assert all(len(p["surrogate"]) == 3 for p in record["per_structure"])
    assert [p["seed"] for p in record["per_structure"]] == [s["seed"] for s in doc["samples"][:3]]
    for name in ("validation-histograms", "surrogate-vs-solver"):
        assert (report.parent / f"{name}.png").stat().st_size > 1000
    # the search's figures are the report's (`microinv figures design.json`), drawn once
    assert not list(report.parent.glob("posterior-marginals.png"))

    # the next round aims the surrogate at the target plus its bias on these solved structures
    predicted = np.array([p["surrogate"] for p in record["per_structure"]])
    again = tmp_path / "round-1"
    assert cli("design", "bo", "--surrogate", surrogate, "--target", *TARGET, "-o", again, "--trials", 2,
               "--structures-per-trial", 2, "--seed", 5, "--validation-count", 3, "--device", "cpu",
               "--no-percolation", "--round", 1,
               "--bias-from", out / "design.json", properties, structures) == 0
    redesign = read_samples(again / "design.json")
    correction = redesign["design"]["bo"]["correction"]
    bias = (predicted - eta).mean(axis=0)
    assert np.allclose(correction["bias"], bias)
    assert np.allclose(correction["surrogate_target"], np.clip(np.array(TARGET, float) + bias, 0.005, 0.995))
    assert redesign["design"]["target"] == [0.4, 0.5, 0.6] and redesign["design"]["validation"]["round"] == 1
    # a round validates on structures of its own, never those of the round before
    assert not {s["seed"] for s in redesign["samples"]} & {s["seed"] for s in doc["samples"]}

    # a local redesign runs no search: it refines the earlier design under the surrogate,
    # aimed at the corrected target, and carries the earlier search's record, re-based
    local = tmp_path / "round-1-local"
    common = ("--surrogate", surrogate, "--target", *TARGET, "-o", local, "--seed", 5, "--validation-count", 3,
              "--device", "cpu", "--round", 1, "--start-from", out / "design.json")
    assert cli("design", "abc", *common, "--bias-from", out / "design.json", properties, structures) == 0
    moved = read_samples(local / "design.json")["design"]
    assert not (local / "posterior.h5").exists()
    assert (local / moved["abc"]["posterior"]).resolve() == (out / "posterior.h5").resolve()
    assert moved["abc"]["start_from"]["theta"] == design["theta"] and moved["abc"]["start_from"]["round"] == 0
    assert moved["abc"]["refinement"]["start"] == design["theta"]
    assert np.allclose(moved["abc"]["correction"]["bias"], bias)
    assert moved["validated"].startswith("round-0 design")
    with pytest.raises(InputError, match="design.method: 'abc', expected 'bo'"):
        cli("design", "bo", *common)
    with pytest.raises(InputError, match="--start-from: a local redesign is the refinement"):
        cli("design", "abc", *common, "--refine-evaluations", 0)


def test_bo_design_workers_share_the_study(tmp_path, surrogate):
    out = tmp_path / "design"
    common = ["design", "bo", "--surrogate", surrogate, "--target", *TARGET, "-o", out,
              "--structures-per-trial", 2, "--seed", 1, "--validation-count", 2, "--device", "cpu",
              "--no-percolation"]  # few 16^3 structures of the prior percolate
    assert cli(*common, "--trials", 3, "--worker", 0) == 0
    assert cli(*common, "--trials", 3, "--worker", 1) == 0
    doc = read_samples(out / "design.json")
    bo = doc["design"]["bo"]
    assert sum(bo["trials"].values()) == 6 and (out / "study.journal").exists()
    assert doc["n"] == 16 and doc["samples"][0]["theta"] == doc["design"]["theta"]
    # another target is another objective: a study of its own in the same journal
    other = [a if a not in TARGET else {"0.40": "0.30"}.get(a, a) for a in common]
    assert cli(*other, "--trials", 2) == 0
    again = read_samples(out / "design.json")["design"]["bo"]
    assert sum(again["trials"].values()) == 2 and again["study_name"] != bo["study_name"]


def test_bad_target_is_refused_with_the_option_named(tmp_path, surrogate):
    with pytest.raises(InputError, match="--target"):
        cli("design", "abc", "--surrogate", surrogate, "--target", "0.4", "1.2", "0.5", "-o", tmp_path)


def test_validate_refuses_a_samples_chunk_that_is_no_design(tmp_path):
    samples = tmp_path / "chunk.json"
    samples.write_text(json.dumps({"format": "microinv.samples/1", "n": 16, "dim": 3, "samples": []}))
    with pytest.raises(InputError, match="design.format"):
        cli("validate", samples, tmp_path / "p.h5", tmp_path / "s.h5", "-o", tmp_path / "v.json")


def test_an_abc_design_resumes_only_with_the_same_surrogate(tmp_path, surrogate):
    args = ["design", "abc", "--target", *TARGET, "-o", tmp_path / "d", "--population", 8,
            "--tolerances", 100, 80, "--batch-size", 16, "--validation-count", 1]
    assert cli(*args, "--surrogate", surrogate) == 0
    first = (tmp_path / "d" / "posterior.h5").read_bytes()
    assert cli(*args, "--surrogate", surrogate) == 0  # finished: nothing to redo
    assert PosteriorHistory(tmp_path / "d" / "posterior.h5").settings["simulator"]["generator"] == "torch"
    other = untrained_surrogate(tmp_path / "other.ckpt", seed=1)
    with pytest.raises(InputError, match="simulator"):
        cli(*args, "--surrogate", other, "--tolerances", 100, 80, 60)
    assert (tmp_path / "d" / "posterior.h5").read_bytes() == first
