"""Goal-oriented process design: the Monte Carlo P(m in M_d | phi), its maximisation, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microinv.design.goal import (TargetBox, design_box, grid_points, initial_points, merge_grid, p_in_target,
                                  reference_grid, validate_design, wilson_interval)
from microinv.errors import InputError

#: Toy process: 4 x 4 structures, each voxel solid with probability phi1 / 10.
SIDE = 4
BOUNDS = [[1.0, 9.0], [0.2, 2.0]]
NAMES = ("phi1", "phi2")
#: m = (solid fraction of the first two rows, of the last two rows): 8 voxels each.
HALF_FULL = TargetBox("half-full", [[0.5, 1.0], [0.5, 1.0]])


def make(phi, seeds):
    return np.stack([(np.random.default_rng(int(s)).random((SIDE, SIDE)) < p[0] / 10).astype(np.uint8)
                     for p, s in zip(phi, seeds)])


def predict(structures):
    return np.stack([structures[:, :2].mean(axis=(1, 2)), structures[:, 2:].mean(axis=(1, 2))], axis=1)


def exact_p(q: float) -> float:
    """P(Binomial(8, q) >= 4)**2: both halves at least half solid."""
    half = sum(math.comb(8, j) * q**j * (1 - q) ** (8 - j) for j in range(4, 9))
    return half**2


def test_estimate_is_the_direct_count_and_converges_to_the_exact_probability():
    seeds = np.arange(4000, dtype=np.uint64)
    phi = np.array([4.0, 1.0])
    estimate = p_in_target(phi, [HALF_FULL], make=make, predict=predict, seeds=seeds)[0]
    count = 0
    for s in seeds:  # the direct count, structure by structure
        solid = make([phi], [s])[0]
        count += solid[:2].sum() >= 4 and solid[2:].sum() >= 4
    assert estimate == count / len(seeds)
    p = exact_p(0.4)  # 0.1976
    assert abs(estimate - p) < 3 * math.sqrt(p * (1 - p) / len(seeds))


def test_wilson_interval():
    low, high = wilson_interval(81, 100)
    assert (round(low, 4), round(high, 4)) == (0.7222, 0.8749)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(InputError, match="successes"):
        wilson_interval(3, 2)


def test_boxes_refuse_empty_intervals_and_wrong_axes():
    with pytest.raises(InputError, match="boxes.bad: must be intervals"):
        TargetBox("bad", [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InputError, match="box half-full has 2 axes"):
        HALF_FULL.contains(np.zeros((3, 3)))


def test_design_finds_the_best_phi_and_resumes_from_its_journal(tmp_path):
    journal = tmp_path / "study.journal"
    options = dict(bounds=BOUNDS, names=NAMES, make=make, predict=predict, structures=200, seed=3,
                   storage_path=journal)
    first = design_box(HALF_FULL, trials=20, **options)
    assert first["trials"] == 20 and first["evaluations"] == 20 * 200
    assert first["phi"][0] > 7.5  # p rises with phi1: 0.52 at phi1 = 5, 0.99 at 9
    resumed = design_box(HALF_FULL, trials=24, **options)
    assert resumed["trials"] == 24 and resumed["evaluations"] == 4 * 200
    assert resumed["p_estimate"] >= first["p_estimate"]


def test_reselection_picks_the_best_candidate_on_fresh_structures(tmp_path):
    """A noisy objective (K = 8 per trial) ranks trials by luck; K' = 2,000 fresh structures
    re-rank the top five by their true p, which rises with phi1."""
    options = dict(bounds=BOUNDS, names=NAMES, make=make, predict=predict, structures=8, seed=5,
                   storage_path=tmp_path / "study.journal")
    design = design_box(HALF_FULL, trials=16, reselect_top=5, reselect_structures=2000, **options)
    record = design["reselection"]
    candidates = record["candidates"]
    assert len(candidates) == 5 and len({tuple(c["phi"]) for c in candidates}) == 5
    assert [c["p_trials"] for c in candidates] == sorted((c["p_trials"] for c in candidates), reverse=True)
    best = max(candidates, key=lambda c: c["p_reselect"])
    assert design["phi"] == best["phi"] and design["p_estimate"] == best["p_reselect"]
    assert design["evaluations"] == 16 * 8 + 5 * 2000
    for c in candidates:  # the re-selection estimate is the exact p within 3 standard errors
        p = exact_p(c["phi"][0] / 10)
        assert abs(c["p_reselect"] - p) < 3 * math.sqrt(p * (1 - p) / 2000) + 1e-9
    top_phi1 = max(c["phi"][0] for c in candidates)
    assert exact_p(design["phi"][0] / 10) >= exact_p(top_phi1 / 10) - 0.03
    # the same study and seeds give the same choice: a resumed design re-selects identically
    again = design_box(HALF_FULL, trials=16, reselect_top=5, reselect_structures=2000, **options)
    assert again["reselection"] == record and again["evaluations"] == 5 * 2000


def test_study_starts_on_the_corners_and_a_new_predictor_starts_a_new_study(tmp_path):
    """The first trials are the space-filling grid (the 2 x 2 corners); the same journal with
    another predictor holds a second study, not a resumption of the first."""
    import optuna

    from microinv.data.journal import journal_storage

    journal = tmp_path / "study.journal"
    options = dict(bounds=BOUNDS, names=NAMES, make=make, predict=predict, structures=16, seed=3,
                   storage_path=journal, trials=6, initial_trials=4)
    first = design_box(HALF_FULL, predictor="toy", **options)
    study = optuna.load_study(study_name=first["study"], storage=journal_storage(journal))
    corners = [[t.params["phi1"], t.params["phi2"]] for t in study.trials[:4]]
    assert corners == [[1.0, 0.2], [1.0, 2.0], [9.0, 0.2], [9.0, 2.0]] == initial_points(BOUNDS, 4, 3).tolist()
    assert first["phi"][0] == 9.0  # p rises with phi1: a corner at phi1 = 9 is the best of six trials
    other = design_box(HALF_FULL, predictor="another toy", **options)
    assert other["study"] != first["study"] and other["evaluations"] == 6 * 16
    assert design_box(HALF_FULL, predictor="toy", **options)["evaluations"] == 0  # the first, resumed


def test_reselection_with_its_own_predictor(tmp_path):
    """The re-selection's estimates come from ``reselect_predict`` (the solver in a campaign),
    not from the search's predictor: here one that puts every structure in the box."""
    design = design_box(HALF_FULL, bounds=BOUNDS, names=NAMES, make=make, predict=predict, structures=8, seed=5,
                        storage_path=tmp_path / "study.journal", trials=8, reselect_top=3, reselect_structures=10,
                        reselect_predict=lambda structures: np.ones((len(structures), 2)))
    candidates = design["reselection"]["candidates"]
    assert [c["p_reselect"] for c in candidates] == [1.0, 1.0, 1.0]
    assert design["reselection"]["chosen"] == 0 and design["phi"] == candidates[0]["phi"]  # a tie: the best ranked


