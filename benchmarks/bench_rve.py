"""RVE curves: apparent eta under affine, periodic and flux BC against size L, and the RVE size.

    python benchmarks/bench_rve.py [--sizes 32 48 64 96] [--seeds 4] [--prior 4] [--n 64]
        [--campaign results/default] [--json out.json] [--figures docs/images]
    python benchmarks/bench_rve.py --from-json out.json --figures docs/images   # plot only

Theta: the two reference targets eta* = (0.40, 0.50, 0.60) and (0.25, 0.375, 0.50). Each
takes its theta from ``<campaign>/design/<target>/bo/design.json`` (or ``abc``) when a
campaign has designed it; otherwise from a stand-in search, stated in the output: of
``--candidates`` prior draws at N (stream ``(RVE,)`` of seed 2022), each solved once at N
with the campaign's default property (fixed ends, periodic sides, insulating solid, rtol
1e-3), the one closest to the target in rho = 100 mean_i |eta_i - eta*_i| / eta*_i. Then
``--prior`` further prior draws. For each theta, `microinv.rve` at the sizes (a L fixed,
theta given at N), K = ``--seeds`` structures each, solid conductivity 0.1 and the default
tolerances of the config schema (CV <= 5 %, bound gap <= 10 %). Prints a Markdown table per
theta (eta mean per BC at each L, CV, gap) and the sizes each criterion needs; with
``--figures``, `microinv.figures.rve`'s two figures for the targets (``rve-targets-*.png``)
and for the prior draws (``rve-prior-*.png``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from microinv import config as campaign_config
from microinv import rve
from microinv.microstructure import SpinodoidPrior, spinodoid
from microinv.physics.diffusion import effective_diffusivity

TARGETS = {"(0.40, 0.50, 0.60)": (0.40, 0.50, 0.60), "(0.25, 0.375, 0.50)": (0.25, 0.375, 0.50)}


def campaign_theta(campaign: Path, target) -> tuple[list, str] | None:
    for design in sorted(campaign.glob("design/*/*/design.json")):
        doc = json.loads(design.read_text())["design"]
        if np.allclose(doc["target"], target):
            return list(doc["theta"]), str(design)
    return None


def candidate_etas(n: int, candidates: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Prior draws (not the --prior ones) and eta of one structure of each at N."""
    draws = rve.prior_draws(SpinodoidPrior(n=n, dim=3), seed, candidates + 1000)[1000:]
    eta = np.array([[effective_diffusivity(spinodoid(theta, n, seed + k), a, bc="fixed", rtol=1e-3).eta
                     for a in range(3)] for k, theta in enumerate(draws)])
    return draws, eta


def search_theta(target, draws, eta) -> tuple[list, str]:
    rho = 100 * np.mean(np.abs(eta - target) / target, axis=1)
    best = int(np.argmin(rho))
    return draws[best].tolist(), (f"stand-in: closest of {len(draws)} prior draws, one structure at N solved "
                                  f"with fixed ends: eta = ({', '.join(f'{v:.3f}' for v in eta[best])}), "
                                  f"rho = {rho[best]:.1f} %")


def measure(theta, entry: int, sizes, count: int, n: int, section: dict) -> dict:
    tensors = np.zeros((len(sizes), count, 3, 3, 3))
    start = time.perf_counter()
    for s, size in enumerate(sizes):
        for k, seed in enumerate(rve.structure_seeds(2022, entry, size, count)):
            tensors[s, k] = rve.apparent_tensors(theta, size, seed, n_reference=n,
                                                 solid_conductivity=section["solid_conductivity"],
                                                 rtol=section["rtol"])
    summary = rve.summarise(sizes, tensors, cv_tolerance=section["cv_tolerance"],
                            gap_tolerance=section["gap_tolerance"])
    # structures whose tensors break D_A >= D_P >= D_F (exact for the discrete problems: expect 0)
    violations = sum(int(np.linalg.eigvalsh(t[0] - t[1]).min() < -1e-9 or np.linalg.eigvalsh(t[1] - t[2]).min() < -1e-9)
                     for t in tensors.reshape(-1, 3, 3, 3))
    return {"theta": list(map(float, theta)), "seconds": time.perf_counter() - start,
            "loewner_violations": violations, **summary}


