"""Stokes permeability: microinv against a lattice-Boltzmann peer (lbmpy, from PyPI).

    python benchmarks/bench_lbm.py [--spheres 32 48] [--spinodoids 32 48] [--count 2]
        [--rtol 1e-8] [--json out.json]

The peer is tests/lbm_peer.py: D3Q19 TRT (magic parameter 3/16), Guo body force, periodic
box, run to steady state. Two pairs solve the same geometry:

* microinv voxel mode against halfway bounce-back (the wall on the voxel faces);
* microinv levelset mode (``field=f``) against Bouzidi's linearly interpolated
  bounce-back (the wall at f = 0 on every lattice link).

Cases: simple cubic sphere arrays at c = 0.064 and 0.216 at each ``--spheres`` resolution
(voxels per cell; fields ``closed_forms.sphere_array_field``), against Zick & Homsy
(1982); ``--count`` spinodoid prior draws at each ``--spinodoids`` size whose pore phase
wraps along x (``SpinodoidPrior(n)``, generator seeded 2024, as tests/test_stokes_peer.py),
k_x. Everything runs in this one process on one core; the lbmpy kernels are generated
once before the clock starts and microinv is warmed up on a small solve. Wall times
include each solver's set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from machine import cpu_name

from microinv.physics.closed_forms import ZICK_HOMSY, sphere_array_field

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lbm_peer import _stream_collide, lbm_permeability  # noqa: E402

FRACTIONS = (0.064, 0.216)
AXIS = 0


def _solve_all(solid, field, rtol) -> dict:
    """k and wall time of the four solvers on one structure."""
    from microinv.physics.stokes import permeability

    row = {}
    for name, solve in (
            ("voxel", lambda: permeability(solid, AXIS, rtol=rtol)),
            ("bounce-back", lambda: lbm_permeability(solid, AXIS)),
            ("levelset", lambda: permeability(solid, AXIS, rtol=rtol, field=field)),
            ("bouzidi", lambda: lbm_permeability(solid, AXIS, field=field))):
        start = time.perf_counter()
        result = solve()
        row[name] = {"k": result.k, "seconds": time.perf_counter() - start}
        if hasattr(result, "steps"):
            row[name].update(steps=result.steps, converged=result.converged,
                             max_speed=result.max_speed)
    return row


def spinodoids(n, count):
    """``count`` prior draws at ``n`` (theta, seed, solid, field) whose pores wrap along x."""
    from microinv.microstructure import SpinodoidPrior, spinodoid_field, wrapping_mask

    rng = np.random.default_rng(2024)
    prior = SpinodoidPrior(n=n)
    while count:
        theta = prior.sample(rng, 1)[0]
        seed = int(rng.integers(2 ** 31))
        field = spinodoid_field(theta, n, seed=seed, dim=3)
        solid = (field >= 0).astype(np.uint8)
        if wrapping_mask(solid == 0, AXIS).any():
            count -= 1
            yield [round(float(t), 4) for t in theta], seed, solid, field


def _print(label, row, reference=None):
    def cell(name):
        k = row[name]["k"]
        error = f" ({(k / reference - 1) * 100:+.2f} %)" if reference else ""
        return f"{k:.5g}{error}"

    v, b, s, z = row["voxel"], row["bounce-back"], row["levelset"], row["bouzidi"]
    print(f"| {label} | {cell('voxel')} | {cell('bounce-back')} | "
          f"{(b['k'] / v['k'] - 1) * 100:+.2f} % | {cell('levelset')} | {cell('bouzidi')} | "
          f"{(z['k'] / s['k'] - 1) * 100:+.2f} % | {v['seconds']:.1f} / {b['seconds']:.1f} / "
          f"{s['seconds']:.1f} / {z['seconds']:.1f} | {b['steps']} / {z['steps']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spheres", type=int, nargs="*", default=[32, 48])
    parser.add_argument("--spinodoids", type=int, nargs="*", default=[32, 48])
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)  # pystencils' own deprecations
    warnings.simplefilter("ignore", UserWarning)

    from microinv.physics.stokes import permeability

    start = time.perf_counter()
    _stream_collide(3)
    generation = time.perf_counter() - start
    warm = np.zeros((6, 6, 6), np.uint8)
    warm[:, :, 0] = 1  # a slit
    permeability(warm, AXIS)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"Python {platform.python_version()}; lbmpy kernel generation {generation:.1f} s")
    print("| case | voxel | LBM bounce-back | LBM / voxel | levelset | LBM Bouzidi | "
          "Bouzidi / levelset | s (voxel / BB / levelset / Bouzidi) | LBM steps (BB / Bouzidi) |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for n in args.spheres:
        for c in FRACTIONS:
            solid, field = sphere_array_field(n, c)
            row = _solve_all(solid, field, args.rtol)
            _print(f"spheres c = {c}, {n}/cell (k / L^2 vs Zick & Homsy)",
                   {m: dict(r, k=r["k"] / n ** 2) for m, r in row.items()}, ZICK_HOMSY[c])
            rows.append({"case": "spheres", "n": n, "fraction": c, **row})
    for n in args.spinodoids:
        for theta, seed, solid, field in spinodoids(n, args.count):
            row = _solve_all(solid, field, args.rtol)
            _print(f"spinodoid {n}^3 theta {theta} seed {seed} (k_x)", row)
            rows.append({"case": "spinodoid", "n": n, "theta": theta, "seed": seed, **row})
    print(f"# load at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
