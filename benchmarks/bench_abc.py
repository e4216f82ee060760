"""Proposals evaluated per second by the ABC simulator: spinodoid generation + surrogate.

    python benchmarks/bench_abc.py [--n 192] [--device auto|cpu|cuda] [--batch 8]
                                   [--repeats 3] [--generators torch numpy]

One ABC proposal is a structure generated from (theta, seed), tested for percolation of
both phases (the prior's acceptance test, ``microinv design --no-percolation`` skips it)
and its three diffusivities predicted by the surrogate (DESIGN.md, "Inversion"). This
script times the three steps for
batches of prior draws at the reference size: 192^3 generation, surrogate input 96^3
(the network of the reference architecture, untrained: the weights do not change the cost),
and prints proposals per second for each generator:

* ``torch``: :class:`microinv.microstructure.spinodoid_torch.TorchGenerator`, batched FFT on ``--device``;
* ``numpy``: :func:`microinv.microstructure.spinodoid`, one structure at a time on the CPU
  (the ``generate`` stage's code).

Wall-clock and CPU time of the process are both reported; on a shared machine the CPU
time per thread is the better estimate of an idle machine. On a GPU, timings are taken
after ``torch.cuda.synchronize``. The reference campaign (P = 512, 9 tolerances from
100 % to 1 %, target (0.40, 0.50, 0.60)) needed about 130,000 evaluations: the script
prints the time that many would take at the measured rate.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from microinv.design.simulators import make_generator
from microinv.microstructure import SpinodoidPrior, admissible
from microinv.microstructure.spinodoid_torch import resolve_device
from microinv.surrogate import Surrogate
from microinv.surrogate.module import SurrogateModule

REFERENCE_EVALUATIONS = 130_000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device, function, *args):
    """Result, wall-clock seconds and process CPU seconds of one call."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    _sync(device)
    return result, np.array([time.perf_counter() - wall, time.process_time() - cpu])


def bench(generator_kind: str, surrogate: Surrogate, n: int, device: torch.device, batch: int,
          repeats: int, seed: int) -> dict:
    """Median seconds per batch of generation and of prediction, and proposals per second."""
    generator = make_generator(generator_kind, n, device=str(device))
    rng = np.random.default_rng(seed)
    prior = SpinodoidPrior(n=n)

    def generate(theta, seeds):
        structures = generator(theta, seeds)
        return structures.cpu().numpy() if isinstance(structures, torch.Tensor) else structures

    times = []
    for r in range(repeats + 1):  # the first round warms up (FFT plans, cuDNN, allocator)
        theta = prior.sample(rng, batch)
        seeds = rng.integers(0, 2**64, size=batch, dtype=np.uint64)
        structures, t_gen = _timed(device, generate, theta, seeds)
        _, t_perc = _timed(device, lambda: [admissible(s) for s in structures])
        _, t_pred = _timed(device, surrogate.predict, structures, batch)
        if r:
            times.append(np.concatenate([t_gen, t_perc, t_pred]))
    (gen_wall, gen_cpu, perc_wall, perc_cpu, pred_wall, pred_cpu) = np.median(times, axis=0) / batch
    rate = 1 / (gen_wall + pred_wall)
    rate_perc = 1 / (gen_wall + perc_wall + pred_wall)
    return {"generator": generator_kind, "device": str(device), "n": n, "batch": batch,
            "repeats": repeats, "generate_s_per_structure": gen_wall,
            "generate_cpu_s_per_structure": gen_cpu,
            "percolation_s_per_structure": perc_wall, "percolation_cpu_s_per_structure": perc_cpu,
            "predict_s_per_structure": pred_wall, "predict_cpu_s_per_structure": pred_cpu,
            "proposals_per_s": rate, "proposals_per_s_with_percolation": rate_perc,
            "reference_run_h": REFERENCE_EVALUATIONS / rate / 3600,
            "reference_run_with_percolation_h": REFERENCE_EVALUATIONS / rate_perc / 3600}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=192, help="structure size (surrogate input n/2)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda")
    parser.add_argument("--batch", type=int, default=8, help="proposals per simulator call")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches after one warm-up")
    parser.add_argument("--generators", nargs="+", default=["torch", "numpy"], choices=["torch", "numpy"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    surrogate = Surrogate(SurrogateModule(args.n), device=device, source="untrained reference network")
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"# {machine}; torch {torch.__version__}; n={args.n} (surrogate input {args.n // 2}^3)")
    results = []
    for kind in args.generators:
        result = bench(kind, surrogate, args.n, device, args.batch, args.repeats, args.seed)
        results.append(result)
        print(f"{kind:6s} on {result['device']}: per structure generate "
              f"{result['generate_s_per_structure']:.4f} s, percolation test "
              f"{result['percolation_s_per_structure']:.4f} s, predict "
              f"{result['predict_s_per_structure']:.4f} s (wall; CPU "
              f"{result['generate_cpu_s_per_structure']:.3f}, {result['percolation_cpu_s_per_structure']:.3f}, "
              f"{result['predict_cpu_s_per_structure']:.3f} s) -> {result['proposals_per_s']:.3g} proposals/s "
              f"({result['proposals_per_s_with_percolation']:.3g} with the percolation test); 130k evaluations: "
              f"{result['reference_run_h']:.3g} h ({result['reference_run_with_percolation_h']:.3g} h)", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine, "torch": torch.__version__, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
