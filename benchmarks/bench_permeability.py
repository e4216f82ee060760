"""Stokes permeability: microinv (PETSc, MPI) against PuMA's finite-element solver.

    python benchmarks/bench_permeability.py [--sizes 64 128] [--large 192] [--ranks 1 2]
        [--peer-n 48] [--peer-count 3] [--peer-python PATH] [--peer-sizes 64]
        [--rtol 1e-8] [--json out.json]

Two comparisons, each measurement in a fresh process on a structure saved to disk:

* **Agreement**: ``--peer-count`` spinodoids of ``--peer-n``^3 drawn from the prior
  (``SpinodoidPrior``, seeded, pore phase wrapping along x), k_x from microinv and from
  PuMA (``pumapy.compute_permeability``: Q1-Q1 stabilised finite elements on the voxel
  corners, unpreconditioned MINRES, matrix-free; its defaults, tol 1e-8). microinv also
  solves the same geometry with every voxel split into 2 x 2 x 2, which shows how far
  each discretisation is from the converged permeability of that voxel geometry.
* **Cost**: DESIGN's reference spinodoid (theta = (0.138, 0.2025, 0.3675, 0.666) at
  N = 128, lengths scaled by 128/N) at every N in ``--sizes`` (and ``--large``, microinv
  only, on the largest rank count), k_x with microinv under ``mpiexec -n P`` for each P in
  ``--ranks`` and with PuMA
  at the N in ``--peer-sizes``: seconds per direction (set-up and solve), iterations,
  peak memory per voxel.

Both solvers stop at a relative residual of ``--rtol`` (PuMA: ``tol``), which leaves k
converged to far better than the two discretisations differ, so the times compare equal
accuracy. PuMA runs in the interpreter ``--peer-python`` (or ``$PUMA_PYTHON``), which
must import NASA's ``pumapy`` (conda-forge; the PyPI project of that name is an
unrelated package); without it the PuMA columns are skipped. Peak memory is VmHWM,
reset after the imports and a warm-up solve, summed over ranks. Times are wall-clock with
the process CPU time alongside (on a shared machine the CPU time of a one-rank run
estimates an idle core).
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
AXIS = 0


# ---------------------------------------------------------------- worker processes


def _reset_peak_memory() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_memory() -> int:
    """Peak resident memory of this process since the last reset, in bytes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _worker_microinv(args) -> None:
    import petsc4py

    petsc4py.init([])
    from mpi4py import MPI
    from petsc4py import PETSc

    from microinv.physics.stokes import permeability

    solid = np.load(args.structure)
    comm = PETSc.COMM_WORLD
    permeability(solid[:12, :12, :12].copy(), AXIS)  # warm-up
    comm.barrier()
    _reset_peak_memory()
    wall, cpu = time.perf_counter(), time.process_time()
    result = permeability(solid, AXIS, rtol=args.rtol)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mpi = comm.tompi4py()
    memory = mpi.allreduce(_peak_memory())
    cpu = mpi.allreduce(cpu, op=MPI.MAX)
    if comm.getRank() == 0:
        print(json.dumps({
            "k": result.k, "iterations": result.iterations, "status": result.reason,
            "seconds": wall, "cpu": cpu, "memory": memory, "ranks": comm.getSize(),
            "unknowns": result.settings.get("unknowns"),
        }))


def _worker_puma(args) -> None:
    import contextlib
    import io

    import pumapy

    solid = np.load(args.structure)
    direction = "xyz"[AXIS]
    warm = pumapy.Workspace.from_array(solid[:12, :12, :12].copy())
    with contextlib.redirect_stdout(io.StringIO()):
        pumapy.compute_permeability(warm, (1, 1), direction=direction, display_iter=False)
    _reset_peak_memory()
    workspace = pumapy.Workspace.from_array(solid)
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        keff, _ = pumapy.compute_permeability(workspace, (1, 1), direction=direction,
                                              tol=args.rtol, display_iter=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({
        "k": float(keff[AXIS, AXIS]), "seconds": wall, "cpu": cpu,
        "memory": _peak_memory(), "iterations": None,
    }))


# ---------------------------------------------------------------- driver


def _run(command, env=None) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _microinv(structure, rtol, ranks) -> dict:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = ["mpiexec", "--oversubscribe", "-n", str(ranks), sys.executable, __file__,
               "--worker", "microinv", "--structure", str(structure), "--rtol", repr(rtol)]
    return _run(command, env)


def _puma(python, structure, rtol) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [python, __file__, "--worker", "puma", "--structure", str(structure),
               "--rtol", repr(rtol)]
    return _run(command, env)


def _peer_python(requested: str | None) -> str | None:
    """An interpreter that imports NASA's pumapy, or None."""
    for python in (requested, os.environ.get("PUMA_PYTHON"), sys.executable):
        if python and subprocess.run(
                [python, "-c", "import pumapy; pumapy.compute_permeability"],
                capture_output=True).returncode == 0:
            return python
    return None


