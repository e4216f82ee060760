"""``microinv design abc|bo``: from a target diffusivity to a design theta and its validation samples.

``abc`` runs ABC-PMC with the surrogate as simulator (``posterior.h5``, resumable); ``bo``
runs one Optuna worker against a study journal that any number of workers share
(``study.journal``). Both write ``design.json``: the design (posterior mean or best trial)
and K validation samples in the samples-chunk format, ready for ``microinv generate``.
BO workers of a shared study pass ``--no-design``; ``bo --trials 0 --total-trials T`` then
writes the design, once the study holds its T finished trials. ``--start-from DESIGN`` runs
no search: an active-learning round refines the design of the round before under its own
surrogate (a local redesign, ``active.redesign: local``).
Settings come from the command line, else ``design.*`` of ``--config``, else the schema's
defaults (``microinv config`` shows them).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from microinv import config as campaign_config
from microinv.commands.common import add_config_argument, load_config
from microinv.data.provenance import Provenance, sha256_json
from microinv.design.records import DESIGN, POSTERIOR, STALE_POSTERIOR, STUDY
from microinv.errors import InputError

log = logging.getLogger("microinv.design")

PARAM_NAMES = ("a_x", "a_y", "a_z", "eps")
#: Settings read from ``design.*`` of the config (schema defaults) unless given as options.
CONFIG_SETTINGS = ("population", "tolerances", "trials", "workers", "validation_count", "abc_design",
                   "candidates", "candidate_structures", "posterior_predictive", "refine_evaluations",
                   "refine_structures")
#: What each design validates (``design.validated`` in design.json).
VALIDATED = {"candidate": "ABC candidate of smallest expected discrepancy", "mean": "ABC posterior mean",
             "bo": "BO best trial"}


def register(sub):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--surrogate", required=True, help="trained surrogate (model.ckpt)")
    common.add_argument("--target", nargs=3, type=float, required=True,
                        metavar=("ETA_X", "ETA_Y", "ETA_Z"), help="target diffusivity, each in (0, 1)")
    common.add_argument("-o", "--output", required=True, help="design folder")
    add_config_argument(common)
    common.add_argument("--seed", type=int, help="design seed (default: the config's seed)")
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
    common.add_argument("--validation-count", type=int,
                        help="validation structures K (default: design.validation_count)")
    common.add_argument("--upscale", type=int, default=1,
                        help="validate at upscale*N voxels with a/upscale (e.g. 3)")
    common.add_argument("--tolerance", type=float, default=0.05,
                        help="relative tolerance on each axis counted as a hit in validation")
    common.add_argument("--campaign", default="design", help="campaign name in design.json")
    common.add_argument("--refine-evaluations", type=int,
                        help="most surrogate evaluations of the refinement that puts the surrogate's mean "
                             "eta on the target (microinv.design.refine); 0 validates the search's design "
                             "as found (default: design.refine_evaluations)")
    common.add_argument("--refine-structures", type=int,
                        help="structures per refinement evaluation, common to all theta "
                             "(default: design.refine_structures)")
    common.add_argument("--round", type=int, default=0,
                        help="active-learning round r: its validation structures get seeds of their own "
                             "(default 0, a campaign's first design)")
    common.add_argument("--start-from", metavar="DESIGN",
                        help="design.json of an earlier round of the same target and method: run no search, "
                             "refine that design under this surrogate (the refinement must be on)")
    common.add_argument("--bias-from", nargs=3, metavar=("DESIGN", "PROPERTIES", "STRUCTURES"),
                        help="design.json, properties chunk and structures chunk of a validated design: "
                             "aim the surrogate at the target plus its bias on those solved structures "
                             "(microinv.design.validation.corrected_target)")

    p = sub.add_parser("design", help="invert a target diffusivity (ABC-PMC posterior or BO optimum)")
    methods = p.add_subparsers(dest="method", required=True, metavar="<method>")
    abc = methods.add_parser("abc", parents=[common], help="ABC-PMC posterior (posterior.h5, resumable)")
    abc.add_argument("--population", type=int, help="particles per generation P (default: design.population)")
    abc.add_argument("--tolerances", type=_tolerance, nargs="+",
                     help="decreasing tolerances in %%, or `reference`: 9 log-equidistant from 100 to 1 "
                          "(default: design.tolerances)")
    abc.add_argument("--abc-design", choices=("candidate", "mean"),
                     help="design validated: the candidate of smallest expected discrepancy among "
                          "posterior draws, or the posterior mean (default: design.abc_design)")
    abc.add_argument("--candidates", type=int, help="candidates C: the posterior mean and C - 1 weighted "
                                                    "posterior draws (default: design.candidates)")
    abc.add_argument("--candidate-structures", type=int,
                     help="structures per candidate (default: design.candidate_structures)")
    abc.add_argument("--posterior-predictive", type=int,
                     help="posterior-predictive structures K' (each at its own posterior draw), validated "
                          "beside the design's K; 0 for none, and none in active-learning rounds "
                          "(default: design.posterior_predictive)")
    abc.add_argument("--batch-size", type=int, default=256, help="proposals simulated per batch")
    abc.add_argument("--restart-on-change", action="store_true",
                     help=f"if OUTPUT/{POSTERIOR} holds a run with other settings, keep it as "
                          f"{STALE_POSTERIOR} and start afresh (default: stop with an error)")
    abc.add_argument("--max-trials", type=int,
                     help="stop when a generation needs more proposals (default 1000 x population)")
    abc.set_defaults(func=run)
    bo = methods.add_parser("bo", parents=[common], help="one Optuna worker of a shared study (study.journal)")
    bo.add_argument("--trials", type=int, help="trials this worker runs (default: design.trials); 0 runs "
                                               "none and writes the design of the study as it is")
    bo.add_argument("--total-trials", type=int, help="stop once the study has this many finished trials; "
                                                     "write design.json only when it has")
    bo.add_argument("--no-design", action="store_true",
                    help="add this worker's trials to the study and write no design.json (the workers "
                         "of a shared study; `--trials 0` writes the design afterwards)")
    bo.add_argument("--structures-per-trial", type=int, default=8, help="structures K per trial")
    bo.add_argument("--worker", type=int, default=0, help="worker index (e.g. $SLURM_ARRAY_TASK_ID)")
    bo.add_argument("--workers", type=int, help="concurrent workers W of the study: trials run in "
                                                "reproducible batches of W (default: design.workers)")
    bo.add_argument("--study-name", help="study name in the journal (default: one per objective and "
                                         "search: from the target, seed, n, K, the surrogate's SHA-256, "
                                         "--sampler and --workers)")
    bo.add_argument("--sampler", choices=("tpe", "gp"), default="tpe")
    bo.set_defaults(func=run)


def _tolerance(text: str):
    """One ``--tolerances`` word: a number, or the name of the reference schedule."""
    from microinv.design.abc import REFERENCE_SCHEDULE

    if text == REFERENCE_SCHEDULE:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or {REFERENCE_SCHEDULE!r}, got {text!r}") from None


@dataclasses.dataclass
class DesignRun:
    """What both methods share: settings, target, the surrogate simulator, the output folder."""

    settings: dict
    target: np.ndarray
    surrogate_target: np.ndarray
    correction: dict | None
    seed: int
    out: Path
    provenance: Provenance
    surrogate_sha256: str
    prior: object
    simulate: object
    predictive: tuple | None = None  # ABC: (particles, weights, K') of the posterior-predictive check


def settings_of(args, cfg: dict) -> dict:
    """``design.*`` of the resolved config, each overridden by its command-line option."""
    settings = dict(cfg["design"])
    settings.update({key: getattr(args, key) for key in CONFIG_SETTINGS if getattr(args, key, None) is not None})
    return settings


def prepare(args) -> DesignRun:
    """Check the arguments, load the surrogate and build the simulator of the design."""
    from microinv.design.simulators import SurrogateSimulator, make_generator
    from microinv.microstructure import SpinodoidPrior, admissible
    from microinv.surrogate import load

    cfg = load_config(args)
    resolved = cfg or campaign_config.resolve({}, source="the schema's defaults")
    settings = settings_of(args, resolved)
    target = np.asarray(args.target)
    if np.any((target <= 0) | (target >= 1)):
        raise InputError(f"--target: each eta must lie in (0, 1), got {args.target}")
    if args.upscale < 1:
        raise InputError(f"--upscale: must be >= 1, got {args.upscale}")
    if settings["validation_count"] < 1:
        raise InputError("--validation-count: must be >= 1")
    if args.round < 0:
        raise InputError(f"--round: must be >= 0, got {args.round}")
    seed = args.seed if args.seed is not None else resolved["seed"]
    prov = Provenance(inputs=[args.surrogate] + ([args.config] if args.config else []) + list(args.bias_from or []),
                      config=cfg, extra={"design": {k: v for k, v in vars(args).items() if k != "func"}})
    surrogate = load(args.surrogate)
    correction = surrogate_bias(args.bias_from, target, args.surrogate) if args.bias_from else None
    surrogate_target = np.asarray(correction["surrogate_target"]) if correction else target
    n = args.n or surrogate.n
    simulate = SurrogateSimulator(surrogate, make_generator(args.generator, n, device=args.device),
                                  chunk=args.chunk, accept=admissible if args.percolation else None)
    return DesignRun(settings, target, surrogate_target, correction, seed, Path(args.output), prov,
                     prov.inputs[str(args.surrogate)], SpinodoidPrior(n=n, dim=3), simulate)


def surrogate_bias(bias_from, target, surrogate) -> dict:
    """The corrected target (`microinv.design.validation.corrected_target`) from the solved
    validation structures of a design (``--bias-from DESIGN PROPERTIES STRUCTURES``)."""
    from microinv.commands.validate import design_samples, predict, solved
    from microinv.design.records import read_design
    from microinv.design.validation import corrected_target

    design_path, properties, structures = bias_from
    doc = read_design(design_path)
    index, eta = solved(properties, doc)
    own = design_samples(index, doc["design"])
    index, eta = index[own], eta[own]
    _, predicted = predict(surrogate, structures, index, doc["design"], batch_size=8)
    correction = {**corrected_target(target, predicted, eta), "from": str(design_path)}
    log.info("surrogate bias %s +- %s on %d solved structures of %s: surrogate target %s",
             np.round(correction["bias"], 4).tolist(), np.round(correction["bias_sem"], 4).tolist(),
             correction["structures"], design_path, np.round(correction["surrogate_target"], 4).tolist())
    return correction


def run(args) -> int:
    from microinv.design.records import write_design

    design = prepare(args)
    if args.start_from:
        found = earlier_design(args, design)
    elif args.method == "abc":
        found = approximate_posterior(args, design)
    else:
        found = bayesian_optimisation(args, design)
    if found is None:
        return 0
    theta, validated, details = found
    refinement = refined(args, design, theta)
    if refinement is not None and refinement["improved"]:
        theta, validated = refinement["theta"], f"{validated}, refined"
    path = design.out / DESIGN
    write_design(path, method=args.method, target=design.target, theta=theta, validated=validated,
                 param_names=PARAM_NAMES,
                 n=design.prior.n, seed=design.seed, count=design.settings["validation_count"],
                 upscale=args.upscale, tolerance=args.tolerance, campaign=args.campaign, round_=args.round,
                 details={**details, "correction": design.correction, "refinement": refinement},
                 provenance=design.provenance.finish(),
                 predictive=design.predictive)
    log.info("design %s written to %s (%d structures simulated, %d not percolating)",
             np.round(theta, 4).tolist(), path, design.simulate.count, design.simulate.refused)
    return 0


def earlier_design(args, design: DesignRun):
    """(theta, validated, details) of the design that ``--start-from`` names, the start of a
    local redesign. Its search's record (ABC posterior, BO study) is carried with the paths it
    names re-based to the new design folder, so the round's acquisition and audit find them."""
    from microinv.design.records import read_design

    path = Path(args.start_from)
    earlier = read_design(path)["design"]
    if earlier["method"] != args.method:
        raise InputError(f"{path}: design.method: {earlier['method']!r}, expected {args.method!r} (--start-from)")
    if not np.allclose(earlier["target"], design.target):
        raise InputError(f"{path}: design.target: {earlier['target']}, expected {design.target.tolist()} "
                         "(--start-from)")
    if not design.settings["refine_evaluations"]:
        raise InputError("--start-from: a local redesign is the refinement; design.refine_evaluations "
                         "(--refine-evaluations) must be > 0")
    details = {key: value for key, value in earlier.get(args.method, {}).items()
               if key not in ("correction", "refinement", "start_from")}
    for key in ("posterior", "study"):
        if key in details:
            details[key] = os.path.relpath(path.parent / details[key], design.out)
    details["start_from"] = {"design": os.path.relpath(path, design.out), "round": earlier["validation"]["round"],
                             "theta": earlier["theta"], "validated": earlier["validated"]}
    log.info("local redesign from %s (round %d): %s", path, earlier["validation"]["round"],
             np.round(earlier["theta"], 4).tolist())
    return earlier["theta"], f"round-{earlier['validation']['round']} design", details


