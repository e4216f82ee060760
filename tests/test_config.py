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