def _reference_structure(n, folder) -> Path:
    from microinv.microstructure import spinodoid

    theta = tuple(a * 128 / n for a in THETA_128[:3]) + (THETA_128[3],)
    path = Path(folder) / f"reference-{n}.npy"
    np.save(path, spinodoid(theta, n, SEED))
    return path


def _prior_structures(n, count, folder) -> list[tuple[Path, list]]:
    """``count`` prior draws at ``n`` whose pore phase wraps along x."""
    from microinv.microstructure import SpinodoidPrior, spinodoid, wrapping_mask

    rng = np.random.default_rng(2024)
    prior = SpinodoidPrior(n=n)
    found = []
    while len(found) < count:
        theta = prior.sample(rng, 1)[0]
        seed = int(rng.integers(2 ** 31))
        solid = spinodoid(theta, n, seed)
        if wrapping_mask(solid == 0, AXIS).any():
            path = Path(folder) / f"prior-{n}-{len(found)}.npy"
            np.save(path, solid)
            found.append((path, [round(float(t), 4) for t in theta] + [seed]))
    return found


def _refined(path: Path) -> Path:
    """The structure with every voxel split into 2 x 2 x 2: the same geometry, finer grid."""
    solid = np.load(path)
    for axis in range(solid.ndim):
        solid = solid.repeat(2, axis=axis)
    refined = path.with_name(path.stem + "-split.npy")
    np.save(refined, solid)
    return refined


def _bytes_per_voxel(row, n) -> float:
    return row["memory"] / n ** 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--large", type=int, nargs="*", default=[192],
                        help="sizes solved by microinv only, on the largest rank count "
                             "(192^3 needs about 6.7 GB)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--peer-n", type=int, default=48)
    parser.add_argument("--peer-count", type=int, default=3)
    parser.add_argument("--peer-sizes", type=int, nargs="*", default=[64],
                        help="sizes of the reference structure also solved by PuMA")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", choices=["microinv", "puma"], help=argparse.SUPPRESS)
    parser.add_argument("--structure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "microinv":
        return _worker_microinv(args)
    if args.worker == "puma":
        return _worker_puma(args)

    python = _peer_python(args.peer_python)
    report = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                          "python": platform.python_version()},
              "command": " ".join(sys.argv), "rtol": args.rtol,
              "peer": python and "pumapy (NASA PuMA) compute_permeability",
              "agreement": [], "cost": []}
    print(f"# {report['machine']['cpu']}, {os.cpu_count()} cores; rtol {args.rtol:g}; "
          f"PuMA: {python or 'not available'}")
    with tempfile.TemporaryDirectory() as folder:
        if python:
            print(f"\n## agreement: k_x of {args.peer_count} prior spinodoids, "
                  f"{args.peer_n}^3")
            print("| theta (a_x, a_y, a_z, eps), seed | microinv k | microinv k, voxels "
                  "split in 8 | PuMA k | PuMA / microinv | PuMA / microinv split |")
            print("|---|---|---|---|---|---|")
            for path, theta in _prior_structures(args.peer_n, args.peer_count, folder):
                ours, theirs = _microinv(path, args.rtol, 1), _puma(python, path, args.rtol)
                refined = _microinv(_refined(path), args.rtol, max(args.ranks))
                refined["k"] /= 4   # the same geometry in voxels of half the size
                row = {"theta_seed": theta, "microinv": ours, "puma": theirs,
                       "microinv_refined": refined}
                report["agreement"].append(row)
                print(f"| {theta} | {ours['k']:.5g} | {refined['k']:.5g} | {theirs['k']:.5g} | "
                      f"{theirs['k'] / ours['k']:.4f} | {theirs['k'] / refined['k']:.4f} |",
                      flush=True)

        print("\n## cost: reference spinodoid, one direction (x)")
        print("| N | solver | ranks | k | iterations | s (wall) | s (CPU) | "
              "bytes/voxel | speed-up |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in args.sizes + args.large:
            path = _reference_structure(n, folder)
            ranks = args.ranks if n in args.sizes else [max(args.ranks)]
            first = None
            for p in ranks:
                row = dict(_microinv(path, args.rtol, p), n=n, solver="microinv")
                first = first or row
                report["cost"].append(row)
                print(f"| {n} | microinv | {p} | {row['k']:.6g} | {row['iterations']} | "
                      f"{row['seconds']:.1f} | {row['cpu']:.1f} | "
                      f"{_bytes_per_voxel(row, n):.0f} | "
                      f"{first['seconds'] / row['seconds']:.2f} |", flush=True)
            if python and n in args.peer_sizes:
                row = dict(_puma(python, path, args.rtol), n=n, solver="puma", ranks=1)
                report["cost"].append(row)
                print(f"| {n} | PuMA | 1 | {row['k']:.6g} | - | {row['seconds']:.1f} | "
                      f"{row['cpu']:.1f} | {_bytes_per_voxel(row, n):.0f} | |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