def refined(args, design: DesignRun, theta) -> dict | None:
    """The refinement of the search's design (:mod:`microinv.design.refine`), None when off."""
    from microinv.design.refine import refine_design

    evaluations, structures = design.settings["refine_evaluations"], design.settings["refine_structures"]
    if evaluations < 0 or structures < 2:
        raise InputError(f"--refine-evaluations/--refine-structures: must be >= 0 and >= 2, got "
                         f"{evaluations}, {structures}")
    if not evaluations:
        return None
    result = refine_design(theta, design.simulate, design.surrogate_target, design.prior, structures=structures,
                           evaluations=evaluations, seed=design.seed, round_=args.round)
    log.info("refined %s -> %s: surrogate rho of the mean %.3g -> %.3g %% over %d structures, %d evaluations",
             np.round(result["start"], 4).tolist(), np.round(result["theta"], 4).tolist(),
             result["start_discrepancy"], result["discrepancy"], structures, result["evaluations"])
    return result


def approximate_posterior(args, design: DesignRun):
    """ABC-PMC, resumed from ``posterior.h5``; the design is the candidate of smallest
    expected discrepancy among posterior draws (:mod:`microinv.design.candidates`) or,
    with ``design.abc_design: mean``, the posterior mean."""
    from microinv.design.abc import REFERENCE_SCHEDULE, NoGenerationFinished, abc_pmc, tolerance_schedule
    from microinv.design.history import SettingsMismatch

    tolerances, population = design.settings["tolerances"], design.settings["population"]
    if isinstance(tolerances, list) and REFERENCE_SCHEDULE in tolerances:  # --tolerances reference
        if tolerances != [REFERENCE_SCHEDULE]:
            raise InputError(f"--tolerances: {REFERENCE_SCHEDULE!r} names a whole schedule, got {tolerances}")
        tolerances = REFERENCE_SCHEDULE
    tolerances = tolerance_schedule(tolerances)
    if min(tolerances) <= 0 or np.any(np.diff(tolerances) > 0):
        raise InputError(f"--tolerances: must be positive and decreasing, got {tolerances}")
    if population < 2:
        raise InputError(f"--population: must be >= 2, got {population}")

    def run_abc():
        return abc_pmc(
            design.surrogate_target, design.simulate, design.prior, population, tolerances, seed=design.seed,
            batch_size=args.batch_size, history_path=design.out / POSTERIOR,
            max_trials=args.max_trials or 1000 * population, param_names=PARAM_NAMES,
            provenance=design.provenance.finish(),
            simulator_settings={"surrogate_sha256": design.surrogate_sha256, "generator": args.generator,
                                "n": design.prior.n, "percolation": args.percolation})

    try:
        try:
            result = run_abc()
        except SettingsMismatch as err:
            if not args.restart_on_change:
                raise
            log.warning("%s; starting afresh, the old run is kept as %s", err, design.out / STALE_POSTERIOR)
            os.replace(design.out / POSTERIOR, design.out / STALE_POSTERIOR)
            result = run_abc()
    except NoGenerationFinished as err:
        raise InputError(f"--tolerances/--max-trials: {err}") from err
    if not result.complete:
        log.warning("the tolerance schedule stopped after generation %d (tolerance %g): the "
                    "design is the mean of that generation; design.json records complete=false",
                    result.posterior.index, result.posterior.tolerance)
    log.info("posterior mean %s, 95 %% intervals %s", np.round(result.mean(), 4).tolist(),
             np.round(result.credible_interval(0.95), 4).tolist())
    details = {"posterior": POSTERIOR, **result.summary(), "candidates": design_candidates(result, design)}
    predictive = design.settings["posterior_predictive"]
    if predictive < 0:
        raise InputError(f"--posterior-predictive: must be >= 0, got {predictive}")
    if predictive and not args.round:
        design.predictive = (result.particles, result.weights, predictive)
    choice = design.settings["abc_design"]
    theta = details["candidates"]["theta"] if choice == "candidate" else result.mean()
    return theta, VALIDATED[choice], details


