"""Process campaigns in the config, the sample and generate commands and the process prior."""

from __future__ import annotations

import copy
import json

import h5py
import numpy as np
import pytest

from conftest import ROOT, run_cli
from microinv import config
from microinv.errors import InputError
from microinv.microstructure import ProcessPrior, sample_process
from microinv.microstructure.models import structures_of
from microinv.splits import split_sizes

PROCESS = {"structure": {"n": 36, "dim": 2}, "samples": {"count": 8, "per_chunk": 4},
           "solve": {"properties": ["permeability"]}, "design": {"targets": {}},
           "surrogate": {"conv_widths": [4]}, "process": {"structures_per_phi": 2},
           "process_design": {"boxes": {"b": [[0.0, 1.0], [0.0, 1.0]]}}}


@pytest.mark.parametrize("name", ["psp2d.yaml", "psp2d-128.yaml", "psp2d-small-data.yaml", "psp2d-five-lobe.yaml"])
def test_shipped_process_configs_are_valid(name):
    resolved = config.load(ROOT / "config" / name)
    assert config.is_process_campaign(resolved) and len(resolved["process_design"]["boxes"]) == 3


def test_psp2d_has_the_issue_sizes():
    resolved = config.load(ROOT / "config" / "psp2d.yaml")
    per_phi = resolved["process"]["structures_per_phi"]
    sizes = split_sizes(resolved["splits"], resolved["samples"]["count"])
    assert per_phi == 4 and (sizes["train"] + sizes["val"]) // per_phi == 2500 and sizes["test"] // per_phi == 500


def test_a_spinodoid_campaign_has_no_process_keys():
    resolved = config.resolve({})
    assert "process" not in resolved and "process_design" not in resolved
    filled = config.resolve(PROCESS)
    assert filled["process"]["gamma"] == 2.0 and filled["process_design"]["validation_count"] == 1000
    bare = copy.deepcopy(PROCESS)
    del bare["process_design"]
    assert config.resolve(bare)["process_design"]["reference_grid"] == 20  # {} filled in


@pytest.mark.parametrize("change, message", [
    ({"structure": {"n": 36, "dim": 3}}, "structure.dim: 3 differs from the 2D of process.family=2d"),
    ({"samples": {"count": 7, "per_chunk": 4}}, "samples.count: 7 is not a multiple of process.structures_per_phi=2"),
    ({"solve": {"properties": ["diffusivity"]}}, "solve.properties: ['diffusivity'] lacks permeability"),
    ({"design": {"targets": {"t": [0.4, 0.5, 0.6]}}}, "design.targets: must be {} in a process campaign"),
    ({"process_design": {"boxes": {"b": [[1.0, 0.0], [0.0, 1.0]]}}}, "process_design.boxes.b:"),
])
def test_process_config_errors_name_the_key(change, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]").replace("{", r"\{")
                       .replace("}", r"\}")):
        config.resolve({**PROCESS, **change})


def test_a_spinodoid_campaign_stays_3d():
    with pytest.raises(InputError, match="structure.dim: 2: a spinodoid campaign is 3D"):
        config.resolve({"structure": {"n": 32, "dim": 2}})


def test_process_samples_regenerate_alone():
    prior = ProcessPrior("2d")
    whole = sample_process(6, seed_sequence=9, prior=prior, structures_per_phi=3)
    part = sample_process(2, seed_sequence=9, prior=prior, structures_per_phi=3, start_index=4)
    np.testing.assert_array_equal(whole.theta[4:], part.theta)
    np.testing.assert_array_equal(whole.seed[4:], part.seed)
    assert (whole.theta[:3] == whole.theta[0]).all() and (whole.theta[3] != whole.theta[0]).all()
    low, high = prior.bounds
    assert ((whole.theta >= low) & (whole.theta <= high)).all()
    assert np.isinf(prior.logpdf([0.5, 1.0])) and prior.logpdf([[5.0, 1.0]])[0] == -np.log(8 * 1.8)


def test_sample_and_generate_a_process_chunk(tmp_path):
    cfg = tmp_path / "psp.yaml"
    cfg.write_text(json.dumps(PROCESS))
    run_cli("sample", "--config", cfg, "--chunk", "1", "-o", tmp_path / "s.json", check=True)
    run_cli("generate", tmp_path / "s.json", "--config", cfg, "-o", tmp_path / "g.h5", check=True)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["model"]["name"] == "process" and doc["model"]["parameters"] == ["phi1", "phi2"]
    assert [s["index"] for s in doc["samples"]] == [4, 5, 6, 7]
    with h5py.File(tmp_path / "g.h5") as fh:
        stored, seeds, theta = fh["structures"][()], fh["seed"][()], fh["theta"][()]
        assert fh["percolates"].shape == (4, 2, 2)
    assert stored.shape == (4, 36, 36) and theta.shape == (4, 2)
    alone = structures_of(36, 2, doc["model"], theta[2:3], seeds[2:3])[0]  # one sample, out of its batch
    np.testing.assert_array_equal(alone, stored[2])
    broken = {**doc, "model": {"name": "process"}}
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    proc = run_cli("generate", tmp_path / "bad.json", "-o", tmp_path / "bad.h5")
    assert proc.returncode == 2 and "bad.json: model: expected the process settings" in proc.stderr


def test_process_commands_refuse_a_spinodoid_campaign_and_an_unknown_box(tmp_path):
    proc = run_cli("process", "design", "--config", ROOT / "config" / "config.yaml", "--box", "b",
                   "-o", tmp_path / "d.json")
    assert proc.returncode == 2 and "process: missing; `microinv process` designs process campaigns" in proc.stderr
    cfg = tmp_path / "psp.yaml"
    cfg.write_text(json.dumps(PROCESS))
    proc = run_cli("process", "design", "--config", cfg, "--box", "nope", "-o", tmp_path / "d.json")
    assert proc.returncode == 2 and "--box: 'nope' is not one of process_design.boxes ['b']" in proc.stderr
