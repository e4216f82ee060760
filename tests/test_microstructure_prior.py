"""Prior of spinodoid parameters: sampling, exact density, seeded percolating samples."""

import numpy as np
import pytest

from microinv.microstructure.percolation import percolation_flags
from microinv.microstructure.prior import SpinodoidPrior, _attempt, sample_prior
from microinv.microstructure.spinodoid import spinodoid


def _box_proposal(prior, rng, size):
    """Uniform proposal on a box that contains the support; returns draws and log q."""
    top = prior.mean_bounds[1] * prior.max_ratio * prior.dim / (prior.dim - 1 + prior.max_ratio)
    e0, e1 = prior.eps_range
    theta = np.column_stack([rng.uniform(0, top, (size, prior.dim)), rng.uniform(e0, e1, size)])
    return theta, -prior.dim * np.log(top) - np.log(e1 - e0)


@pytest.mark.parametrize("dim, n", [(3, 192), (3, 64), (2, 100)])
def test_density_integrates_to_one(dim, n):
    prior = SpinodoidPrior(n=n, dim=dim)
    theta, logq = _box_proposal(prior, np.random.default_rng(1), 400_000)
    weights = np.exp(prior.logpdf(theta) - logq)
    assert weights.mean() == pytest.approx(1.0, abs=0.03)
    # and every sample drawn from the prior lies in the support
    assert np.isfinite(prior.logpdf(prior.sample(np.random.default_rng(2), 20_000))).all()


@pytest.mark.parametrize("dim", [3, 2])
def test_sampled_marginals_match_the_density(dim):
    """Histograms of prior draws match histograms of proposal draws weighted by p/q."""
    prior = SpinodoidPrior(n=96, dim=dim)
    drawn = prior.sample(np.random.default_rng(3), 200_000)
    proposed, logq = _box_proposal(prior, np.random.default_rng(4), 400_000)
    weights = np.exp(prior.logpdf(proposed) - logq)

    def statistics(theta):
        a = theta[:, :dim]
        return {"a_x": a[:, 0], "a_last": a[:, -1], "eps": theta[:, dim],
                "mean": a.mean(axis=1), "ratio": a.max(axis=1) / a.min(axis=1)}

    for name, values in statistics(drawn).items():
        other = statistics(proposed)[name]
        edges = np.quantile(values, np.linspace(0, 1, 11))
        expected = np.full(10, 0.1)             # deciles of the prior draws
        found = np.histogram(other, edges, weights=weights)[0] / weights.sum()
        np.testing.assert_allclose(found, expected, atol=0.012, err_msg=name)


def test_sample_respects_the_generative_model():
    prior = SpinodoidPrior(n=64)
    theta = prior.sample(np.random.default_rng(5), 30_000)
    a = np.sort(theta[:, :3], axis=1)
    lo, hi = prior.mean_bounds
    assert (lo, hi) == pytest.approx((0.15, 0.6))
    assert a.mean(axis=1).min() >= lo and a.mean(axis=1).max() <= hi
    assert (a[:, 2] / a[:, 0]).max() <= 3.0
    assert theta[:, 3].min() >= 0.30 and theta[:, 3].max() <= 0.85
    # beta = a_max / a_min is uniform on [1, 3]: its mean is 2
    assert np.mean(a[:, 2] / a[:, 0]) == pytest.approx(2.0, abs=0.02)
    # the longest length is on each axis a third of the time
    longest = np.bincount(np.argmax(theta[:, :3], axis=1), minlength=3) / len(theta)
    np.testing.assert_allclose(longest, 1 / 3, atol=0.015)


def test_logpdf_support_and_symmetry():
    prior = SpinodoidPrior(n=192)
    inside = np.array([0.1, 0.15, 0.2, 0.5])
    logp = prior.logpdf(inside)
    assert np.isfinite(logp) and logp.shape == ()
    # closed form at this point: m = 0.15, beta = 2, v1 = 0.1
    expected = np.log(1 / 6 / 0.15 / 2 / (2 - 1) * 0.15 / 0.1**3 / 0.55)
    assert logp == pytest.approx(expected)
    for perm in ([2, 0, 1], [1, 2, 0], [0, 2, 1]):
        assert prior.logpdf(np.r_[inside[perm], 0.5]) == pytest.approx(logp)
    outside = [[0.1, 0.15, 0.35, 0.5],        # ratio 3.5 > 3
               [0.01, 0.01, 0.01, 0.5],       # mean below 0.05
               [0.1, 0.15, 0.2, 0.9],         # eps above 0.85
               [-0.1, 0.15, 0.2, 0.5]]        # negative length
    assert np.all(prior.logpdf(outside) == -np.inf)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        prior.logpdf([0.1, 0.2, 0.5])


def test_bad_prior_settings_name_the_value():
    with pytest.raises(ValueError, match="got 1.0"):
        SpinodoidPrior(max_ratio=1.0)
    with pytest.raises(ValueError, match=r"got \(0.5, 1.2\)"):
        SpinodoidPrior(eps_range=(0.5, 1.2))
    with pytest.raises(ValueError, match="dim must be 2 or 3, got 1"):
        SpinodoidPrior(dim=1)


def test_sample_i_is_regenerated_alone_bit_for_bit():
    sequence = np.random.SeedSequence(20240611)
    batch = sample_prior(5, n=32, seed_sequence=sequence, start_index=10)
    assert batch.index.tolist() == [10, 11, 12, 13, 14]
    assert batch.seed.dtype == np.uint64 and batch.theta.shape == (5, 4)
    for k in (0, 3):
        alone = sample_prior(1, n=32, seed_sequence=np.random.SeedSequence(20240611),
                             start_index=10 + k)
        assert alone.theta[0].tobytes() == batch.theta[k].tobytes()
        assert alone.seed[0] == batch.seed[k]
        assert alone.attempts[0] == batch.attempts[k]
    # the seed sequence is identified by its entropy (an int is accepted as well)
    again = sample_prior(5, n=32, seed_sequence=20240611, start_index=10)
    assert again.theta.tobytes() == batch.theta.tobytes()
    other = sample_prior(5, n=32, seed_sequence=sequence.spawn(1)[0], start_index=10)
    assert not np.array_equal(other.seed, batch.seed)


def test_rejections_are_recorded_and_accepted_structures_percolate():
    sequence = np.random.SeedSequence(7)
    sample = sample_prior(12, n=32, seed_sequence=sequence)   # small n: ~30 % accepted
    assert sample.attempts.min() >= 1 and sample.attempts.max() > 1
    assert sample.acceptance_rate == pytest.approx(12 / sample.attempts.sum())
    prior = SpinodoidPrior(n=32)
    i = int(np.argmax(sample.attempts))
    for j in range(sample.attempts[i]):
        theta, seed = _attempt(sequence, i, j, prior)
        flags = percolation_flags(spinodoid(theta, 32, seed))
        assert flags.all() == (j == sample.attempts[i] - 1)
    assert theta.tobytes() == sample.theta[i].tobytes() and seed == sample.seed[i]
    with pytest.raises(RuntimeError, match=f"sample {i}: no structure .* in 1 prior draws"):
        sample_prior(1, n=32, seed_sequence=sequence, start_index=i, max_attempts=1)


def test_two_dimensional_samples_have_a_percolating_pore_phase():
    sample = sample_prior(6, n=33, seed_sequence=3, dim=2)
    assert sample.theta.shape == (6, 3)
    for theta, seed in zip(sample.theta, sample.seed):
        solid = spinodoid(theta, 33, seed, dim=2)
        assert percolation_flags(solid)[0].all()
