"""Levelset against voxel geometry for the effective diffusivity: accuracy and cost.

    python benchmarks/bench_levelset.py spheres [--sizes 32 48 64] [--fractions 0.1 0.2 0.3 0.4]
        [--solid-conductivity 0] [--dim 3]
    python benchmarks/bench_levelset.py convergence [--base 48] [--axes 0 2]
    [mpiexec -n P] python benchmarks/bench_levelset.py cost [--sizes 128] [--axes 0] [--rtol 1e-8] [--repeat 1]

* ``spheres``: a simple cubic array of spheres (one sphere per periodic cell), periodic BC,
  eta_x in levelset and voxel mode against Rayleigh's series with McPhedran & McKenzie's
  coefficient (`microinv.physics.closed_forms`); the Richardson limit of the levelset
  answers at the two largest sizes (order 2) beside it. ``--dim 2``: a square array of
  cylinders (discs), against Perrins, McKenzie & McPhedran's series.
* ``convergence``: one spinodoid, DESIGN's 128^3 reference theta = (0.138, 0.2025, 0.3675,
  0.666) with its lengths scaled to the base size N, on N, 2N and 3N: the SAME smooth field
  resampled by Fourier interpolation (`spinodoid_field(..., upsample=k)`) and cut at the
  same level; fixed ends (``--bc``), periodic sides. For each mode the three answers give the observed
  order p and the limit eta_inf of eta(h) = eta_inf + C h^p (h = 1/k).
* ``cost``: wall-clock of voxel and levelset solves of one spinodoid at each size, fixed
  ends, ``--rtol``, on the ranks it is launched on (rank 0 prints), the run of least
  wall-clock time of ``--repeat`` (alternating the modes), with rank 0's process CPU time
  (less sensitive to a shared machine's load); levelset includes the apertures and the
  open-face clusters.

Prints Markdown tables (the rows of benchmarks/RESULTS.md); times are on whatever machine
runs it (RESULTS.md says which).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize

from microinv.microstructure.spinodoid import spinodoid_field
from microinv.physics.closed_forms import cylinder_array_conductivity, sphere_array_conductivity, sphere_array_field
from microinv.physics.diffusion import effective_diffusivity

THETA_128 = (0.138, 0.2025, 0.3675, 0.666)
SEED = 1


def theta_at(n: int) -> tuple:
    """DESIGN's reference theta with its lengths scaled from N = 128 to ``n``."""
    return tuple(a * 128 / n for a in THETA_128[:3]) + (THETA_128[3],)


def spheres(args) -> None:
    print("| c | N | Rayleigh | levelset | error | voxel | error |")
    print("|---|---|---|---|---|---|---|")
    for c in args.fractions:
        closed_form = sphere_array_conductivity if args.dim == 3 else cylinder_array_conductivity
        reference = closed_form(c, args.solid_conductivity)
        answers = []
        for n in args.sizes:
            solid, field = sphere_array_field(n, c, dim=args.dim)
            level = effective_diffusivity(solid, 0, field=field, solid_conductivity=args.solid_conductivity).value
            voxel = effective_diffusivity(solid, 0, solid_conductivity=args.solid_conductivity).value
            answers.append(level)
            print(f"| {c} | {n} | {reference:.5f} | {level:.5f} | {100 * (level / reference - 1):+.3f} % "
                  f"| {voxel:.5f} | {100 * (voxel / reference - 1):+.3f} % |", flush=True)
        if len(answers) < 2:
            continue
        (n1, n2), (e1, e2) = args.sizes[-2:], answers[-2:]
        limit = (n2**2 * e2 - n1**2 * e1) / (n2**2 - n1**2)
        print(f"| {c} | Richardson {n1}/{n2} | {reference:.5f} | {limit:.5f} "
              f"| {100 * (limit / reference - 1):+.3f} % | | |")


def richardson(values, factors=(1, 2, 3)) -> tuple[float, float]:
    """Order p and limit of eta(h) = eta_inf + C h^p through three answers at h = 1/k."""
    h = 1.0 / np.asarray(factors, dtype=float)
    e = np.asarray(values)

    def mismatch(p):  # the limit from (h1, h2) minus the limit from (h2, h3)
        first = (e[1] * h[0] ** p - e[0] * h[1] ** p) / (h[0] ** p - h[1] ** p)
        second = (e[2] * h[1] ** p - e[1] * h[2] ** p) / (h[1] ** p - h[2] ** p)
        return first - second

    p = optimize.brentq(mismatch, 0.2, 6.0)
    return p, (e[2] * h[1] ** p - e[1] * h[2] ** p) / (h[1] ** p - h[2] ** p)


