"""Refinement of a design (microinv.design.refine) on a simulator with a known inverse."""

import numpy as np
import pytest

from microinv.design.abc import mape
from microinv.design.refine import refine_design

TARGET = np.array([0.40, 0.50, 0.60])
#: theta* of the toy below: its structure-averaged eta is TARGET exactly
THETA_STAR = np.array([0.2, 0.3, 0.5, 0.6])


def toy(theta, seeds):
    """eta_i = eps * a_i / (a_i + 0.1) * c_i + 0.05 z(seed): smooth in theta, noise from the seed alone
    (the c_i put theta* on the target; the noise has mean ~0 over the seeds)."""
    c = TARGET / (THETA_STAR[3] * THETA_STAR[:3] / (THETA_STAR[:3] + 0.1))
    z = np.array([np.random.default_rng(int(s)).standard_normal(3) for s in seeds])
    theta = np.asarray(theta)
    return theta[:, 3:] * theta[:, :3] / (theta[:, :3] + 0.1) * c + 0.05 * z


class Box:
    """A prior whose support is a box."""

    def logpdf(self, theta):
        theta = np.atleast_2d(theta)
        inside = np.all((theta > [0.01, 0.01, 0.01, 0.3]) & (theta < [2, 2, 2, 0.85]), axis=1)
        return np.where(inside, 0.0, -np.inf)


def test_refinement_puts_the_mean_on_the_target():
    start = THETA_STAR * [1.15, 0.9, 1.1, 0.95]
    result = refine_design(start, toy, TARGET, Box(), structures=32, evaluations=200, seed=3)
    assert result["improved"] and result["start_discrepancy"] > 5
    assert result["discrepancy"] < 0.2
    # what it minimised: the discrepancy of the mean over its structures
    assert mape(np.array(result["mean"]), TARGET) == pytest.approx(result["discrepancy"])
    assert result["evaluations"] <= 200
    # the noise averaged over 32 seeds (0.05 / sqrt(32) per axis) is small but not zero: the
    # noise-free eta at the refined theta is on the target to within it
    noise_free = toy(np.array([result["theta"]]), [0])[0] - 0.05 * np.random.default_rng(0).standard_normal(3)
    assert mape(noise_free, TARGET) < 3


def test_refinement_keeps_the_start_when_nothing_improves_and_stays_in_the_prior():
    at_edge = np.array([0.2, 0.3, 0.5, 0.849])  # the optimum lies beyond the prior's eps < 0.85
    result = refine_design(at_edge, lambda t, s: toy(t * [1, 1, 1, 0.5], s), TARGET, Box(), structures=8,
                           evaluations=40, seed=1)
    assert np.all(np.array(result["theta"])[3] < 0.85)
    kept = refine_design(THETA_STAR, toy, TARGET, Box(), structures=8, evaluations=1, seed=1)
    assert kept["theta"] == THETA_STAR.tolist() and not kept["improved"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="structures must be >= 2"):
        refine_design(THETA_STAR, toy, TARGET, Box(), structures=1, evaluations=5, seed=0)
