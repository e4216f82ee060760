"""Stokes permeability, levelset mode (wall at the interface f = 0) against voxel mode.

    python benchmarks/bench_stokes_levelset.py [--accuracy] [--convergence]
        [--refine 32 --factors 1 2 3] [--cost 64 96] [--ranks 1] [--rtol 1e-8] [--json out.json]

* ``--accuracy``: simple cubic sphere arrays (c = 0.064, 0.216, 0.5236) at 64 voxels per
  cell against Zick & Homsy (1982), square cylinder arrays (phi = 0.1, 0.2) at 128 voxels
  per cell against Sangani & Acrivos (1982); k in both modes, relative error, iterations.
  The fields are ``R - r`` about the cell centre, as in tests/test_stokes_levelset.py.
* ``--convergence``: the relative error of both modes with resolution: spheres c = 0.216
  at 16, 32, 64 voxels per cell and cylinders phi = 0.1 at 32 ... 256.
* ``--refine N --factors 1 2 3``: the reference spinodoid's field at N, resampled on grids
  m times finer by Fourier interpolation (``scipy.signal.resample``, the same smooth
  field; a uniform shift of the sample points, which leaves k unchanged) and cut at 0,
  k_x in both modes in units of the coarse voxel (k / m^2): both converge to the
  permeability of the smooth structure.
* ``--cost N ...``: DESIGN's reference spinodoid (theta = (0.138, 0.2025, 0.3675, 0.666) at
  N = 128, lengths scaled by 128/N) and its field ``spinodoid_field``, k_x in both modes,
  each in a fresh process under ``mpiexec -n P`` (``--ranks``): seconds (set-up and solve),
  iterations, unknowns, peak resident memory per voxel (VmHWM after a warm-up solve,
  summed over ranks; bench_permeability's measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_permeability import THETA_128, _peak_memory, _reset_peak_memory
from machine import cpu_name

from microinv.physics.closed_forms import ZICK_HOMSY

SEED = 1
AXIS = 0


def sangani_acrivos(phi: float) -> float:
    """Transverse k / R^2 of a square array of cylinders (Sangani & Acrivos 1982)."""
    return (-math.log(phi) - 1.47633597 + 2 * phi - 1.77428264 * phi ** 2
            + 4.07770444 * phi ** 3 - 4.84227402 * phi ** 4) / (8 * phi)


def ball_field(n: int, fraction: float, dim: int) -> tuple[np.ndarray, float]:
    """``R - r`` about the cell centre: a sphere (3D) or cylinder (2D) of solid fraction c."""
    radius = n * ((3 * fraction / (4 * math.pi)) ** (1 / 3) if dim == 3
                  else math.sqrt(fraction / math.pi))
    axes = [np.arange(n) + 0.5 - n / 2] * dim
    r = np.sqrt(sum(x ** 2 for x in np.meshgrid(*axes, indexing="ij")))
    return radius - r, radius


def _both_modes(field, axis, rtol):
    from microinv.physics.stokes import permeability

    solid = (field >= 0).astype(np.uint8)
    rows = {}
    for mode, f in (("voxel", None), ("levelset", field)):
        start = time.perf_counter()
        result = permeability(solid, axis, rtol=rtol, field=f)
        rows[mode] = {"k": result.k, "iterations": result.iterations,
                      "seconds": time.perf_counter() - start}
    return rows


def spheres(n, fraction, rtol):
    field, _ = ball_field(n, fraction, 3)
    rows = _both_modes(field, 2, rtol)
    for row in rows.values():
        row["error"] = row["k"] / n ** 2 / ZICK_HOMSY[fraction] - 1
    return rows


def cylinders(n, phi, rtol):
    field, radius = ball_field(n, phi, 2)
    rows = _both_modes(field, 1, rtol)
    for row in rows.values():
        row["error"] = row["k"] / radius ** 2 / sangani_acrivos(phi) - 1
    return rows


def _print_rows(label, rows):
    v, s = rows["voxel"], rows["levelset"]
    print(f"| {label} | {s['error'] * 100:+.3f} % | {v['error'] * 100:+.2f} % | "
          f"{s['iterations']} / {v['iterations']} | {s['seconds']:.1f} / {v['seconds']:.1f} |",
          flush=True)


def reference_field(n: int) -> np.ndarray:
    """The level-set field of DESIGN's reference spinodoid at N (lengths scaled by 128/N)."""
    from microinv.microstructure import spinodoid_field

    theta = tuple(a * 128 / n for a in THETA_128[:3]) + (THETA_128[3],)
    return spinodoid_field(theta, n, SEED)


def refined(field: np.ndarray, factor: int) -> np.ndarray:
    """``field`` resampled on a grid ``factor`` times finer (periodic Fourier interpolation)."""
    from scipy.signal import resample

    fine = field.astype(np.float64)
    for axis in range(fine.ndim):
        fine = resample(fine, fine.shape[axis] * factor, axis=axis)
    return fine


