"""``microinv solve <property>``: homogenize every structure of a chunk along each axis (MPI).

Run under ``mpiexec -n P``: every rank reads the chunk, the solver distributes each
structure's unknowns over the ranks, rank 0 writes the properties chunk. Before any solve,
the chunk is read whole (a corrupt or non-uint8 one is refused, naming the file and sample)
and the output is checked to be writable. One sample that fails never stops the chunk: its
status and reason are recorded.

``--geometry levelset`` (``solve.geometry``) solves the smooth interface of each structure's
level-set field, read from the chunk's ``field`` dataset or regenerated from its (theta,
seed) (`microinv.data.chunks.read_field`); the geometry is recorded in the properties chunk
(attribute ``geometry`` and the solver settings), which ``microinv audit`` re-solves in.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import time
from dataclasses import dataclass, field

import h5py
import numpy as np

from microinv import config as campaign_config
from microinv.commands.common import add_config_argument, load_config
from microinv.data import provenance
from microinv.data.atomic import atomic_path, check_writable
from microinv.data.chunks import open_structures, read_field, read_structure, verify_structures
from microinv.errors import InputError
from microinv.physics import PROPERTIES
from microinv.physics.result import ERROR, STATUS_CODES

log = logging.getLogger("microinv.solve")
FIGURES = ("value", "iterations", "residual", "seconds")


def register(sub):
    p = sub.add_parser("solve", help="effective properties of every structure of a chunk (run under mpiexec)",
                       epilog="Options not given take --config's solve section, else the schema's defaults. "
                              "PETSc options (-ksp_monitor, -diff_ksp_type ...) are passed through.")
    p.add_argument("property", choices=sorted(PROPERTIES))
    p.add_argument("structures", help="structures chunk (HDF5) from `microinv generate`")
    add_config_argument(p)
    p.add_argument("-o", "--output", required=True, help="properties chunk (HDF5)")
    p.add_argument("--rtol", type=float, help="relative residual tolerance (solve.rtol)")
    p.add_argument("--bc", choices=("fixed", "periodic"), help="diffusivity, conductivity: boundary condition")
    p.add_argument("--sides", choices=("periodic", "noflux"), help="side boundaries for bc=fixed")
    p.add_argument("--solid-conductivity", type=float, help="conductivity: solid/pore conductivity ratio (> 0)")
    p.add_argument("--geometry", choices=("voxel", "levelset"),
                   help="voxel staircase or smooth level-set interface (solve.geometry)")
    p.set_defaults(func=run, accepts_petsc_options=True)


def solver_options(args, cfg) -> dict:
    """Keyword arguments of the solver: command line over ``cfg``'s ``solve`` section over the
    schema's defaults, validated against the schema (a bad value names its key)."""
    section = copy.deepcopy((cfg or {}).get("solve", {}))
    if args.rtol is not None:
        section["rtol"] = args.rtol
    keys = PROPERTIES[args.property][1]
    given = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    if given:
        section[args.property] = {**section.get(args.property, {}), **given}
    # over the whole --config (its cross-key checks: a process campaign solves no diffusivity)
    solve = campaign_config.resolve({**(cfg or {}), "solve": section}, source="command line and --config")["solve"]
    return {"rtol": solve["rtol"], **{key: solve[args.property][key] for key in keys}}


def solve_geometry(args, cfg) -> str:
    """``--geometry`` over ``cfg``'s ``solve.geometry`` over the schema's default."""
    if args.geometry is not None:
        return args.geometry
    return (cfg or campaign_config.resolve({}, source="the schema's defaults"))["solve"]["geometry"]


@dataclass
class ChunkSolution:
    """Per sample and axis (S, dim): the figures of :data:`FIGURES`, status and reason."""

    index: np.ndarray
    dim: int
    figures: dict = field(init=False)
    status: np.ndarray = field(init=False)
    reasons: list = field(init=False)
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        shape = (len(self.index), self.dim)
        self.figures = {k: np.full(shape, np.nan) for k in FIGURES}
        self.status = np.full(shape, ERROR, dtype=np.int8)
        self.reasons = [["" for _ in range(self.dim)] for _ in self.index]

    def record(self, row: int, axis: int, res) -> None:
        """Store the :class:`~microinv.physics.result.SolveResult` of one solve."""
        self.status[row, axis], self.reasons[row][axis] = res.status, res.reason
        self.settings = res.settings or self.settings
        for k in FIGURES:
            self.figures[k][row, axis] = getattr(res, k)


