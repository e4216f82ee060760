"""``microinv active acquire|summary``: the active-learning rounds (:mod:`microinv.design.active`).

``acquire`` writes the batch of one round, target and method (``batch.json``): a samples
chunk (``microinv.samples/1``) of the new structures, ready for ``microinv generate`` and
``microinv solve``, with an ``active`` object recording the round, the design and the
validation it started from, the solves spent and, for a loop that stops, why (then the
batch is empty). ``round`` lists what the batches of one round hold (``round.json``, what
the workflow reads to know which jobs the round still needs). ``summary`` gathers every round's batch and the final validations into
``summary.json`` and the figure of discrepancy against round and solves.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.data.atomic import write_json
from microinv.data.chunks import SAMPLES_FORMAT, read_json, read_samples
from microinv.data.provenance import Provenance
from microinv.errors import InputError

log = logging.getLogger("microinv.active")

ACTIVE_FORMAT = "microinv.active/1"
ROUND_FORMAT = "microinv.active-round/1"


def register(sub):
    p = sub.add_parser("active", help="active learning: acquire a round's batch, summarise the rounds")
    steps = p.add_subparsers(dest="step", required=True, metavar="<step>")
    acquire = steps.add_parser("acquire", help="new structures near a design, weighted by the surrogate's spread")
    add_config_argument(acquire, required=True)
    acquire.add_argument("--design", required=True, help="design.json the round starts from")
    acquire.add_argument("--validation", required=True, help="validation.json of that design")
    acquire.add_argument("--surrogate", required=True, help="surrogate (model.ckpt) of that design")
    acquire.add_argument("--round", type=int, required=True, help="round number r >= 1")
    acquire.add_argument("--target-name", required=True, help="name of the target in design.targets")
    acquire.add_argument("--previous", help="batch.json of round r - 1 (for the solves spent)")
    acquire.add_argument("-o", "--output", required=True, help="batch.json")
    acquire.set_defaults(func=run_acquire)
    round_ = steps.add_parser("round", help="what the batches of one round hold (round.json)")
    round_.add_argument("batches", nargs="+", help="batch.json of every target and method of the round")
    round_.add_argument("-o", "--output", required=True, help="round.json")
    round_.set_defaults(func=run_round)
    summary = steps.add_parser("summary", help="summary.json and the figure of the rounds")
    add_config_argument(summary, required=True)
    summary.add_argument("--batches", nargs="+", required=True, help="batch.json of every round")
    summary.add_argument("--validations", nargs="+", required=True,
                         help="the last validation.json of each target and method")
    summary.add_argument("--figure", required=True, help="PNG of discrepancy against round and solves")
    summary.add_argument("-o", "--output", required=True, help="summary.json")
    summary.set_defaults(func=run_summary)


def validated(path) -> tuple[float, float]:
    """Discrepancy of the mean (%) and its standard error of a ``validation.json``
    (:func:`microinv.design.validation.summarise`)."""
    from microinv.design.validation import VALIDATION_FORMAT

    doc = read_json(path, "validation", VALIDATION_FORMAT)
    try:
        return float(doc["discrepancy_of_mean"]), float(doc["discrepancy_of_mean_sem"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}: discrepancy_of_mean(_sem): missing or not a number ({err})") from err


def run_acquire(args) -> int:
    from microinv.design import active
    from microinv.design.records import read_design

    cfg = load_config(args)
    settings, targets, methods = cfg["active"], list(cfg["design"]["targets"]), cfg["design"]["methods"]
    if args.target_name not in targets:
        raise InputError(f"--target-name: {args.target_name!r} is not a target of design.targets ({targets})")
    if args.round < 1:
        raise InputError(f"--round: must be >= 1, got {args.round}")
    doc = read_design(args.design)
    design = doc["design"]
    if design["method"] not in methods:
        raise InputError(f"{args.design}: design.method {design['method']!r} is not in design.methods")
    target = np.asarray(design["target"])
    spent = read_samples(args.previous)["active"]["spent"] if args.previous else 0
    discrepancy, sem = validated(args.validation)
    cost = settings["batch"] + cfg["design"]["validation_count"]
    budget = settings["budget"] // len(methods)
    stop = active.stop_reason(discrepancy, spent, tolerance=settings["tolerance"], budget=budget, cost=cost)
    a, b = targets.index(args.target_name), methods.index(design["method"])
    start = active.first_index(cfg["samples"]["count"], args.round, a, b, targets=len(targets),
                               methods=len(methods), batch=settings["batch"])
    samples = [] if stop else acquire_samples(cfg, args, doc, active.round_streams(cfg["seed"], args.round, a, b),
                                              start)
    record = {"round": args.round, "target": args.target_name, "method": design["method"],
              "start": {"design": args.design, "validation": args.validation, "surrogate": args.surrogate,
                        "discrepancy": discrepancy, "sem": sem, "spent": spent},
              "stopped": stop.reason if stop else None, "why": stop.detail if stop else None,
              "count": len(samples), "budget": budget,
              "spent": spent + (len(samples) + cfg["design"]["validation_count"] if samples else 0)}
    inputs = [args.config, args.design, args.validation, args.surrogate] + ([args.previous] if args.previous else [])
    n = cfg["structure"]["n"]
    write_json(args.output, {"format": SAMPLES_FORMAT, "campaign": cfg["campaign"], "chunk": args.round,
                             "n": n, "dim": 3, "samples": samples, "acceptance_rate": 1.0,
                             "provenance": Provenance(inputs=inputs, config=cfg).finish(), "active": record})
    log.info("round %d, %s/%s: %s", args.round, args.target_name, design["method"],
             f"stopped: {stop.detail}" if stop else f"{len(samples)} new structures (rho of the mean "
             f"{discrepancy:.3g} +- {sem:.2g} %)")
    return 0


def acquire_samples(cfg, args, doc, streams, start: int) -> list[dict]:
    """The batch's sample entries: candidates near the design, generated, predicted, selected."""
    from microinv.design import active
    from microinv.design.history import PosteriorHistory
    from microinv.microstructure import SpinodoidPrior, admissible, spinodoid
    from microinv.surrogate import load

    settings, design, n = cfg["active"], doc["design"], cfg["structure"]["n"]
    count = settings["candidates"]
    if design["method"] == "abc":
        last = PosteriorHistory(Path(args.design).parent / design["abc"]["posterior"]).generations[-1]
        theta = active.posterior_candidates(last.particles, last.weights, count, streams["candidates"])
    else:
        theta = active.local_candidates(design["theta"], SpinodoidPrior(n=n, dim=3), count, streams["candidates"],
                                        spread=settings["spread"])
    seeds = active.structure_seeds(streams, count)
    solids = [spinodoid(t, n, int(s)) for t, s in zip(theta, seeds)]
    keep = np.array([admissible(s) for s in solids])
    if not keep.any():
        raise InputError(f"{args.design}: none of the {count} candidates near the design percolates "
                         "(both phases along x, y, z); raise active.candidates")
    surrogate = load(args.surrogate)
    mean, std = predict_with_spread(surrogate, np.stack([s for s, k in zip(solids, keep) if k]))
    weights = np.zeros(count)
    weights[keep] = active.acquisition_weights(mean, std, design["target"], scale=settings["scale"])
    chosen = np.sort(active.select(weights, settings["batch"], streams["selection"]))
    rows = np.cumsum(keep) - 1  # candidate -> row of mean/std
    return [{"index": start + k, "seed": int(seeds[j]), "theta": [float(v) for v in theta[j]], "attempts": 1,
             "acquisition": {"candidate": int(j), "weight": float(weights[j]),
                             "mean": mean[rows[j]].tolist(),
                             "std": None if std is None else std[rows[j]].tolist()}}
            for k, j in enumerate(chosen)]


