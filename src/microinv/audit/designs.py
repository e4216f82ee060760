"""Designs against the runs they summarise.

A BO ``design/<target>/bo/design.json`` names its study (``study.journal``, study name)
and claims its trial counts and best trial. The journal must hold those trials, and the
study must have run the budget its config asked for (``design.workers`` x
``design.trials``): a design taken from a study cut short is not the campaign's design.

A process design ``design/<box>/process/design.json`` (process campaigns) claims the best
trial of its study (``study``, ``process-<box>-<digest>``) in ``study.journal`` beside it (its phi and Monte Carlo
p), or, re-selected, the best trials of that study as its candidates (their trial numbers,
phi and p in rank order) and phi* one of them; the journal must hold the
``process_design.trials`` its config asked for.

An ABC run kept aside by ``--restart-on-change`` (``posterior.stale.h5``) records the
inputs of a run that no longer counts (for example the surrogate before a retrain); it is
listed, not audited as a live record.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from microinv.audit.campaign import Campaign
from microinv.audit.findings import Check
from microinv.design.records import DESIGN, STALE_POSTERIOR, read_design
from microinv.errors import InputError

__all__ = ["check_designs", "live_records"]


def live_records(records: dict) -> tuple[dict, list[str]]:
    """The records that count, and the names of those kept aside as stale."""
    stale = sorted(rel for rel in records if Path(rel).name == STALE_POSTERIOR)
    return {rel: record for rel, record in records.items() if rel not in stale}, stale


def check_designs(campaign: Campaign, records: dict, stale: list[str]) -> Check:
    """Every BO and process design's study holds the trials it claims, and the budget its config asked."""
    check = Check("designs", "designs -> the studies they summarise", unit="designs")
    for rel in sorted(records):
        parts = Path(rel).parts
        if parts[0] in ("design", "active") and parts[-2:] == ("bo", DESIGN):
            check.checked += 1
            _check_bo(check, campaign, rel, records[rel])
        elif parts[0] == "design" and parts[-2:] == ("process", DESIGN):
            check.checked += 1
            _check_process(check, campaign, rel, records[rel])
    if stale:
        check.details["stale"] = stale
        check.details["note"] = f"not audited, kept aside by --restart-on-change: {', '.join(stale)}"
    return check


def _check_bo(check: Check, campaign: Campaign, rel: str, record: dict) -> None:
    from optuna.trial import TrialState

    from microinv.data.journal import read_study

    try:
        bo = read_design(campaign.path(rel))["design"]["bo"]
        journal = posixpath.normpath((Path(rel).parent / bo["study"]).as_posix())  # a local redesign names ../
        claimed = bo["trials"]["complete"] + bo["trials"]["pruned"]
    except (InputError, KeyError, TypeError) as err:
        check.fail(rel, f"not a BO design record ({err})")
        return
    try:
        study = read_study(campaign.path(journal), bo["study_name"])
    except InputError as err:
        check.fail(journal, f"{err} (named by {rel})")
        return
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,))) for state in TrialState}
    done = counts["complete"] + counts["pruned"]
    best = (study.best_trial.number, study.best_value) if counts["complete"] else (None, None)
    if done < claimed:
        check.fail(journal, f"holds {done} finished trials of study {bo['study_name']!r}, {rel} claims "
                            f"{claimed}: trials were lost after the design was made")
    elif counts != bo["trials"] or best != (bo["trial"], bo["value"]):
        check.fail(rel, f"does not describe its study: it claims trials {bo['trials']} and best trial "
                        f"{bo['trial']} (J = {bo['value']}), {journal} holds {counts} and best trial "
                        f"{best[0]} (J = {best[1]})")
    design = (record.get("config") or {}).get("design")
    if design and claimed < design["workers"] * design["trials"]:
        check.fail(rel, f"made from {claimed} finished trials; its config asks for "
                        f"{design['workers'] * design['trials']} (design.workers x design.trials): "
                        "the study was cut short; rerun the campaign to finish it")


def _check_process(check: Check, campaign: Campaign, rel: str, record: dict) -> None:
    from optuna.trial import TrialState

    from microinv.data.chunks import read_json
    from microinv.data.journal import read_study

    journal = (Path(rel).parent / "study.journal").as_posix()
    try:
        design = read_json(campaign.path(rel), "process design")
        name, phi, p, trial = design["study"], design["phi"], design["p_estimate"], design["trial"]
    except (InputError, KeyError, TypeError) as err:
        check.fail(rel, f"not a process design record ({err})")
        return
    try:
        study = read_study(campaign.path(journal), name)
    except InputError as err:
        check.fail(journal, f"{err} (named by {rel})")
        return
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    complete = len(finished)
    best = study.best_trial if complete else None
    if "reselection" in design:
        _check_reselection(check, rel, journal, design, finished)
    elif best is None or (best.number, best.value, best.user_attrs.get("phi")) != (trial, p, phi):
        found = "no complete trial" if best is None else (
            f"best trial {best.number} (p = {best.value}, phi = {best.user_attrs.get('phi')})")
        check.fail(rel, f"claims best trial {trial} (p = {p}, phi = {phi}); {journal} holds {found}")
    asked = ((record.get("config") or {}).get("process_design") or {}).get("trials")
    if asked and complete < asked:
        check.fail(rel, f"made from {complete} complete trials; its config asks for {asked} "
                        "(process_design.trials): rerun the campaign to finish the study")


def _check_reselection(check: Check, rel: str, journal: str, design: dict, finished) -> None:
    """The re-selection candidates are the study's best distinct trials, phi* one of them."""
    try:
        candidates = design["reselection"]["candidates"]
        claimed = [(c["trial"], c["p_trials"], c["phi"]) for c in candidates]
        chosen = candidates[design["reselection"]["chosen"]]
    except (KeyError, TypeError, IndexError) as err:
        check.fail(rel, f"reselection: not a re-selection record ({err})")
        return
    from microinv.design.goal import best_distinct_trials

    ranked = [(t.number, t.value, t.user_attrs.get("phi")) for t in best_distinct_trials(finished, len(candidates))]
    if claimed != ranked:
        check.fail(rel, f"reselection: claims candidates {[c[0] for c in claimed]}; the best distinct trials of "
                        f"{journal} are {[r[0] for r in ranked]}")
    elif (chosen["trial"], chosen["phi"], chosen["p_reselect"]) != (design["trial"], design["phi"],
                                                                      design["p_estimate"]):
        check.fail(rel, f"reselection: phi* {design['phi']} (trial {design['trial']}) is not the chosen candidate "
                        f"(trial {chosen['trial']}, phi = {chosen['phi']})")
