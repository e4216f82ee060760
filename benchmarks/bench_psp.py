"""Goal-oriented process design, reduced to fit a loaded 2-core machine: RESULTS.md's Table 1.

    python benchmarks/bench_psp.py [--config config/psp2d.yaml] [--grid 10] [--grid-structures 32]
        [--trials 25] [--structures 32] [--validation 400] [--cloud 200] [--grid-from grid.npz]
        [-o results/bench-psp]

For the process model and target boxes of ``--config`` (its ``process`` and
``process_design`` sections), every property m = (log10 k_x, log10 k_y) solved numerically
(Stokes, :func:`microinv.physics.log_permeability.log10_permeabilities`, one process):

1. the property cloud of ``--cloud`` prior draws of phi, one structure each;
2. the reference grid: ``--grid`` x ``--grid`` phi, ``--grid-structures`` structures each;
3. per box, the design phi* maximising the Monte Carlo P(m in M_d | phi) over
   ``--structures`` structures per trial (common seeds), ``--trials`` Optuna TPE trials in a
   journal under ``-o`` (a rerun resumes it). **The predictor of m in the design is the
   numerical solver** (the workflow's default is the 2D surrogate, process_design.predictor); at 36^2 a
   structure costs about 0.1 s to solve along both axes;
4. per box, ``--validation`` fresh structures at phi* and as many at the grid's phi_ref,
   solved: p(phi*) and p(phi_ref) with Wilson 95 % intervals.

Writes ``psp.json`` (every record, the solves and seconds of each stage) and the figures
``p-map.png``, ``cloud.png``, ``structures-<box>.png`` under ``-o``, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from machine import cpu_name


class CountingSolver:
    """The numerical predictor of m, counting structures, solves and seconds."""

    def __init__(self, floor: float, rtol: float):
        from petsc4py import PETSc

        self.floor, self.rtol, self.comm = floor, rtol, PETSc.COMM_SELF
        self.structures = self.solves = 0
        self.seconds = 0.0

    def __call__(self, structures):
        from microinv.physics.log_permeability import log10_permeabilities

        result = log10_permeabilities(structures, floor=self.floor, rtol=self.rtol, comm=self.comm)
        self.structures += len(structures)
        self.solves += result.solves
        self.seconds += result.seconds
        return result.values

    def cost(self) -> dict:
        return {"structures": self.structures, "solves": self.solves, "solve_seconds": round(self.seconds, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/psp2d.yaml")
    parser.add_argument("--grid", type=int, default=10)
    parser.add_argument("--grid-structures", type=int, default=32)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--structures", type=int, default=32)
    parser.add_argument("--validation", type=int, default=400)
    parser.add_argument("--cloud", type=int, default=200)
    parser.add_argument("--grid-from", help="grid.npz of an earlier run with the same grid settings: reused, not solved")
    parser.add_argument("-o", "--output", default="results/bench-psp")
    args = parser.parse_args(argv)

    import petsc4py

    petsc4py.init([])
    from microinv import config as campaign_config
    from microinv.data.atomic import write_json
    from microinv.design.goal import TargetBox, design_box, reference_grid, validate_design
    from microinv.figures.process import probability_map, property_cloud
    from microinv.figures.structures import slices
    from microinv.microstructure import ProcessPrior, sample_process
    from microinv.microstructure.models import process_model
    from microinv.microstructure.process import FAMILIES

    cfg = campaign_config.load(args.config)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    n, dim, seed = cfg["structure"]["n"], cfg["structure"]["dim"], cfg["seed"]
    design_cfg = cfg["process_design"]
    model = process_model(n, dim, cfg["process"])
    prior = ProcessPrior(cfg["process"]["family"])
    names = FAMILIES[prior.family][1]
    bounds = np.stack(prior.bounds, axis=1)
    boxes = [TargetBox(name, bounds_) for name, bounds_ in design_cfg["boxes"].items()]
    floor = design_cfg["log10_k_floor"]
    stages, record = {}, {"config": args.config, "n": n, "arguments": vars(args), "machine": cpu_name()}

    def timed(name, solver, action):
        start = time.perf_counter()
        result = action()
        stages[name] = {"seconds": round(time.perf_counter() - start, 1), **solver.cost()}
        print(f"{name}: {stages[name]}", flush=True)
        return result

    solver = CountingSolver(floor, cfg["solve"]["rtol"])
    drawn = sample_process(args.cloud, seed_sequence=seed, prior=prior, structures_per_phi=1)
    cloud = timed("cloud", solver, lambda: solver(model(drawn.theta, drawn.seed)))
    property_cloud(cloud, boxes, out / "cloud.png", floor=floor)

    solver = CountingSolver(floor, cfg["solve"]["rtol"])
    if args.grid_from:  # the grid of an earlier run (its cost is recorded in that run's psp.json)
        grid = dict(np.load(args.grid_from))
        if grid["m"].shape[:2] != (args.grid ** len(names), args.grid_structures):
            parser.error(f"--grid-from: {args.grid_from} holds a grid of shape {grid['m'].shape[:2]}")
        stages["reference grid"] = {"reused": args.grid_from}
    else:
        grid = timed("reference grid", solver, lambda: reference_grid(
            bounds, args.grid, args.grid_structures, make=model, predict=solver, seed=seed))
    np.savez(out / "grid.npz", phi=grid["phi"], m=grid["m"])

    designs = {}
    for b, box in enumerate(boxes):
        solver = CountingSolver(floor, cfg["solve"]["rtol"])
        design = timed(f"design {box.name}", solver, lambda: design_box(
            box, bounds=bounds, names=names, make=model, predict=solver, structures=args.structures,
            trials=args.trials, seed=seed, storage_path=out / "study.journal"))
        solver = CountingSolver(floor, cfg["solve"]["rtol"])
        validation = timed(f"validate {box.name}", solver, lambda: validate_design(
            design["phi"], box, b, count=args.validation, make=model, predict=solver, seed=seed, grid=grid))
        designs[box.name] = {**validation, "design": design}
        slices(list(model(np.tile(design["phi"], (3, 1)), np.arange(3, dtype=np.uint64))),
               out / f"structures-{box.name}.png", titles=[f"{box.name} {k}" for k in range(3)])

    p_map = {box.name: box.contains(grid["m"]).mean(axis=1) for box in boxes}
    probability_map(grid["phi"], p_map, designs, out / "p-map.png", names=names)
    record.update(stages=stages, designs=designs)
    write_json(out / "psp.json", record)

    print("| box | phi* | p(phi*) [95 % CI] | phi_ref | p_ref (grid) | p(phi_ref) [95 % CI] | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, d in designs.items():
        ci, ref_ci = d["p_in_target_ci"], d["p_ref_validated_ci"]
        print(f"| {name} | ({', '.join(f'{v:.2f}' for v in d['phi'])}) | {d['p_in_target']:.3f} "
              f"[{ci[0]:.3f}, {ci[1]:.3f}] | ({', '.join(f'{v:.2f}' for v in d['phi_ref'])}) | {d['p_ref']:.3f} | "
              f"{d['p_ref_validated']:.3f} [{ref_ci[0]:.3f}, {ref_ci[1]:.3f}] | "
              f"{d['ratio']:.2f} |" if d["ratio"] is not None else f"| {name} | p_ref 0 |")
    print(json.dumps(stages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
