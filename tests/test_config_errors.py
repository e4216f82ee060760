"""A campaign config means one thing to `microinv config` and to Snakemake, fails early
and in one line naming the file and the key, and a dry run or lint writes nothing."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, ROOT, TINY_CONFIG, run_cli
from microinv import config
from microinv.errors import InputError
from test_workflow import snakemake

TINY = TINY_CONFIG
TARGET = [0.3, 0.4, 0.5]


def one_line(proc) -> str:
    """The whole output of a failed command, which must be a single line (besides the
    line with which Snakemake announces the profile it uses)."""
    lines = [line for line in (proc.stdout + proc.stderr).strip().splitlines()
             if not line.startswith("Using profile ")]
    assert proc.returncode != 0 and len(lines) == 1, f"rc {proc.returncode}:\n" + "\n".join(lines)
    return lines[0]


# (config, key the message names): each breaks a rule the schema or a later stage enforces
LATE = [
    ({**TINY, "samples": {"count": 0}}, "samples.count"),
    ({**TINY, "structure": {"n": 24, "dim": 3}, "surrogate": {**TINY["surrogate"], "conv_widths": [4, 8, 8]}},
     "structure.n"),                                                  # train: 3 blocks need 16 | n
    ({**TINY, "design": {**TINY["design"], "tolerances": [100, 200]}}, "design.tolerances"),
    ({**TINY, "solve": {"properties": ["permeability"]}}, "solve.properties"),  # train needs eta
    ({**TINY, "splits": {"train": 0.8, "val": 0.2, "test": 0.0}}, "splits.test"),  # empty split
    ({**TINY, "structure": {"n": 32, "dim": 2}}, "structure.dim"),       # the surrogate is 3D
]


@pytest.mark.parametrize("bad, key", LATE, ids=[key for _, key in LATE])
def test_cli_rejects_what_a_later_stage_would(tmp_path, bad, key):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = run_cli("config", path)
    assert proc.returncode == 2
    assert one_line(proc).startswith(f"microinv: error: {path}: {key}: ")


@pytest.mark.parametrize("n, widths", [(24, [4, 8, 8]), (24, [4, 8]), (20, [4, 8]), (40, [4]), (32, [4, 8, 8, 8])])
def test_structure_n_check_agrees_with_the_surrogate(n, widths):
    from microinv.surrogate.network import SurrogateNet

    cfg = {"structure": {"n": n}, "surrogate": {"conv_widths": widths}}
    try:
        SurrogateNet(n, conv_widths=widths, fc_widths=[4])
    except ValueError:
        with pytest.raises(InputError, match="structure.n"):
            config.resolve(cfg)
    else:
        config.resolve(cfg)


def test_cli_names_a_missing_or_unparseable_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert one_line(run_cli("config", missing)) == \
        f"microinv: error: {missing}: cannot read config (No such file or directory)"
    broken = tmp_path / "broken.yaml"
    broken.write_text("campaign: x\nsamples: {count: [\n")
    line = one_line(run_cli("config", broken))
    assert line.startswith(f"microinv: error: {broken}: not valid YAML (line 3, column 1: ")


@pytest.mark.parametrize("bad, key", LATE[:3], ids=[key for _, key in LATE[:3]])
def test_snakemake_config_error_is_one_line(tmp_path, bad, key):
    proc = snakemake(tmp_path, "-n", config=bad, timeout=300)
    assert proc.returncode == 2
    assert one_line(proc).startswith(f"microinv: error: {tmp_path / 'tiny.yaml'}: {key}: ")
    assert not (tmp_path / "results").exists()


def planned_designs(workdir, cfg) -> set[tuple[str, str]]:
    """(target, method) of the design validations a dry run with ``cfg`` plans."""
    proc = snakemake(workdir, "-n", config=cfg, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return set(re.findall(r"design/([^/\s]+)/(abc|bo)/validation\.json", proc.stdout + proc.stderr))


def resolved_designs(tmp_path, cfg) -> set[tuple[str, str]]:
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(cfg))
    resolved = config.load(path)
    assert run_cli("config", path).returncode == 0
    return {(t, m) for t in resolved["design"]["targets"] for m in resolved["design"]["methods"]}


@pytest.mark.parametrize("design, expected", [
    ({"targets": {"mine": TARGET}}, {("mine", "abc")}),        # schema defaults, not config.yaml
    ({"targets": {}}, set()),                                  # designs off
    ({"targets": {"mine": TARGET}, "methods": ["bo"]}, {("mine", "bo")}),
], ids=["defaults", "off", "bo"])
def test_cli_and_snakemake_plan_the_same_designs(tmp_path, design, expected):
    shutil.copytree(ROOT / "config", tmp_path / "config")  # as in a checkout: the default beside it
    cfg = {k: v for k, v in TINY.items() if k != "design"} | {"design": design}
    assert resolved_designs(tmp_path, cfg) == expected
    assert planned_designs(tmp_path, cfg) == expected


def test_no_configfile_runs_the_default_campaign(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-n",
                           "--profile", str(ROOT / "profiles/local")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "results/default/design/reference/bo/validation.json" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_dry_run_and_lint_write_nothing(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    lint = subprocess.run([str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--lint"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert re.search("Congratulations|Lints for", lint.stdout + lint.stderr), lint.stdout + lint.stderr
    assert snakemake(tmp_path, "-n", timeout=300).returncode == 0
    assert not (tmp_path / "results").exists()