def design_candidates(result, design: DesignRun) -> dict:
    """The ABC candidates scored by the surrogate's expected discrepancy."""
    from microinv.design.candidates import screen_candidates

    count, structures = design.settings["candidates"], design.settings["candidate_structures"]
    if count < 1 or structures < 1:
        raise InputError(f"--candidates/--candidate-structures: must be >= 1, got {count}, {structures}")
    screened = screen_candidates(result, design.simulate, candidates=count, structures=structures,
                                 seed=design.seed)
    best = screened["candidates"][screened["best"]]
    log.info("candidate %d of %d (%s): %s, surrogate J = %.3g %% +- %s over %d structures",
             screened["best"], len(screened["candidates"]), best["source"],
             np.round(best["theta"], 4).tolist(), best["expected_discrepancy"] or np.nan,
             best["expected_discrepancy_sem"], best["admissible"])
    return screened


def bayesian_optimisation(args, design: DesignRun):
    """One worker's trials in the shared study; unless ``--no-design``, the design: the
    study's best trial, once it holds ``--total-trials`` finished trials (None otherwise)."""
    from microinv.data.journal import read_study
    from microinv.design.bo import DiscrepancyObjective, SpinodoidSpace, load_study
    from microinv.design.bo_workers import BatchSampler, run_worker

    workers = design.settings["workers"]
    if workers < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    # Trials of one study share one objective and one search: a new target, seed, size,
    # surrogate (a retrained one), sampler or batch size starts a study of its own.
    study_key = {"target": design.surrogate_target.tolist(), "seed": design.seed, "n": design.prior.n,
                 "structures_per_trial": args.structures_per_trial,
                 "surrogate_sha256": design.surrogate_sha256, "sampler": args.sampler, "batch": workers}
    study_name = args.study_name or f"design-{sha256_json(study_key)[:12]}"
    journal = design.out / STUDY
    if not design.settings["trials"]:  # the design of the study as it is
        return study_design(read_study(journal, study_name), journal, args.total_trials)
    space = SpinodoidSpace(design.prior)
    study = load_study(journal, study_name,
                       sampler=BatchSampler(space, kind=args.sampler, seed=design.seed, batch=workers))
    objective = DiscrepancyObjective(design.simulate, design.surrogate_target, space,
                                     structures_per_trial=args.structures_per_trial, seed=design.seed,
                                     prior=design.prior)
    run_worker(study, objective, design.settings["trials"], worker=args.worker, total_trials=args.total_trials)
    return None if args.no_design else study_design(study, journal, args.total_trials)


def study_design(study, journal, total_trials: int | None):
    """(theta, details) of the best trial of a study that holds ``total_trials`` finished trials."""
    from microinv.design.bo import best_design, finished_trials

    done = finished_trials(study)
    if total_trials is not None and done < total_trials:
        raise InputError(f"{journal}: study {study.study_name!r} holds {done} finished trials of the "
                         f"{total_trials} asked (--total-trials): run its workers again to finish it")
    try:
        best = best_design(study)
    except ValueError as err:
        raise InputError(f"{journal}: {err}: every trial was pruned (outside the prior, or no "
                         "structure percolated); run more trials") from err
    log.info("best trial %d of %d: J = %.3g %% +- %s", best["trial"], done, best["value"], best["value_sem"])
    return best["theta"], VALIDATED["bo"], {"study": STUDY, "study_name": study.study_name, **best}
