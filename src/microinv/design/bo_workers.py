"""Workers of one BO study, reproducible however many run and however they interleave.

Trials run in synchronous batches of B (``design.workers``, the concurrent workers): trial
k belongs to batch floor(k / B), and its parameters are what a fresh sampler seeded for k
alone (:func:`trial_sampler_seed`) proposes after seeing exactly the finished trials of
the batches before (:class:`BatchSampler`); its structure seeds depend on k alone
(:func:`~microinv.design.bo.trial_seeds`). A worker starts a trial once the batch before
it has finished (:func:`run_worker`). Which worker runs which trial is a matter of timing,
but no number depends on it: two runs with the same seed, batch size and budget hold the
same trials and the same best, whether one worker ran them or many.

A killed worker leaves its trial RUNNING in the journal. That trial is run again, with
its number and its parameters, by the next incarnation of the same worker index, or by
any worker on the same host once the process that ran it is gone (a trial asked but never
tagged with its worker is taken up after :data:`UNTAGGED_GRACE` seconds), so a killed and
resumed study equals an uninterrupted one. A trial left running on another host waits for
its own worker to be restarted.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from microinv.design.bo import FINISHED, SAMPLERS, make_sampler
from microinv.seeds import BO_TRIAL, stream

__all__ = ["POLL", "UNTAGGED_GRACE", "BatchSampler", "run_worker", "trial_sampler_seed"]

log = logging.getLogger(__name__)

#: Seconds between looks at the journal while a trial waits for the batch before it.
POLL = 0.2
#: Seconds after which a RUNNING trial that carries no worker tag counts as abandoned
#: (a worker tags its trial right after asking for it).
UNTAGGED_GRACE = 60.0


def trial_sampler_seed(seed: int, trial_number: int) -> int:
    """Seed of the sampler that proposes trial ``trial_number``: the stream
    ``(BO_TRIAL, trial_number, 1)`` of ``seed`` (its structure seeds are ``(BO_TRIAL, trial_number)``)."""
    return int(stream(seed, BO_TRIAL, trial_number, 1).generate_state(1)[0])


class BatchSampler(optuna.samplers.BaseSampler):
    """Proposes trial k from the finished trials of the batches before k's, with a sampler
    of its own seeded for k.

    Parameters
    ----------
    space : BoxSpace or SpinodoidSpace
        ``space.suggest(trial)`` defines the parameters.
    kind : {"tpe", "gp"}, keyword-only
        The Optuna sampler fitted to the history.
    seed : int, keyword-only
        Design seed (:func:`trial_sampler_seed`).
    batch : int, keyword-only
        B: trials proposed from the same history.

    Notes
    -----
    The proposal is deterministic only when the batches before k's have finished when it
    is made: :func:`run_worker` waits for them.
    """

    def __init__(self, space, *, kind: str = "tpe", seed: int = 0, batch: int = 1):
        if kind not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {kind!r}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.space, self.kind, self.seed, self.batch = space, kind, int(seed), int(batch)
        self._proposals: dict[int, dict] = {}

    def batch_start(self, trial_number: int) -> int:
        """The first trial number of the batch of ``trial_number``."""
        return trial_number - trial_number % self.batch

    def infer_relative_search_space(self, study, trial) -> dict:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict:
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        if trial.number not in self._proposals:
            self._proposals[trial.number] = self.propose(study, trial.number)
        return self._proposals[trial.number][param_name]

    def propose(self, study: optuna.Study, trial_number: int) -> dict:
        """Parameters of trial ``trial_number``: a sampler seeded for it, fitted to the
        finished trials numbered below its batch, in number order."""
        start = self.batch_start(trial_number)
        history = [t for t in study.get_trials(deepcopy=False, states=FINISHED) if t.number < start]
        optuna_log = logging.getLogger("optuna")
        level = optuna_log.level
        optuna_log.setLevel(logging.WARNING)  # not "A new study created in memory" per trial
        try:
            sampler = make_sampler(self.kind, trial_sampler_seed(self.seed, trial_number))
            view = optuna.create_study(sampler=sampler, direction=study.direction)
        finally:
            optuna_log.setLevel(level)
        view.add_trials(history)
        proposal = view.ask()
        self.space.suggest(proposal)
        return proposal.params


def run_worker(study: optuna.Study, objective: Callable, n_trials: int, *, worker: int = 0,
               total_trials: int | None = None) -> optuna.Study:
    """Run up to ``n_trials`` trials of ``objective`` in ``study``.

    Trials a killed worker left running are run again first (see the module docstring);
    then new ones, while the study holds fewer than ``total_trials`` trials that have not
    failed, counting every worker's. With a :class:`BatchSampler`, each trial waits for the
    batch before it to finish.
    """
    me = {"worker": int(worker), "host": socket.gethostname(), "pid": os.getpid()}
    batch = getattr(study.sampler, "batch", 1)
    ran = 0
    while ran < n_trials:
        trial = _next_trial(study, me, total_trials)
        if trial is None:
            break
        ran += _run_in_turn(study, objective, trial, batch, me)
    return study


def _next_trial(study, me, total_trials) -> optuna.Trial | None:
    """An abandoned trial, else a new one within the budget, tagged with ``me``; None when
    the budget is spent."""
    abandoned = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if _abandoned(t, me)]
    if abandoned:
        return _adopt(study, abandoned[0], me)
    if total_trials is not None and _allocated(study) >= total_trials:
        return None
    trial = study.ask()
    _tag(trial, me)
    if total_trials is not None and _allocated(study, below=trial.number) >= total_trials:
        trial.set_user_attr("surplus", True)  # another worker asked for the last trial first
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def _allocated(study, below: int | None = None) -> int:
    """Trials that have not failed (finished or running), numbered below ``below``."""
    return sum(t.state != TrialState.FAIL and (below is None or t.number < below)
               for t in study.get_trials(deepcopy=False))


def _run_in_turn(study, objective, trial, batch, me) -> int:
    """Run ``trial`` once every trial of the batches before it has finished, running the
    abandoned ones among them first; returns the number of trials run."""
    start = trial.number - trial.number % batch
    ran = 0
    while pending := [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                      if t.number < start]:
        abandoned = [t for t in pending if _abandoned(t, me)]
        if abandoned:
            ran += _run_in_turn(study, objective, _adopt(study, abandoned[0], me), batch, me)
        else:
            time.sleep(POLL)
    _run(study, objective, trial)
    return ran + 1


def _run(study, objective, trial) -> None:
    """Evaluate ``trial`` and tell the study (unless another worker already has)."""
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        told = study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
    except Exception:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    else:
        told = study.tell(trial, value, skip_if_finished=True)
    best = study.best_value if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) else None
    log.info("trial %d (%s): %s; best %s", told.number, told.state.name, told.value, best)


def _tag(trial, me) -> None:
    for key, value in me.items():
        trial.set_user_attr(key, value)


def _adopt(study, frozen, me) -> optuna.Trial:
    """The abandoned trial ``frozen``, tagged as this worker's, to be run again."""
    log.warning("worker %d: running trial %d again, left running by a killed worker (%s)", me["worker"],
                frozen.number, {k: frozen.user_attrs.get(k) for k in me})
    trial = optuna.Trial(study, frozen._trial_id)
    _tag(trial, me)
    return trial


def _abandoned(trial, me) -> bool:
    """Whether a RUNNING trial has no live process running it (as far as this host can tell)."""
    owner = trial.user_attrs
    if "worker" not in owner:
        return time.time() - trial.datetime_start.timestamp() > UNTAGGED_GRACE
    if (owner.get("host"), owner.get("pid")) == (me["host"], me["pid"]):
        return False
    if owner["worker"] == me["worker"]:
        return True  # an earlier run of this worker index
    return owner.get("host") == me["host"] and not _alive(owner.get("pid"))


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True
