"""Cost of the Cahn-Hilliard process model: seconds per structure, numpy and torch.

    python benchmarks/bench_process.py [--cases 36:2:64 128:2:8 64:3:1] [--torch-device cpu]

Each case ``n:dim:batch`` makes one batch of ``batch`` structures of phi = (5, 1[, 5]) with
the reference settings (D = 10, gamma = 2, T = 5, dt = 0.01: 500 steps), once with
scipy.fft (one thread) and once with torch.fft on ``--torch-device`` (``cuda`` on a GPU
machine), and prints the wall-clock seconds per structure and the fraction of voxels where
the two structures differ (round-off at the interface).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from machine import cpu_name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["36:2:64", "128:2:8", "64:3:1"])
    parser.add_argument("--torch-device", default="cpu")
    args = parser.parse_args(argv)

    import torch

    from microinv.microstructure.process import ProcessModel

    torch.set_num_threads(1)
    print(f"machine: {cpu_name()}; torch device {args.torch_device}")
    print("| n^dim | batch | numpy s/structure | torch s/structure | voxels differing |")
    print("|---|---|---|---|---|")
    for case in args.cases:
        n, dim, batch = (int(v) for v in case.split(":"))
        model = ProcessModel(n, dim)
        phi = np.tile([5.0, 1.0, 5.0][: 2 if dim == 2 else 3], (batch, 1))
        seeds = np.arange(batch, dtype=np.uint64)
        start = time.perf_counter()
        reference = model(phi, seeds)
        numpy_seconds = (time.perf_counter() - start) / batch
        start = time.perf_counter()
        on_torch = model(phi, seeds, device=args.torch_device)
        torch_seconds = (time.perf_counter() - start) / batch
        print(f"| {n}^{dim} | {batch} | {numpy_seconds:.3f} | {torch_seconds:.3f} | "
              f"{(on_torch != reference).mean():.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