def table(name: str, source: str, e: dict) -> str:
    def size(r):
        return "unknown" if r["size"] is None else f"{r['size']}{' (extrapolated)' if r['extrapolated'] else ''}"

    lines = [f"**{name}**: theta = ({', '.join(f'{t:.4g}' for t in e['theta'])}) at N; {source}; "
             f"{e['seconds']:.0f} s", "",
             "| L | eta affine (x, y, z) | eta periodic | eta flux | CV periodic | gap (A - F) / P |",
             "|---|---|---|---|---|---|"]
    for s, L in enumerate(e["sizes"]):
        cells = [", ".join(f"{v:.3f}" for v in e["eta_mean"][bc][s]) for bc in rve.BCS]
        lines.append(f"| {L} | " + " | ".join(cells) + f" | {', '.join(f'{100 * v:.1f} %' for v in e['cv'][s])} | "
                     f"{', '.join(f'{100 * v:.1f} %' for v in e['gap'][s])} |")
    p = ", ".join("-" if v is None else f"{v['exponent']:.2f} +- {v['stderr']:.2f}" if v["stderr"] is not None
                  else f"{v['exponent']:.2f}" for v in e["variance"])
    lines += ["", f"Var ~ L^-p: p = {p} (x, y, z). Size for CV <= 5 %: "
              + ", ".join(size(r) for r in e["cv_size"]) + "; for gap <= 10 %: "
              + ", ".join(size(r) for r in e["gap_size"])
              + f". **RVE size: {e['rve_size'] or 'unknown'}{' (extrapolated)' if e['extrapolated'] else ''}**"
              + f"; structures breaking D_A >= D_P >= D_F: {e.get('loewner_violations', 'not counted')}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--prior", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--campaign", type=Path, default=Path("results/default"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figures", type=Path, help="folder for the figures")
    parser.add_argument("--from-json", type=Path, help="plot the entries of an earlier --json, measure nothing")
    args = parser.parse_args()
    section = campaign_config.resolve({}, source="defaults")["rve"]
    if args.from_json:
        plot(json.loads(args.from_json.read_text()), section, args.figures)
        return
    jobs, candidates = [], None
    for name, target in TARGETS.items():
        found = campaign_theta(args.campaign, target)
        if found is None:
            candidates = candidates or candidate_etas(args.n, args.candidates, 2022)
            found = search_theta(np.array(target), *candidates)
        jobs.append((f"target {name}", *found))
    prior = rve.prior_draws(SpinodoidPrior(n=args.n, dim=3), 2022, args.prior)
    jobs += [(f"prior draw {k}", theta.tolist(), "prior") for k, theta in enumerate(prior)]
    out = []
    for entry, (name, theta, source) in enumerate(jobs):
        e = measure(theta, entry, args.sizes, args.seeds, args.n, section)
        out.append({"name": name, "source": source, **e})
        print(table(name, source, e), flush=True)
    exceeding = sum(rve.exceeds(e, args.n) for e in out[len(TARGETS):])
    print(f"prior: {exceeding} of {args.prior} draws need an RVE larger than N = {args.n}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if args.figures:
        plot(out, section, args.figures)


def plot(out: list, section: dict, folder: Path) -> None:
    from microinv.figures import rve as figures

    for name, entries in (("targets", [e for e in out if e["source"] != "prior"]),
                          ("prior", [e for e in out if e["source"] == "prior"])):
        doc = {"entries": entries, "settings": section}
        figures.eta_against_size(doc, folder / f"rve-{name}-eta.png")
        figures.cv_against_size(doc, folder / f"rve-{name}-cv.png")


if __name__ == "__main__":
    main()