def solve_sample(solution: ChunkSolution, row: int, solid, solver, comm, opts) -> None:
    """Solve structure ``row`` along each axis; an error is logged and recorded, never raised."""
    for axis in range(solution.dim):
        try:
            solution.record(row, axis, solver(solid, axis, comm=comm, **opts))
        except Exception as err:  # one bad sample never stops the chunk
            log.error("sample %d axis %d: %s", solution.index[row], axis, err)
            solution.reasons[row][axis] = f"{type(err).__name__}: {err}"


def solve_chunk(src, solver, comm, opts, *, name: str, geometry: str = "voxel") -> ChunkSolution:
    """Every structure of the open chunk ``src``, each axis; progress logged on rank 0.
    ``geometry="levelset"`` hands each structure's level-set field to the solver."""
    solution = ChunkSolution(src["sample_index"][:], src["structures"].ndim - 1)
    start, count = time.perf_counter(), len(solution.index)
    for row in range(count):
        solid = read_structure(src, row)
        extra = {}
        if geometry == "levelset":
            try:
                extra = {"field": read_field(src, row, solid)}
            except InputError as err:  # this sample fails, the chunk goes on
                log.error("sample %d: %s", solution.index[row], err)
                solution.reasons[row] = [f"InputError: {err}"] * solution.dim
                continue
        solve_sample(solution, row, solid, solver, comm, {**opts, **extra})
        if comm.getRank() == 0:
            log.info("[%d/%d] sample %d %s=%s (%s) %.1fs elapsed", row + 1, count, solution.index[row], name,
                     np.array2string(solution.figures["value"][row], precision=4),
                     ", ".join(STATUS_CODES[s] for s in solution.status[row]), time.perf_counter() - start)
    return solution


def write_properties(path, name: str, solution: ChunkSolution, record: dict) -> None:
    """The properties chunk of ``name`` (docs/data-format.md), atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh["sample_index"] = solution.index
        for k in FIGURES:
            fh[k] = solution.figures[k]
        fh["status"] = solution.status
        fh["reason"] = np.array(solution.reasons, dtype=h5py.string_dtype())
        fh.attrs["property"] = name
        fh.attrs["geometry"] = record["solver"]["geometry"]
        fh.attrs["solver_settings"] = json.dumps(record["solver"])
        provenance.attach(fh, record)


def on_rank0(comm, action) -> None:
    """Run ``action()`` on rank 0 only; if it fails, raise on every rank, so that no rank is
    left waiting for rank 0 (MPI would wait forever at exit)."""
    error = None
    if comm.getRank() == 0:
        try:
            action()
        except Exception as err:  # re-raised below, on every rank
            error = err
    message = comm.tompi4py().bcast(None if error is None else str(error), root=0)
    if error is not None:
        raise error
    if message is not None:
        raise InputError(message)


def run(args) -> int:
    import petsc4py

    petsc4py.init(["microinv", *args.petsc_options])
    from petsc4py import PETSc

    import microinv.physics as physics

    comm = PETSc.COMM_WORLD
    cfg = load_config(args)
    opts = solver_options(args, cfg)
    geometry = solve_geometry(args, cfg)
    solver = getattr(physics, PROPERTIES[args.property][0])
    if geometry == "levelset" and "field" not in inspect.signature(solver).parameters:
        raise InputError(f"--geometry: levelset needs a {args.property} solver that takes the level-set field "
                         f"({PROPERTIES[args.property][0]}(..., field=)); this version solves {args.property} "
                         f"on voxels only: use --geometry voxel")
    inputs = [args.structures] + ([args.config] if args.config else [])
    prov = provenance.Provenance(inputs=inputs, config=cfg)  # on every rank: an unreadable input stops all
    with open_structures(args.structures) as src:
        verify_structures(src)
        on_rank0(comm, lambda: check_writable(args.output))
        solution = solve_chunk(src, solver, comm, opts, name=args.property, geometry=geometry)

    def write():
        record = prov.finish()
        record["solver"] = {"property": args.property, "ranks": comm.getSize(), **opts, **solution.settings,
                            "geometry": geometry}
        write_properties(args.output, args.property, solution, record)

    on_rank0(comm, write)
    return 0
