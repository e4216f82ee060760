"""Effective diffusivity: microinv (PETSc, MPI) against TauFactor 2 on CPU, side by side.

    python benchmarks/bench_diffusivity.py [--sizes 64 128 192] [--axes 0 1 2]
        [--ranks 1 2] [--rtol 1e-2] [--large] [--no-taufactor] [--json out.json]

For every size N one spinodoid (DESIGN's 128^3 reference theta = (0.138, 0.2025, 0.3675,
0.666), lengths scaled by 128/N, so the feature size in voxels is the same) is solved
along every requested axis with fixed ends (c = 1, c = 0) and periodic sides, the setting
TauFactor's ``PeriodicSolver`` implements:

* microinv at ``--rtol`` under ``mpiexec -n P`` for each P in ``--ranks`` (MPI speed-up),
  and once over-converged (rtol 1e-10) as its reference;
* TauFactor 2 (``PeriodicSolver``, CPU, float32, ``torch.set_num_threads(P)`` with the
  largest P) at its default criterion (conv_crit 1e-2), at tighter criteria until its eta
  is within ``--accuracy`` of its own over-converged reference (conv_crit 1e-5), which is
  the time at equal accuracy.

Each solver is compared with its own over-converged reference (the two discretisations
differ: TauFactor puts the boundary values on the outer faces of the first and last slice
and uses the length N, microinv at the centres of the first and last slice with the
length N - 1). Each measurement runs in a fresh process on a structure saved to disk, so
the peak memory (VmHWM, reset after the imports and a warm-up solve) is the solver's
own; for MPI runs it is summed over ranks. Times are the minimum over ``--repeat`` runs,
wall-clock, with the process CPU time alongside (on a shared machine the CPU time of a
one-rank run estimates an idle core).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_name

#: DESIGN's reference structure at N = 128; lengths are scaled by 128 / N.
THETA_128 = (0.138, 0.2025, 0.3675, 0.666)
SEED = 1


# ---------------------------------------------------------------- worker processes


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak_memory() -> int:
    """Reset the peak resident memory (Linux) and return the current one, in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _peak_memory(baseline: int) -> int:
    """Peak resident memory since ``_reset_peak_memory`` above ``baseline``, in bytes."""
    return _status("VmHWM") - baseline


def _worker_microinv(args) -> None:
    import petsc4py

    petsc4py.init([])
    from mpi4py import MPI
    from petsc4py import PETSc

    from microinv.physics import effective_diffusivity

    solid = np.load(args.structure)
    comm = PETSc.COMM_WORLD
    effective_diffusivity(solid[:16, :16, :16].copy(), args.axis, bc="fixed")  # warm-up
    comm.barrier()
    baseline = _reset_peak_memory()
    wall, cpu = time.perf_counter(), time.process_time()
    result = effective_diffusivity(solid, args.axis, bc="fixed", sides="periodic", rtol=args.rtol)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mpi = comm.tompi4py()
    memory = mpi.allreduce(_peak_memory(baseline))
    cpu = mpi.allreduce(cpu, op=MPI.MAX)
    if comm.getRank() == 0:
        phases = {k: result.settings[k] for k in result.settings if k.startswith("seconds_")}
        print(json.dumps({
            "eta": result.eta, "iterations": result.iterations, "status": result.reason,
            "seconds": wall, "cpu": cpu, "memory": memory, "ranks": comm.getSize(),
            "unknowns": result.settings.get("unknowns"), **phases,
        }))


def _worker_taufactor(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    import taufactor

    solid = np.load(args.structure)
    pore = np.ascontiguousarray(np.moveaxis(1 - solid, args.axis, 0))
    warm = taufactor.PeriodicSolver(pore[:16, :16, :16].copy(), device="cpu")
    warm.solve(verbose=False)
    baseline = _reset_peak_memory()
    wall, cpu = time.perf_counter(), time.process_time()
    solver = taufactor.PeriodicSolver(pore, device="cpu")
    solver.solve(verbose=False, conv_crit=args.crit, iter_limit=args.iter_limit)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({
        "eta": float(np.ravel(solver.D_eff)[0]), "iterations": solver.iter,
        "converged": bool(solver.converged), "seconds": wall, "cpu": cpu,
        "memory": _peak_memory(baseline), "threads": args.threads,
    }))


