"""Generation of one spinodoid and its percolation checks on one core.

    python benchmarks/bench_generate.py [--n 192] [--seeds 7] [--theta AX AY AZ EPS | --prior]

Times ``spinodoid(theta, n, seed)`` (white noise, rfftn, spectral filter, irfftn, exact
level cut) and ``percolation_flags(structure)`` (pore and solid phase, every axis: the
acceptance test of the prior), each over several seeds, and prints the median, minimum
and maximum. With ``--prior`` every seed also draws its own theta from the prior, and the
fraction of accepted structures is reported. ``--describe`` adds the descriptors of a
structures chunk. Wall-clock and CPU time of the process are both reported: on a shared
machine the CPU time is the better estimate of an idle core. Everything runs on one
thread: BLAS/OpenMP threads are set to 1 before numpy is imported and scipy.fft uses
``workers=1``.

Reference: the published Matlab implementation takes 2.6 s to generate a 192^3
structure and 1.2 s for its percolation checks.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"  # before numpy is imported

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from machine import cpu_name  # noqa: E402
from microinv.microstructure import (  # noqa: E402
    SpinodoidPrior,
    describe,
    percolation_flags,
    spinodoid,
)

#: DESIGN's reference 128^3 structure (0.138, 0.2025, 0.3675, 0.666), lengths scaled to 192.
DEFAULT_THETA = (0.092, 0.135, 0.245, 0.666)


def _timed(function, *args):
    """Result, wall-clock seconds and CPU seconds of this process (one thread: the CPU
    time is the wall time the call would take on an idle core)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, np.array([time.perf_counter() - wall, time.process_time() - cpu])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=192, help="voxels per side (default 192)")
    parser.add_argument("--seeds", type=int, default=7, help="structures timed (default 7)")
    parser.add_argument("--theta", type=float, nargs=4, default=DEFAULT_THETA,
                        metavar=("AX", "AY", "AZ", "EPS"), help="fixed parameters")
    parser.add_argument("--prior", action="store_true", help="draw theta from the prior per seed")
    parser.add_argument("--describe", action="store_true", help="also time describe()")
    args = parser.parse_args()

    prior = SpinodoidPrior(n=args.n)
    spinodoid(args.theta, 16, 0)  # warm-up: imports, FFT plan caches
    times = {"generate": [], "percolation checks": [], "generate + checks": []}
    if args.describe:
        times["describe"] = []
    accepted = 0
    for seed in range(args.seeds):
        theta = prior.sample(np.random.default_rng(seed), 1)[0] if args.prior else args.theta
        solid, generate = _timed(spinodoid, theta, args.n, seed)
        flags, checks = _timed(percolation_flags, solid)
        accepted += bool(flags.all())
        times["generate"].append(generate)
        times["percolation checks"].append(checks)
        times["generate + checks"].append(generate + checks)
        if args.describe:
            times["describe"].append(_timed(describe, solid)[1])

    source = "prior draws" if args.prior else f"theta={tuple(args.theta)}"
    print(f"n={args.n}^3, {args.seeds} seeds, {source}, one thread")
    print(f"{cpu_name()}; Python {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}")
    print(f"both phases percolate along x, y, z: {accepted}/{args.seeds}")
    print("| stage | wall median s | wall min s | wall max s | CPU median s |")
    print("|---|---|---|---|---|")
    for stage, values in times.items():
        wall, cpu = np.array(values).T
        print(f"| {stage} | {np.median(wall):.3f} | {wall.min():.3f} | {wall.max():.3f} "
              f"| {np.median(cpu):.3f} |")


if __name__ == "__main__":
    main()