def convergence(args) -> None:
    theta = theta_at(args.base)
    print(f"theta = {tuple(round(t, 5) for t in theta)} at N = {args.base}, seed {SEED}; bc {args.bc}, periodic sides")
    sizes = " | ".join(f"N = {k * args.base}" for k in (1, 2, 3))
    print(f"| axis | mode | {sizes} | order p | limit | finest vs limit | limit from 2N, 3N at p = 1 / 2 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for axis in args.axes:
        rows = {"levelset": [], "voxel": []}
        for k in (1, 2, 3):
            field = spinodoid_field(theta, args.base, SEED, upsample=k)
            solid = (field >= 0).view(np.uint8)
            rows["levelset"].append(effective_diffusivity(solid, axis, bc=args.bc, field=field).value)
            rows["voxel"].append(effective_diffusivity(solid, axis, bc=args.bc).value)
            del field, solid
        for mode, values in rows.items():
            p, limit = richardson(values)
            # Richardson with the order fixed: first order (voxel), second order (levelset).
            fixed_order = [(3**q * values[2] - 2**q * values[1]) / (3**q - 2**q) for q in (1, 2)]
            print(f"| {'xyz'[axis]} | {mode} | " + " | ".join(f"{v:.5f}" for v in values)
                  + f" | {p:.2f} | {limit:.5f} | {100 * (values[-1] / limit - 1):+.2f} % "
                  f"| {fixed_order[0]:.5f} / {fixed_order[1]:.5f} |", flush=True)


def cost(args) -> None:
    from petsc4py import PETSc

    show = print if PETSc.COMM_WORLD.getRank() == 0 else (lambda *a, **k: None)
    show("| N | axis | mode | eta | seconds (total) | setup | solve | CPU seconds | iterations "
         "| levelset / voxel (wall, CPU) |")
    show("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        field = spinodoid_field(theta_at(n), n, SEED)
        solid = (field >= 0).view(np.uint8)
        for axis in args.axes:
            runs = {"voxel": [], "levelset": []}
            for _ in range(args.repeat):
                for mode, extra in (("voxel", {}), ("levelset", {"field": field})):
                    start, cpu = time.perf_counter(), time.process_time()
                    r = effective_diffusivity(solid, axis, bc="fixed", rtol=args.rtol, **extra)
                    runs[mode].append((time.perf_counter() - start, time.process_time() - cpu, r))
            best = {mode: min(timed, key=lambda run: run[0]) for mode, timed in runs.items()}
            for mode, (total, cpu, r) in best.items():
                s = r.settings
                setup = s["seconds_connectivity"] + s["seconds_setup"]
                ratio = (f"{total / best['voxel'][0]:.2f}x, {cpu / best['voxel'][1]:.2f}x" if mode == "levelset"
                         else "")
                show(f"| {n} | {'xyz'[axis]} | {mode} | {r.value:.5f} | {total:.2f} | {setup:.2f} | "
                     f"{s['seconds_solve']:.2f} | {cpu:.2f} | {r.iterations} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="study", required=True)
    s = sub.add_parser("spheres")
    s.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64])
    s.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4])
    s.add_argument("--solid-conductivity", type=float, default=0.0)
    s.add_argument("--dim", type=int, choices=[2, 3], default=3)
    c = sub.add_parser("convergence")
    c.add_argument("--base", type=int, default=48)
    c.add_argument("--axes", type=int, nargs="+", default=[0, 2])
    c.add_argument("--bc", choices=["fixed", "periodic"], default="fixed")
    k = sub.add_parser("cost")
    k.add_argument("--sizes", type=int, nargs="+", default=[128])
    k.add_argument("--axes", type=int, nargs="+", default=[0])
    k.add_argument("--rtol", type=float, default=1e-8)
    k.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    {"spheres": spheres, "convergence": convergence, "cost": cost}[args.study](args)


if __name__ == "__main__":
    main()
