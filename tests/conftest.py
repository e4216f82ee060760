"""Shared fixtures: the repository root, a tiny campaign config, MPI as root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from microinv.mpi_env import launcher_environment


ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Two ranks on fewer cores (root permission comes with launcher_environment()).
os.environ.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"


def run_cli(*args, cwd=None, check=False, timeout=600):
    """Run the ``microinv`` command; return the CompletedProcess (text output)."""
    proc = subprocess.run([str(BIN / "microinv"), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=launcher_environment())
    if check and proc.returncode != 0:
        raise AssertionError(f"microinv {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


# A campaign of six 32^3 structures in three chunks, with a tiny surrogate and design.
TINY_CONFIG = {
    "campaign": "tiny",
    "seed": 7,
    "structure": {"n": 32, "dim": 3},
    "samples": {"count": 6, "per_chunk": 2},
    "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "solve": {"properties": ["diffusivity"], "tasks": 2, "rtol": 1e-6},
    "surrogate": {"max_epochs": 2, "batch_size": 4, "conv_widths": [4, 8], "fc_widths": [16]},
    "design": {"targets": {"ref": [0.4, 0.5, 0.6]}, "methods": ["abc", "bo"], "population": 16,
               "tolerances": [200, 100], "trials": 3, "workers": 2, "validation_count": 2,
               "posterior_predictive": 2, "refine_evaluations": 6, "refine_structures": 4},
    "rve": {"sizes": [8, 12, 16], "seeds": 2, "prior_draws": 2},
}


def gathered_rows(script: str, folder, *, ranks=2, timeout=600) -> list:
    """Run the Python ``script`` under ``mpiexec -n ranks``; the JSON list it prints last:
    one row per rank, gathered on rank 0, each with its ``"rank"`` (checked)."""
    path = Path(folder) / "ranks.py"
    path.write_text(script)
    proc = subprocess.run(["mpiexec", "-n", str(ranks), sys.executable, str(path)],
                          capture_output=True, text=True, timeout=timeout, env=launcher_environment())
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(r["rank"] for r in rows) == list(range(ranks))
    return rows
