"""Bayesian optimisation: a journal study shared by workers and surviving restarts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from conftest import run_cli
from microinv.design.abc import mape
from microinv.design.bo import BoxSpace, DiscrepancyObjective, SpinodoidSpace, best_design, load_study, trial_seeds
from microinv.design.bo_workers import BatchSampler, run_worker
from microinv.design.priors import UniformPrior
from microinv.mpi_env import launcher_environment

optuna.logging.set_verbosity(optuna.logging.WARNING)

TARGET = np.array([0.4, 0.2])


def toy_simulator(theta, seeds):
    """(u, u v) with 1 % noise from each structure seed."""
    noise = np.array([np.random.default_rng(int(s)).standard_normal(2) for s in seeds])
    return np.column_stack([theta[:, 0], theta[:, 0] * theta[:, 1]]) * (1 + 0.01 * noise)


TOY_SPACE = BoxSpace([[0.1, 0.9], [0.1, 0.9]], ["u", "v"])


def toy_objective(**kw):
    return DiscrepancyObjective(toy_simulator, TARGET, TOY_SPACE, structures_per_trial=4, seed=3, **kw)


def toy_study(journal, name, *, seed=0, batch=1):
    """The study ``name`` of ``journal``, proposing from the toy space in batches."""
    return load_study(journal, name, sampler=BatchSampler(TOY_SPACE, seed=seed, batch=batch))


def test_objective_is_the_mean_discrepancy_of_the_trials_structures():
    trial = optuna.trial.FixedTrial({"u": 0.5, "v": 0.3}, number=17)
    value = toy_objective()(trial)
    seeds = trial_seeds(3, 17, 4)
    expected = mape(toy_simulator(np.array([[0.5, 0.3]] * 4), seeds), TARGET).mean()
    assert value == pytest.approx(expected)
    assert trial.user_attrs["seeds"] == [str(s) for s in seeds]
    assert len(set(trial_seeds(3, 18, 4)) | set(seeds)) == 8  # fresh seeds per trial


def test_trials_outside_the_prior_are_pruned_without_simulating():
    calls = []
    objective = toy_objective(prior=UniformPrior([0.1, 0.1], [0.9, 0.5]))
    objective.simulate = lambda theta, seeds: calls.append(1)
    with pytest.raises(optuna.TrialPruned):
        objective(optuna.trial.FixedTrial({"u": 0.5, "v": 0.7}))
    assert not calls


def test_spinodoid_space_covers_the_prior_support():
    from microinv.microstructure import SpinodoidPrior

    prior = SpinodoidPrior(n=64)
    space = SpinodoidSpace(prior)
    rng = np.random.default_rng(0)
    draws = rng.uniform(space.bounds[:, 0], space.bounds[:, 1], size=(2000, 4))
    theta = np.array([space.suggest(optuna.trial.FixedTrial(dict(zip(space.names, d)))) for d in draws])
    assert np.allclose(theta[:, :3].mean(axis=1), draws[:, 0])  # the mean length is m
    inside = np.isfinite(prior.logpdf(theta))
    assert inside.mean() == pytest.approx(0.75, abs=0.03)  # the hexagon in the (u_y, u_z) square
    # and every prior draw has a preimage: its ratios lie in the square
    sample = prior.sample(rng, 1000)
    ratios = np.log(sample[:, 1:3] / sample[:, :1])
    assert np.all(np.abs(ratios) <= np.log(prior.max_ratio) + 1e-12)


def test_study_survives_a_restart_and_continues_numbering(tmp_path):
    journal = tmp_path / "study.journal"
    first = toy_study(journal, "t", seed=1)
    run_worker(first, toy_objective(), 5)
    del first
    again = toy_study(journal, "t", seed=1)  # new storage object, as after a restart
    assert len(again.trials) == 5
    run_worker(again, toy_objective(), 4)
    numbers = [t.number for t in load_study(journal, "t").trials]
    assert numbers == list(range(9))
    assert best_design(again)["trials"]["complete"] == 9


def test_figures_command_draws_the_optimisation_history(tmp_path):
    journal = tmp_path / "study.journal"
    run_worker(toy_study(journal, "design"), toy_objective(), 4)
    run_worker(toy_study(journal, "design"), toy_objective(), 4, worker=1)
    run_cli("figures", journal, "-o", tmp_path / "figs", check=True)
    assert (tmp_path / "figs" / "bo-history.png").stat().st_size > 10_000
    missing = run_cli("figures", tmp_path / "none.journal", "-o", tmp_path / "figs")
    assert missing.returncode == 2 and "none.journal: no such study journal" in missing.stderr
    other = run_cli("figures", journal, "--study-name", "other", "-o", tmp_path / "figs")
    assert other.returncode == 2 and "no study named 'other'" in other.stderr


def test_total_trials_counts_every_workers_trials(tmp_path):
    journal = tmp_path / "study.journal"
    run_worker(toy_study(journal, "t"), toy_objective(), 6)
    study = run_worker(toy_study(journal, "t"), toy_objective(), 50, worker=1, total_trials=10)
    assert len(study.trials) == 10
    # a restarted worker of a finished study runs none
    assert len(run_worker(toy_study(journal, "t"), toy_objective(), 5, total_trials=10).trials) == 10


def test_a_restarted_worker_runs_again_the_trial_its_killed_run_left_running(tmp_path):
    journal = tmp_path / "study.journal"
    study = toy_study(journal, "t")
    for worker, host in ((3, "elsewhere"), (4, "elsewhere")):
        trial = study.ask()  # as run_worker tags it; then the job is killed
        for key, value in {"worker": worker, "host": host, "pid": 1}.items():
            trial.set_user_attr(key, value)
    run_worker(toy_study(journal, "t"), toy_objective(), 1, worker=3)
    trials = toy_study(journal, "t").trials
    assert [(t.number, t.user_attrs["worker"], t.state) for t in trials] == \
        [(0, 3, TrialState.COMPLETE), (1, 4, TrialState.RUNNING)]  # worker 4's may still run there
    # the same number, so the same parameters and structure seeds as had it not been killed
    reference = toy_study(tmp_path / "reference.journal", "t")
    run_worker(reference, toy_objective(), 1)
    assert trials[0].params == reference.trials[0].params and trials[0].value == reference.trials[0].value


WORKER = """
import sys, optuna, numpy as np
sys.path.insert(0, {tests!r})
from test_design_bo import toy_objective
from test_design_bo import toy_study
from microinv.design.bo_workers import run_worker
optuna.logging.set_verbosity(optuna.logging.WARNING)
worker = int(sys.argv[1])
run_worker(toy_study({journal!r}, "shared", seed=5, batch=2), toy_objective(), 8, worker=worker)
"""


def two_workers(journal):
    """Two worker processes of one study, 8 trials each, at once; the study's trials."""
    script = journal.parent / "worker.py"
    script.write_text(textwrap.dedent(WORKER.format(tests=str(Path(__file__).parent),
                                                    journal=str(journal))))
    procs = [subprocess.Popen([sys.executable, str(script), str(w)], stderr=subprocess.PIPE, text=True,
                              env=launcher_environment())
             for w in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return load_study(journal, "shared").trials


def test_two_worker_processes_share_one_journal(tmp_path):
    trials = two_workers(tmp_path / "study.journal")
    assert sorted(t.number for t in trials) == list(range(16))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    by_worker = {w: [t for t in trials if t.user_attrs["worker"] == w] for w in (0, 1)}
    assert len(by_worker[0]) == len(by_worker[1]) == 8
    assert by_worker[0][0].user_attrs["pid"] != by_worker[1][0].user_attrs["pid"]
    # seeded per worker: the two workers did not propose the same points
    assert by_worker[0][0].params != by_worker[1][0].params


def test_tpe_finds_the_optimum_of_a_toy_problem(tmp_path):
    study = run_worker(toy_study(tmp_path / "j", "t", seed=2), toy_objective(), 80)
    best = best_design(study)
    assert best["value"] < 5
    assert np.allclose(best["theta"], [0.4, 0.5], rtol=0.1)


def test_concurrent_workers_give_the_trials_of_one_worker(tmp_path):
    """Reproducible: two runs of two concurrent worker processes, and one worker alone with
    the same batch size, hold the same trials (parameters, structure seeds, values)."""
    def outcome(trials):
        return {t.number: (t.params, t.user_attrs["seeds"], t.value) for t in trials}

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = two_workers(tmp_path / "a" / "study.journal"), two_workers(tmp_path / "b" / "study.journal")
    alone = run_worker(toy_study(tmp_path / "alone.journal", "shared", seed=5, batch=2), toy_objective(), 16)
    assert outcome(first) == outcome(second) == outcome(alone.trials)
    assert len(outcome(first)) == 16
