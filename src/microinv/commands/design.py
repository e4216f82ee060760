"""``microinv design abc|bo``: from a target diffusivity to a design theta and its validation samples.

``abc`` runs ABC-PMC with the surrogate as simulator (``posterior.h5``, resumable); ``bo``
runs one Optuna worker against a study journal that any number of workers share
(``study.journal``). Both write ``design.json``: the design (posterior mean or best trial)
and K validation samples in the samples-chunk format, ready for ``microinv generate``.
Settings come from the command line, else ``design.*`` of ``--config``, else defaults.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.data.provenance import Provenance, sha256_json
from microinv.errors import InputError

log = logging.getLogger("microinv.design")

PARAM_NAMES = ("a_x", "a_y", "a_z", "eps")
DEFAULTS = {"population": 512, "tolerances": None, "trials": 60, "validation_count": 16}


def register(sub):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--surrogate", required=True, help="trained surrogate (model.ckpt)")
    common.add_argument("--target", nargs=3, type=float, required=True,
                        metavar=("ETA_X", "ETA_Y", "ETA_Z"), help="target diffusivity, each in (0, 1)")
    common.add_argument("-o", "--output", required=True, help="design folder")
    add_config_argument(common)
    common.add_argument("--seed", type=int, help="design seed (default: the config's seed, else 0)")
    common.add_argument("--n", type=int, help="voxels per side of the generated structures "
                        "(default: the surrogate's input size)")
    common.add_argument("--generator", choices=("torch", "numpy"), default="torch",
                        help="spinodoid generator: batched torch FFT on --device, or the numpy "
                        "code of `microinv generate` (default: torch)")
    common.add_argument("--device", default="auto", help="torch device: auto (GPU when present), cpu, cuda")
    common.add_argument("--chunk", type=int, default=16, help="structures generated at once")
    common.add_argument("--no-percolation", dest="percolation", action="store_false",
                        help="skip the prior's percolation test (both phases spanning x, y, z) "
                        "of each simulated structure; by default a structure that fails it is "
                        "a rejected proposal")
    common.add_argument("--validation-count", type=int, help="validation structures K (default 16)")
    common.add_argument("--upscale", type=int, default=1,
                        help="validate at upscale*N voxels with a/upscale (e.g. 3)")
    common.add_argument("--tolerance", type=float, default=0.05,
                        help="relative tolerance on each axis counted as a hit in validation")
    common.add_argument("--campaign", default="design", help="campaign name in design.json")

    p = sub.add_parser("design", help="invert a target diffusivity (ABC-PMC posterior or BO optimum)")
    methods = p.add_subparsers(dest="method", required=True, metavar="<method>")
    abc = methods.add_parser("abc", parents=[common], help="ABC-PMC posterior (posterior.h5, resumable)")
    abc.add_argument("--population", type=int, help="particles per generation P (default 512)")
    abc.add_argument("--tolerances", type=float, nargs="+",
                     help="decreasing tolerances in %% (default: 9 log-spaced from 100 to 1)")
    abc.add_argument("--batch-size", type=int, default=256, help="proposals simulated per batch")
    abc.add_argument("--restart-on-change", action="store_true",
                     help="if OUTPUT/posterior.h5 holds a run with other settings, keep it as "
                          "posterior.stale.h5 and start afresh (default: stop with an error)")
    abc.add_argument("--max-trials", type=int,
                     help="stop when a generation needs more proposals (default 1000 x population)")
    abc.set_defaults(func=run)
    bo = methods.add_parser("bo", parents=[common], help="one Optuna worker of a shared study (study.journal)")
    bo.add_argument("--trials", type=int, help="trials this worker runs (default 60)")
    bo.add_argument("--total-trials", type=int, help="stop once the study has this many finished trials")
    bo.add_argument("--structures-per-trial", type=int, default=8, help="structures K per trial")
    bo.add_argument("--worker", type=int, default=0, help="worker index (e.g. $SLURM_ARRAY_TASK_ID)")
    bo.add_argument("--study-name", help="study name in the journal (default: one per objective, "
                                         "from the target, seed, n, K and the surrogate's SHA-256)")
    bo.add_argument("--sampler", choices=("tpe", "gp"), default="tpe")
    bo.set_defaults(func=run)


def setting(args, cfg, key):
    """Command line, else ``design.<key>`` of the config, else the default."""
    value = getattr(args, key, None)
    if value is None:
        value = (cfg or {}).get("design", {}).get(key, DEFAULTS[key])
    return value


def run(args) -> int:
    from microinv.design.abc import NoGenerationFinished, abc_pmc, reference_tolerances
    from microinv.design.history import SettingsMismatch
    from microinv.design.records import write_design
    from microinv.design.simulators import SurrogateSimulator, make_generator
    from microinv.microstructure import SpinodoidPrior, admissible
    from microinv.surrogate import load

    cfg = load_config(args)
    target = np.asarray(args.target)
    if np.any((target <= 0) | (target >= 1)):
        raise InputError(f"--target: each eta must lie in (0, 1), got {args.target}")
    if args.upscale < 1:
        raise InputError(f"--upscale: must be >= 1, got {args.upscale}")
    if setting(args, cfg, "validation_count") < 1:
        raise InputError("--validation-count: must be >= 1")
    seed = args.seed if args.seed is not None else (cfg or {}).get("seed", 0)
    out = Path(args.output)
    prov = Provenance(inputs=[args.surrogate] + ([args.config] if args.config else []), config=cfg,
                      extra={"design": {k: v for k, v in vars(args).items() if k != "func"}})
    surrogate = load(args.surrogate)
    n = args.n or surrogate.n
    prior = SpinodoidPrior(n=n, dim=3)
    simulate = SurrogateSimulator(surrogate, make_generator(args.generator, n, device=args.device),
                                  chunk=args.chunk, accept=admissible if args.percolation else None)
    if args.method == "abc":
        tolerances = setting(args, cfg, "tolerances") or reference_tolerances()
        population = setting(args, cfg, "population")
        if min(tolerances) <= 0 or np.any(np.diff(tolerances) > 0):
            raise InputError(f"--tolerances: must be positive and decreasing, got {tolerances}")
        if population < 2:
            raise InputError(f"--population: must be >= 2, got {population}")
        def run_abc():
            return abc_pmc(
                target, simulate, prior, population, tolerances, seed=seed,
                batch_size=args.batch_size, history_path=out / "posterior.h5",
                max_trials=args.max_trials or 1000 * population, param_names=PARAM_NAMES,
                provenance=prov.finish(),
                simulator_settings={"surrogate_sha256": prov.inputs[str(args.surrogate)],
                                    "generator": args.generator, "n": n, "percolation": args.percolation})

        try:
            try:
                result = run_abc()
            except SettingsMismatch as err:
                if not args.restart_on_change:
                    raise
                stale = out / "posterior.stale.h5"
                log.warning("%s; starting afresh, the old run is kept as %s", err, stale)
                os.replace(out / "posterior.h5", stale)
                result = run_abc()
        except NoGenerationFinished as err:
            raise InputError(f"--tolerances/--max-trials: {err}") from err
        if not result.complete:
            log.warning("the tolerance schedule stopped after generation %d (tolerance %g): the "
                        "design is the mean of that generation; design.json records complete=false",
                        result.posterior.index, result.posterior.tolerance)
        theta = result.mean()
        details = {"posterior": "posterior.h5", **result.summary()}
        log.info("posterior mean %s, 95 %% intervals %s", np.round(theta, 4).tolist(),
                 np.round(result.credible_interval(0.95), 4).tolist())
    else:
        theta, details = _bayesian_optimisation(args, cfg, simulate, prior, target, seed, out,
                                                prov.inputs[str(args.surrogate)])
    write_design(out / "design.json", method=args.method, target=target, theta=theta,
                 param_names=PARAM_NAMES, n=n, seed=seed,
                 count=setting(args, cfg, "validation_count"), upscale=args.upscale,
                 tolerance=args.tolerance, campaign=args.campaign, details=details,
                 provenance=prov.finish())
    log.info("design %s written to %s (%d structures simulated, %d not percolating)",
             np.round(theta, 4).tolist(), out / "design.json", simulate.count, simulate.refused)
    return 0


def _bayesian_optimisation(args, cfg, simulate, prior, target, seed, out, surrogate_sha256):
    """One worker's trials; the design is the study's best trial so far."""
    from microinv.design.bo import DiscrepancyObjective, SpinodoidSpace, best_design, load_study, run_worker

    # Trials of one study must share one objective: a new target, seed, size or surrogate
    # (a retrained one) starts a study of its own in the same journal.
    objective_key = {"target": np.asarray(target).tolist(), "seed": seed, "n": prior.n,
                     "structures_per_trial": args.structures_per_trial,
                     "surrogate_sha256": surrogate_sha256}
    study_name = args.study_name or f"design-{sha256_json(objective_key)[:12]}"
    study = load_study(out / "study.journal", study_name, sampler=args.sampler, seed=seed,
                       worker=args.worker)
    objective = DiscrepancyObjective(simulate, target, SpinodoidSpace(prior),
                                     structures_per_trial=args.structures_per_trial, seed=seed,
                                     prior=prior)
    run_worker(study, objective, setting(args, cfg, "trials"), worker=args.worker,
               total_trials=args.total_trials)
    try:
        best = best_design(study)
    except ValueError as err:
        raise InputError(f"{out / 'study.journal'}: {err}: every trial was pruned (outside the "
                         "prior, or no structure percolated); run more trials") from err
    log.info("best trial %d: J = %.3g %% +- %s", best["trial"], best["value"], best["value_sem"])
    return best["theta"], {"study": "study.journal", "study_name": study_name, **best}
