"""The answer is the solver's: validation statistics with their standard errors, the ABC
reference schedule and design candidate, and the validated answer of real solves."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from conftest import BIN, run_cli
from microinv import config as campaign_config
from microinv.design.abc import ABCResult, reference_tolerances, tolerance_schedule
from microinv.design.candidates import screen_candidates
from microinv.design.history import Generation, PosteriorHistory
from microinv.design.validation import summarise
from microinv.errors import InputError
from microinv.figures.answer import _design_cells, design_answer
from microinv.mpi_env import launcher_environment
from test_design_commands import TARGET, cli, untrained_surrogate

T = np.array([0.4, 0.5, 0.6])


def test_summarise_gives_mean_sem_miss_and_hits_of_a_known_sample():
    # K = 4 structures on target in y and z, x 10 % above its target in the mean with
    # steps of (-2, -1, +1, +2) % of it: s_x = 1 % T_x sqrt(10/3)
    eta = np.tile(T, (4, 1))
    eta[:, 0] = T[0] * (1.1 + 0.01 * np.array([-2.0, -1.0, 1.0, 2.0]))
    record = summarise(eta, T, tolerance=0.05, eta_surrogate=eta * [1.02, 0.99, 1.0])
    assert record["mean"] == pytest.approx(T * [1.1, 1, 1])
    assert record["sem"] == pytest.approx([0.01 * T[0] * np.sqrt(10 / 3) / 2, 0, 0])
    assert record["discrepancy_of_mean"] == pytest.approx(100 * 0.1 / 3)
    # x is 8-12 % off everywhere: no structure hits on all axes; y and z always hit
    assert record["hit_fraction"] == 0 and record["hit_fraction_axes"] == {"x": 0, "y": 1, "z": 1}
    assert record["surrogate"]["mape_percent"] == pytest.approx([2, 1, 0])
    # away from the kink of |.|, rho(mean) is linear in the mean of x: the bootstrap's
    # standard error is 100/3 sigma_x / (sqrt(K) T_x), sigma_x the plug-in (ddof 0) std
    plug_in = 100 / 3 * record["sem"][0] * np.sqrt(3 / 4) / T[0]
    assert record["discrepancy_of_mean_sem"] == pytest.approx(plug_in, rel=0.05)
    assert record["expected_discrepancy"] == pytest.approx(np.mean(
        100 * np.mean(np.abs(eta - T) / T, axis=1)))


def test_summarise_hit_fraction_and_its_standard_error():
    eta = np.tile(T, (10, 1))
    eta[:3, 2] *= 1.06  # three structures 6 % off in z
    record = summarise(eta, T, tolerance=0.05)
    assert record["hit_fraction"] == pytest.approx(0.7)
    assert record["hit_fraction_sem"] == pytest.approx(np.sqrt(0.7 * 0.3 / 10))
    assert record["surrogate"] is None
    assert summarise(eta, T, tolerance=0.07)["hit_fraction"] == 1


def test_the_reference_schedule_is_a_config_value_and_an_option(tmp_path):
    assert tolerance_schedule("reference") == reference_tolerances()
    assert len(reference_tolerances()) == 9
    cfg = campaign_config.resolve({"design": {"tolerances": "reference"}}, source="test")
    assert cfg["design"]["tolerances"] == "reference" and cfg["design"]["validation_count"] == 32
    with pytest.raises(InputError, match="design.tolerances"):
        campaign_config.resolve({"design": {"tolerances": "fine"}}, source="test")
    surrogate = untrained_surrogate(tmp_path / "model.ckpt")
    out = tmp_path / "design"
    # an untrained surrogate never reaches 1 %: the run stops early, the schedule is recorded
    assert cli("design", "abc", "--surrogate", surrogate, "--target", *TARGET, "-o", out, "--population", 8,
               "--tolerances", "reference", "--max-trials", 64, "--batch-size", 32, "--validation-count", 1,
               "--no-percolation", "--candidates", 2, "--candidate-structures", 2) == 0
    assert PosteriorHistory(out / "posterior.h5").settings["tolerances"] == reference_tolerances()
    with pytest.raises(InputError, match="--tolerances"):
        cli("design", "abc", "--surrogate", surrogate, "--target", *TARGET, "-o", tmp_path / "other",
            "--tolerances", "reference", "10")


def two_mode_posterior(target) -> ABCResult:
    """Particles at +-sqrt(target) (two modes of eta = theta^2): the posterior mean, near 0,
    is the worst design."""
    rng = np.random.default_rng(3)
    root = np.sqrt(target)
    particles = np.vstack([root, -root] * 10) * (1 + 0.01 * rng.standard_normal((20, 3)))
    generation = Generation(index=2, particles=particles, weights=np.full(20, 0.05), distances=np.zeros(20),
                            seeds=np.arange(20, dtype=np.uint64), eta=particles**2, tolerance=5.0, trials=20,
                            evaluations=20, acceptance_rate=1.0, seconds=0.0)
    return ABCResult([generation], np.asarray(target), ("u", "v", "w"), True)


def test_the_candidate_of_smallest_expected_discrepancy_is_the_design():
    seen = []

    def simulate(theta, seeds):  # eta = theta^2 with a 2 % structure noise per seed
        seen.append(np.array(seeds))
        noise = np.array([np.random.default_rng(int(s)).standard_normal(3) for s in seeds])
        return theta**2 * (1 + 0.02 * noise)

    result = two_mode_posterior(T)
    screened = screen_candidates(result, simulate, candidates=6, structures=4, seed=11)
    scores = [c["expected_discrepancy"] for c in screened["candidates"]]
    assert len(scores) == 6 and screened["candidates"][0]["source"] == "posterior mean"
    assert scores[0] > 90  # mean theta ~ 0: eta ~ 0, 100 % off
    best = screened["candidates"][screened["best"]]
    assert best["source"].startswith("particle") and best["expected_discrepancy"] == min(scores) < 5
    assert np.allclose(np.square(screened["theta"]), T, rtol=0.05)
    rows = seen[0].reshape(6, 4)
    assert all(np.array_equal(row, rows[0]) for row in rows)  # common seeds for every candidate
    again = screen_candidates(result, simulate, candidates=6, structures=4, seed=11)
    assert again == screened
    # a population of two distinct particles gives the mean and those two, no more
    few = two_mode_posterior(T)
    few.posterior.particles[:] = few.particles[:2].repeat(10, axis=0)
    assert len(screen_candidates(few, simulate, candidates=6, structures=2, seed=1)["candidates"]) == 3


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """design abc (untrained 16^3 surrogate) -> generate -> mpiexec -n 2 solve -> validate."""
    folder = tmp_path_factory.mktemp("validated")
    surrogate = untrained_surrogate(folder / "model.ckpt")
    out = folder / "ref" / "abc"
    assert cli("design", "abc", "--surrogate", surrogate, "--target", *TARGET, "-o", out, "--population", 8,
               "--tolerances", 100, "--batch-size", 32, "--validation-count", 6, "--seed", 4,
               "--no-percolation", "--candidates", 3, "--candidate-structures", 2, "--posterior-predictive", 4) == 0
    assert cli("generate", out / "design.json", "-o", out / "structures.h5") == 0
    proc = subprocess.run(["mpiexec", "-n", "2", str(BIN / "microinv"), "solve", "diffusivity",
                           str(out / "structures.h5"), "-o", str(out / "diffusivity.h5")],
                          capture_output=True, text=True, timeout=300, env=launcher_environment())
    assert proc.returncode == 0, proc.stderr
    assert cli("validate", out / "design.json", out / "diffusivity.h5", out / "structures.h5",
               "--surrogate", surrogate, "-o", out / "validation.json") == 0
    return out


def test_validate_reports_the_solved_answer_and_the_answer_shows_it(validated):
    import h5py

    record = json.loads((validated / "validation.json").read_text())
    design = json.loads((validated / "design.json").read_text())["design"]
    with h5py.File(validated / "diffusivity.h5", "r") as fh:
        eta, at_draws = fh["value"][:6], fh["value"][6:]  # the design's 6, then 4 posterior draws
    ok = np.all(np.isfinite(eta), axis=1)
    assert record["format"] == "microinv.validation/2" and record["structures"] == 6
    assert record["predictive"]["structures"] == 4
    assert record["predictive"]["mean"] == pytest.approx(at_draws[np.all(np.isfinite(at_draws), axis=1)].mean(axis=0))
    assert record["mean"] == pytest.approx(eta[ok].mean(axis=0))
    assert record["sem"] == pytest.approx(eta[ok].std(axis=0, ddof=1) / np.sqrt(ok.sum()))
    assert record["theta"] == design["theta"] == design["abc"]["refinement"]["theta"]
    assert record["validated"] == design["validated"]
    assert len(record["surrogate"]["mape_percent"]) == 3
    answer = design_answer(validated)
    cells = _design_cells(answer)
    assert f"validated: {design['validated']}" in cells[0]
    assert f"{record['discrepancy_of_mean']:.3g} ± {record['discrepancy_of_mean_sem']:.2g} %" in cells[3]
    assert f"K = {record['solved']} solved" in cells[2]
    best = design["abc"]["candidates"]["candidates"][design["abc"]["candidates"]["best"]]
    assert "MAPE at the design" in cells[4] and f"{best['source']}, best of 3 candidates: surrogate J" in cells[4]


def test_the_bo_answer_reports_its_expected_discrepancy_and_reproducibility(tmp_path):
    from microinv.figures.answer import search_answer

    surrogate = untrained_surrogate(tmp_path / "model.ckpt")
    out = tmp_path / "bo"
    assert cli("design", "bo", "--surrogate", surrogate, "--target", *TARGET, "-o", out,
               "--structures-per-trial", 3, "--seed", 2, "--trials", 2, "--validation-count", 1,
               "--device", "cpu", "--no-percolation") == 0
    design = json.loads((out / "design.json").read_text())["design"]
    bo = design["bo"]
    assert bo["value_sem"] > 0 and design["validated"].startswith("BO best trial")
    text = search_answer(design)
    assert f"J = {bo['value']:.3g} % ± {bo['value_sem']:.2g} %" in text
    assert "reproducible for seed 2 with concurrent workers" in text


def test_validate_flags_a_design_whose_rve_exceeds_n(validated, tmp_path):
    """``microinv rve --design`` at sizes 8-16 (a L fixed), then ``validate --rve``: the
    record and the answer carry the RVE size the design needs, a warning when it exceeds N."""
    from microinv import rve

    config = tmp_path / "config.yaml"
    config.write_text("structure: {n: 16}\nrve: {sizes: [8, 12, 16], seeds: 2, cv_tolerance: 1.0e-6}\n")
    out = tmp_path / "rve.json"
    run_cli("rve", "--config", config, "--design", validated / "design.json", "-o", out, check=True)
    doc = rve.read_rve(out)
    assert doc["source"] == "design" and doc["n"] == 16
    assert doc["entries"][0]["theta"] == json.loads((validated / "design.json").read_text())["design"]["theta"]
    record_path = tmp_path / "validation.json"
    proc = subprocess.run([str(BIN / "microinv"), "validate", str(validated / "design.json"),
                           str(validated / "diffusivity.h5"), str(validated / "structures.h5"),
                           "--rve", str(out), "-o", str(record_path)],
                          capture_output=True, text=True, timeout=300, env=launcher_environment())
    assert proc.returncode == 0, proc.stderr
    flag = json.loads(record_path.read_text())["rve"]
    assert flag == rve.design_flag(doc)
    assert flag["exceeds"]  # a CV tolerance of 1e-6 is out of reach of any size measured
    assert "exceeds N = 16" in proc.stderr
    answer = design_answer(validated)
    assert answer["rve"] is None  # the fixture's own validation.json has no flag
    answer["rve"] = flag
    assert rve.warning(flag) in _design_cells(answer)[0]


def test_the_campaign_guard_line():
    from microinv import rve
    from microinv.figures.answer import _rve_line

    def entry(cv, gap):
        return {"cv_size": [{"size": s} for s in cv], "gap_size": [{"size": s} for s in gap],
                "rve_size": None if None in cv + gap else max(cv + gap)}

    doc = {"n": 64, "entries": [entry([32, 48, 32], [48, 48, 32]), entry([130, 32, 32], [48, 64, 64]),
                                entry([32, 32, 32], [None, 64, 64]), entry([64, 32, 32], [64, 32, 32])]}
    guard = rve.guard(doc)
    assert guard == {"n": 64, "entries": 4, "exceeding": 2, "fraction_exceeding": 0.5, "exceeding_cv": 1,
                     "exceeding_gap": 1, "sizes_needed": [48, 130, None, 64]}
    assert _rve_line(guard).startswith("2 of 4 prior draws (50 %) need an RVE larger than the campaign's N = 64 "
                                       "(1 by the spread of eta, 1 by the bound gap")
    assert "48, 130, ?, 64" in _rve_line(guard)
    assert rve.warning({"exceeds": False}) is None
    assert rve.warning({"exceeds": True, "rve_size": 130, "extrapolated": True, "n": 64}).startswith(
        "RVE size L = 130 (extrapolated) exceeds N = 64")