def refinement(n: int, factors, rtol) -> list:
    coarse = reference_field(n)
    rows = []
    for m in factors:
        row = _both_modes(coarse if m == 1 else refined(coarse, m), AXIS, rtol)
        for mode in row.values():
            mode["k"] /= m ** 2
        rows.append({"n": n, "factor": m, **row})
        print(f"| {n * m} (x{m}) | {row['levelset']['k']:.5g} | {row['voxel']['k']:.5g} | "
              f"{row['levelset']['iterations']} / {row['voxel']['iterations']} | "
              f"{row['levelset']['seconds']:.1f} / {row['voxel']['seconds']:.1f} |", flush=True)
    return rows


# ---------------------------------------------------------------- cost (fresh processes)


def _worker(args) -> None:
    import petsc4py

    petsc4py.init([])
    from petsc4py import PETSc

    from microinv.physics.stokes import permeability

    field = np.load(args.structure)
    solid = (field >= 0).astype(np.uint8)
    use = field if args.worker == "levelset" else None
    comm = PETSc.COMM_WORLD
    small = np.ascontiguousarray(field[:12, :12, :12])
    permeability((small >= 0).astype(np.uint8), AXIS,
                 field=small if use is not None else None)     # warm-up
    comm.barrier()
    _reset_peak_memory()
    wall = time.perf_counter()
    result = permeability(solid, AXIS, rtol=args.rtol, field=use)
    wall = time.perf_counter() - wall
    memory = comm.tompi4py().allreduce(_peak_memory())
    if comm.getRank() == 0:
        print(json.dumps({"k": result.k, "iterations": result.iterations, "seconds": wall,
                          "memory": memory, "unknowns": result.settings.get("unknowns"),
                          "status": result.reason}))


def cost(n, ranks, rtol, folder) -> dict:
    path = Path(folder) / f"field-{n}.npy"
    np.save(path, reference_field(n))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    rows = {}
    for mode in ("voxel", "levelset"):
        command = ["mpiexec", "--oversubscribe", "-n", str(ranks), sys.executable, __file__,
                   "--worker", mode, "--structure", str(path), "--rtol", repr(rtol)]
        out = subprocess.run(command, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-3000:]}")
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--convergence", action="store_true")
    parser.add_argument("--refine", type=int, default=None)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cost", type=int, nargs="*", default=[])
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", choices=["voxel", "levelset"], help=argparse.SUPPRESS)
    parser.add_argument("--structure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args)

    report = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                          "python": platform.python_version()},
              "command": " ".join(sys.argv), "rtol": args.rtol}
    print(f"# {report['machine']['cpu']}, {os.cpu_count()} cores; rtol {args.rtol:g}")
    header = ("| case | levelset error | voxel error | iterations (levelset / voxel) "
              "| s (levelset / voxel) |\n|---|---|---|---|---|")
    if args.accuracy:
        print("\n## accuracy\n" + header)
        report["accuracy"] = []
        for fraction in ZICK_HOMSY:
            rows = spheres(64, fraction, args.rtol)
            report["accuracy"].append({"spheres": fraction, "n": 64, **rows})
            _print_rows(f"spheres c = {fraction}, 64/cell", rows)
        for phi in (0.1, 0.2):
            rows = cylinders(128, phi, args.rtol)
            report["accuracy"].append({"cylinders": phi, "n": 128, **rows})
            _print_rows(f"cylinders phi = {phi}, 128/cell", rows)
    if args.convergence:
        print("\n## convergence\n" + header)
        report["convergence"] = []
        for n in (16, 32, 64):
            rows = spheres(n, 0.216, args.rtol)
            report["convergence"].append({"spheres": 0.216, "n": n, **rows})
            _print_rows(f"spheres c = 0.216, {n}/cell", rows)
        for n in (32, 64, 128, 256):
            rows = cylinders(n, 0.1, args.rtol)
            report["convergence"].append({"cylinders": 0.1, "n": n, **rows})
            _print_rows(f"cylinders phi = 0.1, {n}/cell", rows)
    if args.refine:
        print(f"\n## refinement: reference spinodoid field at {args.refine}, k_x in coarse voxels")
        print("| grid | k levelset | k voxel | iterations (levelset / voxel) "
              "| s (levelset / voxel) |\n|---|---|---|---|---|")
        report["refinement"] = refinement(args.refine, args.factors, args.rtol)
    if args.cost:
        print(f"\n## cost: reference spinodoid, k_x, {args.ranks} rank(s)")
        print("| N | mode | k | iterations | unknowns | s | bytes/voxel | levelset / voxel time |")
        print("|---|---|---|---|---|---|---|---|")
        report["cost"] = []
        with tempfile.TemporaryDirectory() as folder:
            for n in args.cost:
                rows = cost(n, args.ranks, args.rtol, folder)
                report["cost"].append({"n": n, "ranks": args.ranks, **rows})
                ratio = rows["levelset"]["seconds"] / rows["voxel"]["seconds"]
                for mode, row in rows.items():
                    print(f"| {n} | {mode} | {row['k']:.6g} | {row['iterations']} | "
                          f"{row['unknowns']} | {row['seconds']:.1f} | "
                          f"{row['memory'] / n ** 3:.0f} | "
                          f"{f'{ratio:.2f}' if mode == 'levelset' else ''} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