def test_reference_grid_and_validation(tmp_path):
    phi = grid_points(BOUNDS, 3)
    assert phi.tolist()[:4] == [[1.0, 0.2], [1.0, 1.1], [1.0, 2.0], [5.0, 0.2]]
    grid = reference_grid(BOUNDS, 3, 50, make=make, predict=predict, seed=1)
    assert grid["m"].shape == (9, 50, 2)
    one_at_a_time = reference_grid(BOUNDS, 3, 50, make=make, predict=predict, seed=1, batch=1)
    assert np.array_equal(one_at_a_time["m"], grid["m"])  # batches of grid points keep each point's seeds
    parts = {f"part {i}": reference_grid(BOUNDS, 3, 50, make=make, predict=predict, seed=1, cells=cells)
             for i, cells in enumerate([range(4, 9), range(0, 4)])}
    merged = merge_grid(parts, 9)  # the parts of a grid (any order) are the grid
    assert np.array_equal(merged["cells"], np.arange(9)) and np.array_equal(merged["phi"], phi)
    assert np.array_equal(merged["m"], grid["m"])
    hits = HALF_FULL.contains(grid["m"]).mean(axis=1)
    assert hits[:3].max() < 0.05 and hits[6:].min() > 0.9  # phi1 = 1, 9
    record = validate_design([7.0, 1.0], HALF_FULL, 0, count=2000, make=make, predict=predict, seed=1, grid=grid)
    assert record["phi_ref"][0] == 9.0 and record["p_ref"] == hits.max()
    p = exact_p(0.7)
    low, high = record["p_in_target_ci"]
    assert low < p < high and high - low < 0.05
    assert record["p_ref_validated"] == pytest.approx(exact_p(0.9), abs=0.02)
    assert record["ratio"] == pytest.approx(record["p_in_target"] / record["p_ref_validated"])
    assert record["ratio_ci"][0] < record["ratio"] < record["ratio_ci"][1]


def test_merge_grid_refuses_missing_and_repeated_points():
    parts = {name: reference_grid(BOUNDS, 2, 5, make=make, predict=predict, seed=1, cells=cells)
             for name, cells in (("a.h5", range(0, 2)), ("b.h5", range(1, 4)))}
    with pytest.raises(InputError, match="b.h5: grid point 1 is also in a.h5"):
        merge_grid(parts, 4)
    with pytest.raises(InputError, match="1 are in no part"):
        merge_grid({"a.h5": parts["a.h5"]} | {"c.h5": reference_grid(BOUNDS, 2, 5, make=make, predict=predict,
                                                                      seed=1, cells=range(3, 4))}, 4)
    with pytest.raises(InputError, match="beyond"):
        merge_grid({"b.h5": parts["b.h5"]}, 2)


def test_examples():
    import doctest

    from microinv.design import goal
    from microinv.physics import log_permeability

    for module in (goal, log_permeability):
        result = doctest.testmod(module, extraglobs={"np": np})
        assert result.attempted > 0 and result.failed == 0
