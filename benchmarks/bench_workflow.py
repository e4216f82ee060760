"""Scale of the campaign workflow: DAG construction time and job counts of a large dry run.

    python benchmarks/bench_workflow.py [--count 10000] [--per-chunk 64]

Builds the DAG of a campaign with COUNT samples and all three properties (diffusivity,
conductivity, permeability) with ``snakemake -n`` (nothing runs) and reports the wall
time and the jobs per rule, i.e. what the SLURM profile would submit.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--per-chunk", type=int, default=64)
    args = parser.parse_args()
    config = {"campaign": "scale", "structure": {"n": 192},
              "samples": {"count": args.count, "per_chunk": args.per_chunk},
              "solve": {"properties": ["diffusivity", "conductivity", "permeability"]}}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "scale.yaml").write_text(yaml.safe_dump(config))
        snakemake = Path(sys.executable).parent / "snakemake"
        start = time.perf_counter()
        proc = subprocess.run([str(snakemake), "-s", str(ROOT / "Snakefile"), "--configfile", "scale.yaml",
                               "-n", "--quiet", "rules"], cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr)
    rows = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.M)).items()
    print(f"samples={args.count} per_chunk={args.per_chunk} dry-run wall time {seconds:.1f} s")
    print("| rule | jobs |\n|---|---|")
    for rule, jobs in rows:
        print(f"| {rule} | {jobs} |")


if __name__ == "__main__":
    main()
