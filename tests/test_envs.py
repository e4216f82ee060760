"""The conda environments for cluster users name the package's own dependencies."""

import re
import tomllib

import yaml

from conftest import ROOT

# conda-forge names of PyPI distributions, and entries that are not Python packages
CONDA_NAME = {"torch": "pytorch"}
NOT_PYTHON = {"python", "pip", "openmpi"}
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}  # envs/snakemake.yaml


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def conda_packages(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return {name_of(d) for d in deps if isinstance(d, str)} - NOT_PYTHON


def test_envs_cover_exactly_the_package_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {CONDA_NAME.get(n, n) for n in map(name_of, project["dependencies"])}
    envs = {p.name: conda_packages(p) for p in (ROOT / "envs").glob("*.yaml")}
    assert set(envs) >= {"microinv.yaml", "solve.yaml", "train.yaml", "snakemake.yaml"}
    named = set().union(*envs.values())
    assert named == wanted, f"only in envs: {named - wanted}; only in pyproject: {wanted - named}"
    assert envs["snakemake.yaml"] == DRIVER_ONLY
    assert {"petsc", "petsc4py", "mpi4py"} <= envs["solve.yaml"]
    assert {"pytorch", "lightning", "optuna"} <= envs["train.yaml"]


def test_every_rule_names_an_existing_env():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().exists(), f"{smk.name}: {env}"


def test_every_mpi_rule_is_launched_by_srun_on_slurm():
    """A rule that starts MPI ranks (``resources: mpi``) gets ``mpi: srun`` in the SLURM
    profile: mpiexec inside a SLURM job without an allocation of its own stops at once."""
    mpi_rules = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        rule = None
        for line in path.read_text().splitlines():
            found = re.match(r"(?:rule|checkpoint) (\w+):", line)
            rule = found.group(1) if found else rule
            if re.search(r'\bmpi="mpiexec"', line):
                mpi_rules.add(rule)
    assert {"solve", "solve_design", "active_solve"} <= mpi_rules
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    srun = {rule for rule, res in profile["set-resources"].items() if res.get("mpi") == "srun"}
    assert mpi_rules <= srun, sorted(mpi_rules - srun)
