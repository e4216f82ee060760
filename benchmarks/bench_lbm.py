"""Stokes permeability: microinv against a lattice-Boltzmann peer (lbmpy, from PyPI).

    python benchmarks/bench_lbm.py [--spheres 32 48] [--spinodoids 32 48] [--count 2]
        [--split 32] [--rtol 1e-8] [--json out.json]

The peer is tests/lbm_peer.py: D3Q19 TRT (magic parameter 3/16), Guo body force, periodic
box, run to steady state. Two pairs solve the same geometry:

* microinv voxel mode against halfway bounce-back (the wall on the voxel faces);
* microinv levelset mode (``field=f``) against Bouzidi's linearly interpolated
  bounce-back (the wall at f = 0 on every lattice link).

Cases: simple cubic sphere arrays at c = 0.064 and 0.216 at each ``--spheres`` resolution
(voxels per cell; fields ``closed_forms.sphere_array_field``), against Zick & Homsy
(1982); ``--count`` spinodoid prior draws at each ``--spinodoids`` size whose pore phase
wraps along x (``SpinodoidPrior(n)``, generator seeded 2024, as tests/test_stokes_peer.py),
k_x. ``--split N``: the same draws at N with every voxel split into 2 x 2 x 2 (the same
staircase on a grid twice as fine), voxel mode against bounce-back only: the two voxel
discretisations converge to the permeability of that staircase. Everything runs in this
one process on one core; the lbmpy stream-collide kernel is generated once before the
clock starts and microinv is warmed up on a small solve. Wall times include each
solver's set-up.
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
    """k and wall time of the four solvers on one structure (two without a field)."""
    from microinv.physics.stokes import permeability

    solvers = [("voxel", lambda: permeability(solid, AXIS, rtol=rtol)),
               ("bounce-back", lambda: lbm_permeability(solid, AXIS))]
    if field is not None:
        solvers += [("levelset", lambda: permeability(solid, AXIS, rtol=rtol, field=field)),
                    ("bouzidi", lambda: lbm_permeability(solid, AXIS, field=field))]
    row = {}
    for name, solve in solvers:
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
        if name not in row:
            return "-"
        k = row[name]["k"]
        return f"{k:.5g}" + (f" ({(k / reference - 1) * 100:+.2f} %)" if reference else "")

    def ratio(name, of):
        return f"{(row[name]['k'] / row[of]['k'] - 1) * 100:+.2f} %" if name in row else "-"

    def seconds(name):
        return f"{row[name]['seconds']:.1f}" if name in row else "-"

    names = ("voxel", "bounce-back", "levelset", "bouzidi")
    print(f"| {label} | {cell('voxel')} | {cell('bounce-back')} | "
          f"{ratio('bounce-back', 'voxel')} | {cell('levelset')} | {cell('bouzidi')} | "
          f"{ratio('bouzidi', 'levelset')} | "
          f"{' / '.join(map(seconds, names))} | {row['bounce-back']['steps']} / "
          f"{row['bouzidi']['steps'] if 'bouzidi' in row else '-'} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spheres", type=int, nargs="*", default=[32, 48])
    parser.add_argument("--spinodoids", type=int, nargs="*", default=[32, 48])
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--split", type=int, nargs="*", default=[])
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)  # pystencils' own deprecations
    warnings.simplefilter("ignore", UserWarning)

    from microinv.physics.stokes import permeability

    start = time.perf_counter()
    _stream_collide()
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
    for n in args.split:
        for theta, seed, solid, _ in spinodoids(n, args.count):
            for axis in range(3):
                solid = solid.repeat(2, axis=axis)
            row = _solve_all(solid, None, args.rtol)
            _print(f"spinodoid {n}^3 theta {theta} seed {seed}, split 2x2x2 ({2 * n}^3, k_x / 4)",
                   {m: dict(r, k=r["k"] / 4) for m, r in row.items()})
            rows.append({"case": "split spinodoid", "n": n, "theta": theta, "seed": seed, **row})
    print(f"# load at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
