"""``microinv solve <property>``: homogenize every structure of a chunk along each axis (MPI).

Run under ``mpiexec -n P``: every rank reads the chunk, the solver distributes each
structure's unknowns over the ranks, rank 0 writes the properties chunk. One sample that
fails never stops the chunk: its status and reason are recorded.
"""

from __future__ import annotations

import json
import logging
import time

import h5py
import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.data import provenance
from microinv.data.atomic import atomic_path
from microinv.data.chunks import open_h5, read_structure
from microinv.errors import InputError
from microinv.physics import PROPERTIES
from microinv.physics.result import ERROR, STATUS_CODES

log = logging.getLogger("microinv.solve")
FIGURES = ("value", "iterations", "residual", "seconds")


def register(sub):
    p = sub.add_parser("solve", help="effective properties of every structure of a chunk (run under mpiexec)",
                       epilog="PETSc options (-ksp_monitor, -diff_ksp_type ...) are passed through.")
    p.add_argument("property", choices=sorted(PROPERTIES))
    p.add_argument("structures", help="structures chunk (HDF5) from `microinv generate`")
    add_config_argument(p)
    p.add_argument("-o", "--output", required=True, help="properties chunk (HDF5)")
    p.add_argument("--rtol", type=float, help="relative residual tolerance (default: config or 1e-6)")
    p.add_argument("--bc", choices=("fixed", "periodic"), help="diffusivity: boundary condition")
    p.add_argument("--sides", choices=("periodic", "noflux"), help="diffusivity: side boundaries for bc=fixed")
    p.add_argument("--solid-conductivity", type=float, help="conductivity: solid/pore conductivity ratio (> 0)")
    p.set_defaults(func=run, accepts_petsc_options=True)


def solver_options(args, cfg) -> dict:
    """Keyword arguments of the solver: command line over config over defaults."""
    solve_cfg = (cfg or {}).get("solve", {})
    opts = {"rtol": args.rtol or solve_cfg.get("rtol", 1e-6)}
    for key in PROPERTIES[args.property][1]:
        value = getattr(args, key) or solve_cfg.get(args.property, {}).get(key)
        if value is not None:
            opts[key] = value
    if args.property == "conductivity" and not opts.get("solid_conductivity", 0) > 0:
        raise InputError("conductivity needs --solid-conductivity > 0 (or solve.conductivity in --config)")
    return opts


def run(args) -> int:
    import petsc4py

    petsc4py.init(["microinv", *args.petsc_options])
    from petsc4py import PETSc

    import microinv.physics as physics

    comm = PETSc.COMM_WORLD
    rank0 = comm.getRank() == 0
    cfg = load_config(args)
    opts = solver_options(args, cfg)
    solver = getattr(physics, PROPERTIES[args.property][0])
    inputs = [args.structures] + ([args.config] if args.config else [])
    prov = provenance.Provenance(inputs=inputs, config=cfg) if rank0 else None

    with open_h5(args.structures, required=("structures", "sample_index"), what="structures chunk") as src:
        index = src["sample_index"][:]
        count, dim = len(index), src["structures"].ndim - 1
        figures = {k: np.full((count, dim), np.nan) for k in FIGURES}
        status = np.full((count, dim), ERROR, dtype=np.int8)
        reasons = [["" for _ in range(dim)] for _ in range(count)]
        settings = {}
        start = time.perf_counter()
        for row in range(count):
            solid = read_structure(src, row)
            for axis in range(dim):
                try:
                    res = solver(solid, axis, comm=comm, **opts)
                except Exception as err:  # one bad sample never stops the chunk
                    log.error("sample %d axis %d: %s", index[row], axis, err)
                    reasons[row][axis] = f"{type(err).__name__}: {err}"
                    continue
                status[row, axis] = res.status
                reasons[row][axis] = res.reason
                settings = res.settings or settings
                for k in FIGURES:
                    figures[k][row, axis] = getattr(res, k)
            if rank0:
                log.info("[%d/%d] sample %d %s=%s (%s) %.1fs elapsed", row + 1, count, index[row],
                         args.property, np.array2string(figures["value"][row], precision=4),
                         ", ".join(STATUS_CODES[s] for s in status[row]), time.perf_counter() - start)
    if rank0:
        record = prov.finish()
        record["solver"] = {"property": args.property, "ranks": comm.getSize(), **opts, **settings}
        with atomic_path(args.output) as tmp, h5py.File(tmp, "w") as fh:
            fh["sample_index"] = index
            for k in FIGURES:
                fh[k] = figures[k]
            fh["status"] = status
            fh["reason"] = np.array(reasons, dtype=h5py.string_dtype())
            fh.attrs["property"] = args.property
            fh.attrs["solver_settings"] = json.dumps(record["solver"])
            provenance.attach(fh, record)
    comm.barrier()
    return 0
