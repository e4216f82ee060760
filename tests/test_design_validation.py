"""Validation statistics of a design, upscaling, and the design figures."""

from __future__ import annotations

import numpy as np
import pytest

from microinv.design.abc import abc_pmc
from microinv.design.priors import UniformPrior
from microinv.design.validation import coarsen, summarise, upscaled_theta
from microinv.figures import design as plots

TARGET = [0.4, 0.5, 0.6]


def test_summary_statistics():
    solver = np.array([[0.40, 0.50, 0.60], [0.41, 0.56, 0.60], [0.37, 0.49, 0.50], [np.nan, 0.5, 0.6]])
    record = summarise(solver, TARGET, tolerance=0.05, eta_surrogate=solver * 1.1,
                       sample_index=[10, 11, 12, 13], seeds=[1, 2, 3, 4])
    assert record["structures"] == 4 and record["solved"] == 3  # the NaN row is left out
    s = record
    assert np.allclose(s["mean"], [1.18 / 3, 1.55 / 3, 1.7 / 3])
    assert np.allclose(s["std"], np.std(solver[:3], axis=0, ddof=1))
    # outside 5 %: x 0.37 (7.5 %), y 0.56 (12 %), z 0.50 (16.7 %)
    assert s["hit_fraction_axes"] == pytest.approx({"x": 2 / 3, "y": 2 / 3, "z": 2 / 3})
    assert s["hit_fraction"] == pytest.approx(1 / 3)
    assert [p["rho"] for p in s["per_structure"][:3]] == pytest.approx(
        [0, 100 * (0.025 + 0.12) / 3, 100 * (0.075 + 0.02 + 1 / 6) / 3])
    assert s["discrepancy_of_mean"] == pytest.approx(100 * np.mean(np.abs(np.array(s["mean"]) / TARGET - 1)))
    assert record["surrogate"]["mape_percent"] == pytest.approx([10, 10, 10])
    assert record["surrogate"]["mean"] == pytest.approx(1.1 * np.array(s["mean"]))
    last = record["per_structure"][3]
    assert last["rho"] is None and last["index"] == 13 and last["seed"] == 4
    assert record["per_structure"][1]["surrogate"] == pytest.approx([0.451, 0.616, 0.66])


def test_summary_refuses_a_validation_without_any_solve():
    with pytest.raises(ValueError, match="no structure"):
        summarise(np.full((2, 3), np.nan), TARGET, tolerance=0.05)


def test_upscaling_divides_the_lengths_and_keeps_the_porosity():
    assert np.allclose(upscaled_theta([[0.3, 0.6, 0.9, 0.5]], 3), [[0.1, 0.2, 0.3, 0.5]])


def test_coarsening_keeps_the_porosity_and_inverts_block_refinement():
    rng = np.random.default_rng(0)
    coarse = (rng.uniform(size=(8, 8, 8)) < 0.6).astype(np.uint8)
    fine = coarse.repeat(3, 0).repeat(3, 1).repeat(3, 2)
    assert np.array_equal(coarsen(fine, 3), coarse)
    noisy = fine.copy()
    noisy[::5, ::7, ::3] ^= 1
    assert (coarsen(noisy, 3) == 0).sum() == round((noisy == 0).mean() * 8**3)


def test_figures_are_written(tmp_path):
    def simulate(theta, seeds):
        return np.column_stack([theta, theta.sum(axis=1)]) * (1 + 0.02 * np.random.default_rng(int(seeds[0])).standard_normal((len(theta), 1)))

    result = abc_pmc([0.3, 0.5, 0.8], simulate, UniformPrior([0, 0], [1, 1]), 50, [60, 20, 8], seed=0, batch_size=64)
    plots.posterior_marginals(result.generations, ["u", "v"], tmp_path / "marginals.png")
    plots.acceptance_rates(result.generations, tmp_path / "acceptance.png")
    solver = np.array([[0.41, 0.5, 0.62], [0.39, 0.52, 0.58], [0.4, 0.49, 0.61]])
    plots.validation_histograms(solver, TARGET, 0.05, tmp_path / "hist.png")
    plots.surrogate_vs_solver(solver, solver * 1.05, tmp_path / "scatter.png")
    import matplotlib.image

    for name in ("marginals", "acceptance", "hist", "scatter"):
        image = matplotlib.image.imread(tmp_path / f"{name}.png")
        assert image.shape[0] > 200 and image.std() > 0  # a drawn picture, not a blank canvas
