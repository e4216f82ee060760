"""Where the Stokes solver's memory goes: live and peak resident memory per set-up stage.

    python benchmarks/bench_stokes_memory.py N {voxel,levelset} [PETSc options...]

DESIGN's reference spinodoid at N^3 (as ``bench_stokes_levelset.py --cost``), k_x on one
rank. After each stage (walls and region, the operator with the velocity multigrid, the
conductance solve and the Darcy matrix, the Darcy multigrid, the Krylov set-up, the
solve) the freed heap is returned to the system (``malloc_trim``, glibc) and the
resident memory (VmRSS: what is live) and its peak during the stage (VmHWM, reset per
stage) are printed in bytes per voxel above the memory before the first stage (the
interpreter and the input arrays). Options after the mode go to PETSc, e.g.
``-stokes_ksp_type gmres``.
"""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np


def main() -> None:
    import petsc4py

    petsc4py.init(sys.argv[3:])
    from petsc4py import PETSc

    import microinv.physics.stokes as stokes
    from bench_stokes_levelset import AXIS, reference_field

    n, mode = int(sys.argv[1]), sys.argv[2]
    field = reference_field(n)
    solid = (field >= 0).astype(np.uint8)
    voxels = solid.size
    libc = ctypes.CDLL("libc.so.6")

    def memory() -> dict:
        libc.malloc_trim(0)
        with open("/proc/self/status") as f:
            return {k: int(v.split()[0]) * 1024 for k, _, v in
                    (line.partition(":") for line in f) if k in ("VmRSS", "VmHWM")}

    base = memory()["VmRSS"]
    clock = [time.perf_counter()]

    def stage(label: str) -> None:
        m = memory()
        print(f"| {label} | {(m['VmRSS'] - base) / voxels:.0f} | {(m['VmHWM'] - base) / voxels:.0f} "
              f"| {time.perf_counter() - clock[0]:.1f} |", flush=True)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        clock[0] = time.perf_counter()

    def after(name, label):
        method = getattr(stokes._StokesSolver, name)

        def wrapped(self, *args):
            result = method(self, *args)
            stage(label(*args))
            return result
        setattr(stokes._StokesSolver, name, wrapped)

    after("_multigrid", lambda name, *_: f"operator, numbering and {name.rstrip('_')} multigrid"
          if name == "velocity_" else f"{name.rstrip('_')} multigrid")
    after("_darcy", lambda: "conductance solve and Darcy matrix")
    print(f"N = {n}, {mode}; B/voxel above the start ({base / 2**20:.0f} MiB)\n")
    print("| stage | live | peak | s |\n|---|---|---|---|")
    stage("start")
    walls = stokes._walls(solid, field if mode == "levelset" else None)
    region = walls.flowing(AXIS)
    stage("walls and region")
    solver = stokes._StokesSolver(region, walls, 1e-8, PETSc.COMM_WORLD)
    stage("Krylov set-up")
    velocity, _ = solver.mean_velocity(AXIS)
    stage(f"solve ({solver.ksp.getIterationNumber()} iterations, k = {velocity[AXIS]:.6g})")


if __name__ == "__main__":
    main()