# ---------------------------------------------------------------- driver


def _run(command, env=None) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(command, repeat, env=None) -> dict:
    runs = [_run(command, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def _microinv(structure, axis, rtol, ranks, repeat) -> dict:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = ["mpiexec", "--oversubscribe", "-n", str(ranks), sys.executable, __file__,
               "--worker", "microinv", "--structure", str(structure), "--axis", str(axis),
               "--rtol", repr(rtol)]
    return _best(command, repeat, env)


def _taufactor(structure, axis, crit, threads, repeat, iter_limit=100000) -> dict:
    command = [sys.executable, __file__, "--worker", "taufactor", "--structure", str(structure),
               "--axis", str(axis), "--crit", repr(crit), "--threads", str(threads),
               "--iter-limit", str(iter_limit)]
    return _best(command, repeat)


def _structure(n, folder) -> Path:
    from microinv.microstructure import spinodoid

    theta = tuple(a * 128 / n for a in THETA_128[:3]) + (THETA_128[3],)
    path = Path(folder) / f"spinodoid-{n}.npy"
    np.save(path, spinodoid(theta, n, SEED))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 192])
    parser.add_argument("--large", action="store_true", help="add 384^3 (microinv only)")
    parser.add_argument("--axes", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rtol", type=float, default=1e-2, help="microinv tolerance (default 1e-2)")
    parser.add_argument("--accuracy", type=float, default=1e-3,
                        help="wanted |delta eta| / eta against each reference (default 1e-3)")
    parser.add_argument("--tf-crits", type=float, nargs="+", default=[1e-2, 3e-3, 1e-3, 3e-4],
                        help="TauFactor criteria tried, loosest first")
    parser.add_argument("--tf-reference-crit", type=float, default=1e-5)
    parser.add_argument("--no-taufactor", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (min taken)")
    parser.add_argument("--json", type=Path, help="write all measurements to this file")
    # worker mode (internal)
    parser.add_argument("--worker", choices=["microinv", "taufactor"], help=argparse.SUPPRESS)
    parser.add_argument("--structure", help=argparse.SUPPRESS)
    parser.add_argument("--axis", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--crit", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--iter-limit", type=int, default=100000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "microinv":
        return _worker_microinv(args)
    if args.worker == "taufactor":
        return _worker_taufactor(args)

    sizes = args.sizes + ([384] if args.large else [])
    threads = max(args.ranks)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"# microinv rtol {args.rtol} on ranks {args.ranks}; TauFactor CPU with {threads} threads")
    print("| N | axis | solver | eta | iterations | seconds (wall) | CPU s | |d eta|/eta | "
          "MiB | bytes/voxel |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    records = []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            structure = _structure(n, folder)
            voxels = n ** 3
            for axis in args.axes:
                reference = _microinv(structure, axis, 1e-10, max(args.ranks), 1)
                rows = []
                for ranks in args.ranks:
                    run = _microinv(structure, axis, args.rtol, ranks, args.repeat)
                    rows.append((f"microinv {ranks} rank{'s' if ranks > 1 else ''}", run, reference))
                if not args.no_taufactor and n <= 256:
                    tf_ref = _taufactor(structure, axis, args.tf_reference_crit, threads, 1)
                    rows.append((f"TauFactor reference (crit {args.tf_reference_crit:g})", tf_ref, tf_ref))
                    for crit in args.tf_crits:
                        run = _taufactor(structure, axis, crit, threads, args.repeat)
                        rows.append((f"TauFactor crit {crit:g}", run, tf_ref))
                        if abs(run["eta"] / tf_ref["eta"] - 1) <= args.accuracy:
                            break
                for name, run, ref in rows:
                    error = abs(run["eta"] / ref["eta"] - 1) if run is not ref else 0.0
                    print(f"| {n} | {'xyz'[axis]} | {name} | {run['eta']:.5f} | {run['iterations']} | "
                          f"{run['seconds']:.2f} | {run['cpu']:.2f} | {error:.1e} | "
                          f"{run['memory'] / 2**20:.0f} | {run['memory'] / voxels:.0f} |", flush=True)
                    records.append({"n": n, "axis": axis, "solver": name, "error": error, **run})
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
