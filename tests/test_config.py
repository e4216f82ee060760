"""Campaign config: schema validation with defaults, errors that name the key."""

import json

import pytest
import yaml

from conftest import ROOT, run_cli
from microinv import config
from microinv.errors import InputError


def test_defaults_are_filled():
    resolved = config.resolve({"samples": {"count": 10}})
    assert resolved["samples"] == {"count": 10, "per_chunk": 16}
    assert resolved["structure"] == {"n": 64, "dim": 3, "field": False}
    assert resolved["solve"]["diffusivity"] == {"bc": "fixed", "sides": "periodic"}


@pytest.mark.parametrize("name", ["config.yaml", "roding2022.yaml"])
def test_shipped_configs_are_valid(name):
    resolved = config.load(ROOT / "config" / name)
    assert resolved["campaign"]


def test_roding2022_has_paper_split():
    resolved = config.load(ROOT / "config" / "roding2022.yaml")
    count = resolved["samples"]["count"]
    assert [round(resolved["splits"][k] * count) for k in ("train", "val", "test")] == [8192, 2048, 2048]
    assert resolved["structure"]["n"] == 192


@pytest.mark.parametrize("bad, key", [
    ({"samples": {"per_chunk": 0}}, "samples.per_chunk"),
    ({"structure": {"n": 64, "dims": 3}}, "structure"),          # unknown key
    ({"solve": {"properties": ["viscosity"]}}, "solve.properties.0"),
    ({"splits": {"train": 0.9, "val": 0.2, "test": 0.1}}, "splits"),
    ({"design": {"targets": {"t": [0.4, 1.2, 0.5]}}}, "design.targets.t.1"),
])
def test_errors_name_the_key(bad, key):
    with pytest.raises(InputError, match=rf"cfg.yaml: {key}"):
        config.resolve(bad, source="cfg.yaml")


def test_cli_config_error_exit_status(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"samples": {"count": -3}}))
    proc = run_cli("config", path)
    assert proc.returncode == 2
    assert f"{path}: samples.count" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_config_writes_resolved_json(tmp_path):
    out = tmp_path / "resolved.json"
    run_cli("config", "--json", json.dumps({"seed": 5}), "-o", out, check=True)
    assert json.loads(out.read_text())["seed"] == 5
    assert json.loads(out.read_text())["samples"]["per_chunk"] == 16


def test_reference_grid_depends_on_its_own_keys_not_on_the_search():
    """The reference grid's slice of the config: its process design keys, not the design's."""
    import doctest

    import microinv.config as config_module
    from microinv.config import STAGE_CONFIG_KEYS, stage_config

    assert doctest.testmod(config_module).failed == 0
    cfg = {"seed": 1, "structure": {"n": 36}, "process": {"gamma": 2.0}, "solve": {"rtol": 1e-6},
           "process_design": {"reference_grid": 20, "reference_structures": 100, "log10_k_floor": -3.0,
                              "reference_points_per_job": 20, "trials": 60, "structures": 64}}
    grid = stage_config(cfg, STAGE_CONFIG_KEYS["reference_grid"])
    assert grid["process_design"] == {"reference_grid": 20, "reference_structures": 100, "log10_k_floor": -3.0,
                                      "reference_points_per_job": 20}
    assert stage_config(cfg, STAGE_CONFIG_KEYS["design"])["process_design"]["trials"] == 60
