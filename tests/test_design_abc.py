"""ABC-PMC: kernel and weights, concentration, resume, and agreement with pyABC."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy import stats

from microinv.design.abc import ABCPMC, abc_pmc, mape, reference_tolerances, weighted_quantile
from microinv.design.history import PosteriorHistory
from microinv.design.priors import UniformPrior
from microinv.design.transition import MultivariateNormalTransition
from microinv.errors import InputError

TRUE_THETA = np.array([0.4, 0.7])
PRIOR = UniformPrior([0.1, 0.1], [1.0, 1.0])


def toy_simulator(theta, seeds):
    """Deterministic (u, v, u v) with 1 % multiplicative noise drawn from each seed."""
    theta = np.atleast_2d(theta)
    noise = np.array([np.random.default_rng(int(s)).standard_normal(3) for s in seeds])
    clean = np.column_stack([theta[:, 0], theta[:, 1], theta[:, 0] * theta[:, 1]])
    return clean * (1 + 0.01 * noise)


TARGET = np.array([0.4, 0.7, 0.28])  # the noise-free output at TRUE_THETA


class Killed(Exception):
    pass


class CountingSimulator:
    """The toy simulator, counting its calls and raising Killed at call ``kill_at``."""

    def __init__(self, kill_at=None):
        self.calls, self.kill_at = 0, kill_at

    def __call__(self, theta, seeds):
        self.calls += 1
        if self.calls == self.kill_at:
            raise Killed
        return toy_simulator(theta, seeds)


def run_toy(path=None, *, simulate=toy_simulator, tolerances=(100, 40, 15, 6, 3), seed=7, **kw):
    kw.setdefault("batch_size", 100)
    return abc_pmc(TARGET, simulate, PRIOR, 120, list(tolerances), seed=seed, history_path=path, **kw)


def test_mape_is_mean_absolute_percentage_error():
    assert mape(np.array([[0.44, 0.45, 0.6]]), np.array([0.4, 0.5, 0.6]))[0] == pytest.approx(100 * 0.2 / 3)


def test_reference_schedule_is_nine_log_spaced_tolerances():
    tol = reference_tolerances()
    assert len(tol) == 9 and tol[0] == 100 and tol[-1] == pytest.approx(1)
    assert np.allclose(np.diff(np.log(tol)), np.log(0.01) / 8)


def test_kernel_covariance_is_twice_the_weighted_covariance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)) * [1, 2, 0.5]
    w = rng.uniform(size=50)
    kernel = MultivariateNormalTransition(scaling=2).fit(x, w)
    mean = w @ x / w.sum()
    wn = w / w.sum()
    expected = 2 * ((x - mean).T * wn) @ (x - mean) / (1 - np.sum(wn**2))
    assert np.allclose(kernel.cov, expected, rtol=1e-6)
    assert np.all(np.linalg.eigvalsh(kernel.cov) > 0)


@pytest.mark.parametrize("particles", [np.ones((10, 2)), np.array([[0.2, 0.3], [0.4, 0.3], [0.6, 0.3]])])
def test_kernel_stays_positive_definite_for_collapsed_populations(particles):
    kernel = MultivariateNormalTransition().fit(particles, np.ones(len(particles)))
    assert np.all(np.linalg.eigvalsh(kernel.cov) > 0)
    assert np.all(np.isfinite(kernel.logpdf(particles)))


def test_kernel_density_is_the_weighted_gaussian_mixture():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(20, 2)), rng.uniform(size=20)
    kernel = MultivariateNormalTransition().fit(x, w)
    y = rng.normal(size=(5, 2))
    mixture = [np.sum(w / w.sum() * stats.multivariate_normal(mean=None, cov=kernel.cov).pdf(yi - x)) for yi in y]
    assert np.allclose(np.exp(kernel.logpdf(y)), mixture, rtol=1e-10)


def test_importance_weights_are_prior_over_proposal_density_normalised():
    engine = ABCPMC(toy_simulator, PRIOR)
    rng = np.random.default_rng(3)
    x, w = rng.uniform(0.3, 0.8, size=(30, 2)), rng.uniform(size=30)
    engine.transition.fit(x, w)
    theta = np.vstack([rng.uniform(0.3, 0.8, size=(9, 2)), [[0.05, 0.5]]])  # last one outside
    weights = engine.importance_weights(theta, t=1)
    proposal = np.exp(engine.transition.logpdf(theta))
    expected = np.exp(PRIOR.logpdf(theta)) / proposal
    assert weights.sum() == pytest.approx(1) and weights[-1] == 0
    assert np.allclose(weights, expected / expected.sum())


def test_weighted_quantile():
    values = np.array([3.0, 1.0, 2.0, 5.0])
    assert np.allclose(weighted_quantile(values, np.ones(4), [0.2, 0.5, 0.9]),
                       np.quantile(values, [0.2, 0.5, 0.9], method="hazen"))
    # importance weights 2x turn U(0, 1) draws into the density 2x, whose quantile is sqrt(q)
    x = np.random.default_rng(0).uniform(size=20000)
    q = np.array([0.025, 0.5, 0.975])
    assert np.allclose(weighted_quantile(x, 2 * x, q), np.sqrt(q), atol=0.01)


def test_abc_concentrates_on_the_true_theta():
    result = run_toy(tolerances=(100, 40, 15, 6, 3, 1.5))
    for g in result.generations:
        assert g.weights.sum() == pytest.approx(1) and np.all(g.weights > 0)
        assert np.all(g.distances <= g.tolerance)
        assert g.acceptance_rate == pytest.approx(120 / g.trials)
        assert g.evaluations >= g.trials
        assert np.all(np.isfinite(PRIOR.logpdf(g.particles)))
    assert result.complete and len(result.generations) == 6
    assert np.allclose(result.mean(), TRUE_THETA, rtol=0.015)
    assert np.all(result.std() < 0.03 * (PRIOR.high - PRIOR.low))
    lo, hi = result.credible_interval(0.95).T
    assert np.all((lo < TRUE_THETA) & (TRUE_THETA < hi))
    # the tolerance shrinks the posterior generation by generation
    spread = [np.sqrt(np.sum(g.weights @ (g.particles - g.weights @ g.particles) ** 2)) for g in result.generations]
    assert spread[-1] < spread[2] < spread[0]


def test_same_seed_same_particles_other_seed_other_particles():
    a, b, c = run_toy(tolerances=(100, 30)), run_toy(tolerances=(100, 30)), run_toy(tolerances=(100, 30), seed=8)
    assert np.array_equal(a.particles, b.particles) and np.array_equal(a.posterior.seeds, b.posterior.seeds)
    assert not np.array_equal(a.particles, c.particles)


def test_history_file_holds_every_generation(tmp_path):
    path = tmp_path / "posterior.h5"
    result = run_toy(path, tolerances=(100, 40, 15), provenance={"command": "test"})
    with h5py.File(path) as f:
        assert f.attrs["format"] == "microinv.posterior/1"
        assert f.attrs["provenance.command"] == '"test"'
        assert sorted(f) == ["generation-0000", "generation-0001", "generation-0002"]
        g = f["generation-0002"]
        assert g["particles"].shape == (120, 2) and g["seeds"].dtype == np.uint64
        assert g["eta"].shape == (120, 3)
        assert g.attrs["tolerance"] == 15 and g.attrs["trials"] == result.posterior.trials
    assert [p.name for p in tmp_path.iterdir()] == ["posterior.h5"]  # no temporary file left
    again = PosteriorHistory(path).generations[-1]
    assert np.array_equal(again.particles, result.particles) and np.array_equal(again.seeds, result.posterior.seeds)
    # each seed reproduces its particle's simulated properties
    assert np.allclose(toy_simulator(again.particles[:3], again.seeds[:3]), again.eta[:3])


def test_resume_after_a_kill_continues_from_the_last_generation(tmp_path):
    full = CountingSimulator()
    reference = run_toy(tmp_path / "full.h5", simulate=full)
    calls_per_gen = [g.evaluations // 100 for g in reference.generations]
    killed_in = 3  # the kill hits the second batch of generation 3
    kill_at = sum(calls_per_gen[:killed_in]) + 2
    assert calls_per_gen[killed_in] >= 2
    path = tmp_path / "posterior.h5"
    with pytest.raises(Killed):
        run_toy(path, simulate=CountingSimulator(kill_at=kill_at))
    assert len(PosteriorHistory(path).generations) == killed_in
    again = CountingSimulator()
    resumed = run_toy(path, simulate=again)
    assert resumed.resumed_from == killed_in
    assert again.calls == sum(calls_per_gen[killed_in:])  # finished generations are not redone
    for a, b in zip(resumed.generations, reference.generations):
        assert np.array_equal(a.particles, b.particles) and np.array_equal(a.weights, b.weights)
        assert np.array_equal(a.seeds, b.seeds) and a.trials == b.trials


def test_resume_may_extend_the_schedule_but_not_change_it(tmp_path):
    path = tmp_path / "posterior.h5"
    run_toy(path, tolerances=(100, 40))
    longer = run_toy(path, tolerances=(100, 40, 15))
    assert longer.resumed_from == 2 and len(longer.generations) == 3
    assert np.array_equal(longer.particles, run_toy(tolerances=(100, 40, 15)).particles)
    with pytest.raises(InputError, match="tolerances"):
        run_toy(path, tolerances=(100, 50, 15, 6))
    with pytest.raises(InputError, match="seed"):
        run_toy(path, tolerances=(100, 40, 15, 6), seed=99)


def test_max_trials_stops_with_the_finished_generations(tmp_path):
    result = run_toy(tmp_path / "p.h5", tolerances=(100, 40, 1e-6), max_trials=1000)
    assert not result.complete and len(result.generations) == 2
    assert len(PosteriorHistory(tmp_path / "p.h5").generations) == 2


def test_failed_simulations_count_as_rejections():
    def flaky(theta, seeds):
        eta = toy_simulator(theta, seeds)
        eta[::2] = np.nan
        return eta

    result = run_toy(simulate=flaky, tolerances=(100, 40))
    assert np.all(np.isfinite(result.posterior.eta))
    assert result.generations[0].acceptance_rate < 0.6


def test_posterior_agrees_with_pyabc(tmp_path):
    """Gaussian mean with known variance: microinv and pyABC's ABCSMC (same prior, 2x
    weighted covariance kernel, tolerance list and population) give the same posterior
    mean and std within Monte Carlo error, both those of the exact ABC posterior."""
    pyabc = pytest.importorskip("pyabc")
    from pyabc.sampler import SingleCoreSampler

    x0, sigma, population, tolerances = np.array([2.0, 3.0]), 0.5, 200, [100, 40, 20]

    def simulate(theta, seeds):
        return theta + sigma * np.array([np.random.default_rng(int(s)).standard_normal(2) for s in seeds])

    ours = abc_pmc(x0, simulate, UniformPrior([-5, -5], [5, 5]), population, tolerances, seed=11,
                   batch_size=200)

    np.random.seed(11)
    prior = pyabc.Distribution(a=pyabc.RV("uniform", -5, 10), b=pyabc.RV("uniform", -5, 10))
    abc = pyabc.ABCSMC(
        lambda p: {"y": np.array([p["a"], p["b"]]) + sigma * np.random.standard_normal(2)},
        prior, lambda x, y: float(mape(x["y"], y["y"])), population_size=population,
        # pyABC's kernel covariance is bandwidth^2 * scaling * weighted covariance
        transitions=pyabc.MultivariateNormalTransition(scaling=2, bandwidth_selector=lambda n, d: 1.0),
        eps=pyabc.epsilon.ListEpsilon(tolerances), sampler=SingleCoreSampler())
    abc.new(f"sqlite:///{tmp_path / 'pyabc.db'}", {"y": x0})
    history = abc.run(max_nr_populations=len(tolerances))
    frame, w = history.get_distribution(t=history.max_t)
    x = frame[["a", "b"]].to_numpy()
    theirs_mean = w @ x
    theirs_std = np.sqrt(w @ (x - theirs_mean) ** 2)
    theirs_ess = 1 / np.sum(w**2)

    ess = ours.posterior.ess
    mean_err = np.sqrt(ours.std() ** 2 / ess + theirs_std**2 / theirs_ess)
    std_err = np.sqrt(ours.std() ** 2 / (2 * ess) + theirs_std**2 / (2 * theirs_ess))
    assert np.all(np.abs(ours.mean() - theirs_mean) < 4 * mean_err)
    assert np.all(np.abs(ours.std() - theirs_std) < 4 * std_err)
    # Both near the exact ABC posterior: theta - x0 is the Gaussian noise plus a uniform
    # draw from the acceptance region |d_a| / 2 + |d_b| / 3 <= 2 tau, a rhombus with
    # half-diagonals A_i = 2 tau x0_i, whose marginal variance is A_i^2 / 6.
    half = 2 * x0 * tolerances[-1] / 100
    exact_std = np.sqrt(sigma**2 + half**2 / 6)
    for mean, std, n_eff in ((ours.mean(), ours.std(), ess), (theirs_mean, theirs_std, theirs_ess)):
        assert np.all(np.abs(mean - x0) < 4 * exact_std / np.sqrt(n_eff))
        assert np.all(np.abs(std / exact_std - 1) < 4 / np.sqrt(2 * n_eff))
    assert history.max_t == len(tolerances) - 1