def predict_with_spread(surrogate, solids):
    """Predictive mean and standard deviation (each (B, 3)) of a surrogate; std None for a
    single network (``surrogate.ensemble: 1``), which has no spread to weigh by."""
    if surrogate.members == 1:
        return np.asarray(surrogate.predict(solids), dtype=float), None
    mean, std = surrogate.predict(solids, return_std=True)
    return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)


def run_round(args) -> int:
    """round.json: per batch its target, method, count and stop, the one file the workflow
    reads to know what the round still needs."""
    loops = []
    for path in args.batches:
        record = read_samples(path).get("active")
        if not isinstance(record, dict) or "round" not in record:
            raise InputError(f"{path}: active: missing (not a batch of `microinv active acquire`)")
        loops.append({key: record[key] for key in ("round", "target", "method", "count", "stopped")})
    rounds = {loop["round"] for loop in loops}
    if len(rounds) != 1:
        raise InputError(f"{args.batches[0]}: batches of rounds {sorted(rounds)} given; one round at a time")
    write_json(args.output, {"format": ROUND_FORMAT, "round": rounds.pop(), "loops": loops,
                             "provenance": Provenance(inputs=args.batches).finish()})
    return 0


def run_summary(args) -> int:
    from microinv.figures.active import discrepancy_history

    records = [read_samples(p).get("active") or {} for p in args.batches]
    for path, record in zip(args.batches, records):
        if "round" not in record:
            raise InputError(f"{path}: active: missing (not a batch of `microinv active acquire`)")
    finals = {}
    for path in args.validations:
        doc = read_json(path, "validation")
        finals[(doc.get("method"), tuple(doc.get("target", ())))] = path
    loops = {}
    for record in sorted(records, key=lambda r: r["round"]):
        name = f"{record['target']}/{record['method']}"
        history = loops.setdefault(name, {"history": [], "stopped": None})
        start = record["start"]
        if not history["history"] or history["history"][-1]["validation"] != start["validation"]:
            history["history"].append({"round": record["round"] - 1, "discrepancy": start["discrepancy"],
                                       "sem": start["sem"], "solves": start["spent"],
                                       "validation": start["validation"]})
        history["stopped"] = record["stopped"] or history["stopped"]
        history["last"] = record
    for name, loop in loops.items():
        last = loop.pop("last")
        if not last["stopped"]:  # the last round's own design and validation
            design = read_samples(last["start"]["design"])["design"]
            path = finals.get((last["method"], tuple(design["target"])))
            if path is None:
                raise InputError(f"--validations: no validation.json of {name}")
            rho, sem = validated(path)
            loop["history"].append({"round": last["round"], "discrepancy": rho, "sem": sem,
                                    "solves": last["spent"], "validation": path})
        loop["answer"] = loop["history"][-1]
    tolerance = load_config(args)["active"]["tolerance"]
    write_json(args.output, {"format": ACTIVE_FORMAT, "tolerance": tolerance, "loops": loops})
    discrepancy_history({k: v["history"] for k, v in loops.items()}, tolerance, args.figure)
    for name, loop in loops.items():
        answer = loop["answer"]
        log.info("%s: round %d, rho of the mean %.3g +- %.2g %% after %d extra solves%s", name, answer["round"],
                 answer["discrepancy"], answer["sem"], answer["solves"],
                 f" (stopped: {loop['stopped']})" if loop["stopped"] else "")
    return 0
