"""Active learning (microinv.design.active): the acquisition rule, stopping, and rounds on a
cheap simulator with a known inverse; the dataset's train-only additions (data/dataset.py)."""

import hashlib

import h5py
import numpy as np
import pytest

from microinv.data import provenance
from microinv.data.chunks import create_structures_dataset
from microinv.data.dataset import assemble
from microinv.design import active
from microinv.design.abc import mape
from microinv.design.priors import UniformPrior


def test_weights_follow_the_equation():
    target = np.array([0.4, 0.5, 0.6])
    mean = np.array([[0.4, 0.5, 0.6], [0.44, 0.55, 0.66], [0.4, 0.5, 0.6]])
    std = np.array([[0.04, 0.05, 0.06], [0.04, 0.05, 0.06], [0.0, 0.0, 0.0]])
    w = active.acquisition_weights(mean, std, target, scale=10.0)
    # u = 10 % for the first two, rho = 0 and 10 %; the third has no spread
    np.testing.assert_allclose(w, [10.0, 10.0 * np.exp(-1.0), 0.0])
    # without any spread: closeness alone
    np.testing.assert_allclose(active.acquisition_weights(mean, None, target, scale=10.0),
                               [1.0, np.exp(-1.0), 1.0])
    np.testing.assert_allclose(active.acquisition_weights(mean, np.zeros((3, 3)), target, scale=5.0),
                               [1.0, np.exp(-2.0), 1.0])


def test_selection_is_without_replacement_and_by_weight():
    rng = np.random.default_rng(0)
    chosen = active.select([0.0, 1.0, 0.0, 3.0, 0.0], 2, rng)
    assert sorted(chosen.tolist()) == [1, 3]
    # more draws than positive weights: the zero-weight ones fill up, no repeats
    chosen = active.select([0.0, 1.0, 0.0], 3, rng)
    assert sorted(chosen.tolist()) == [0, 1, 2]
    counts = np.zeros(4)
    for _ in range(2000):
        counts[active.select([1.0, 1.0, 1.0, 7.0], 1, rng)] += 1
    np.testing.assert_allclose(counts / counts.sum(), [0.1, 0.1, 0.1, 0.7], atol=0.03)


def test_stop_reasons():
    assert active.stop_reason(1.5, 0, tolerance=2.0, budget=100, cost=10).reason == "tolerance"
    assert active.stop_reason(2.5, 95, tolerance=2.0, budget=100, cost=10).reason == "budget"
    assert active.stop_reason(2.5, 90, tolerance=2.0, budget=100, cost=10) is None


def test_indices_are_disjoint_across_rounds_targets_methods():
    seen = set()
    for r in (1, 2, 3):
        for a in range(2):
            for b in range(2):
                start = active.first_index(192, r, a, b, targets=2, methods=2, batch=4)
                block = set(range(start, start + 4))
                assert not block & seen and min(block) >= 192
                seen |= block
    assert seen == set(range(192, 192 + 3 * 2 * 2 * 4))


def test_local_candidates_stay_in_the_prior():
    prior = UniformPrior([0.1, 0.1, 0.1, 0.3], [0.3, 0.3, 0.3, 0.85])
    theta = np.array([0.29, 0.2, 0.2, 0.5])
    draws = active.local_candidates(theta, prior, 200, np.random.default_rng(1), spread=0.1)
    assert draws.shape == (200, 4) and np.all(np.isfinite(prior.logpdf(draws)))
    assert np.median(np.abs(draws[:, 1] / 0.2 - 1)) < 0.15


# --- the loop on a cheap simulator with a known inverse --------------------------------------

TARGET = np.array([0.35, 0.5, 0.65])
PRIOR = UniformPrior([0.0] * 3, [1.0] * 3)


def simulate(theta, rng):
    """eta = 0.2 + 0.6 theta (per direction) plus noise: theta* = (TARGET - 0.2) / 0.6."""
    return 0.2 + 0.6 * theta + 0.005 * rng.standard_normal(theta.shape)


class Ensemble:
    """A deep-ensemble stand-in: M quadratic fits on bootstrap resamples of the data."""

    def __init__(self, theta, eta, rng, members=8):
        features = self.features(theta)
        self.coef = []
        for _ in range(members):
            rows = rng.integers(0, len(theta), len(theta))
            self.coef.append(np.linalg.lstsq(features[rows], eta[rows], rcond=None)[0])

    @staticmethod
    def features(theta):
        return np.concatenate([np.ones((len(theta), 1)), theta, theta**2], axis=1)

    def predict(self, theta):
        runs = np.stack([self.features(theta) @ c for c in self.coef])
        return runs.mean(axis=0), runs.std(axis=0)


def design(model, rng):
    """The posterior mean of a rejection ABC against the surrogate (tolerance 3 %)."""
    theta = PRIOR.sample(rng, 20000)
    mean, _ = model.predict(theta)
    rho = 100 * np.mean(np.abs(mean - TARGET) / TARGET, axis=1)
    accepted = theta[rho <= np.quantile(rho, 0.01)]
    return accepted, accepted.mean(axis=0)


def run_loop(rounds, seed=0, state=None):
    """Rounds of the loop from the first design; resumes from ``state`` (a finished round)."""
    rng = np.random.default_rng(seed)
    if state is None:
        theta = PRIOR.sample(rng, 12) * np.array([1.0, 1.0, 1.0])
        theta = theta[np.argsort(np.abs(theta[:, 0] - 0.9))]  # a first design far from theta*
        state = {"theta": theta, "eta": simulate(theta, rng), "rounds": [], "new": []}
    for r in range(len(state["rounds"]) + 1, rounds + 1):
        streams = active.round_streams(seed, r, 0, 0)
        model = Ensemble(state["theta"], state["eta"], streams["candidates"])
        posterior, theta_hat = design(model, streams["candidates"])
        validated = simulate(np.repeat(theta_hat[None], 16, axis=0), streams["candidates"])
        rho = mape(validated.mean(axis=0), TARGET)
        state["rounds"].append((theta_hat, rho))
        candidates = active.posterior_candidates(posterior, np.ones(len(posterior)), 64, streams["candidates"])
        mean, std = model.predict(candidates)
        weights = active.acquisition_weights(mean, std, TARGET, scale=10.0)
        new = candidates[active.select(weights, 6, streams["selection"])]
        state["new"].append(new)
        state["theta"] = np.concatenate([state["theta"], new])
        state["eta"] = np.concatenate([state["eta"], simulate(new, streams["candidates"])])
    return state


def test_rounds_converge_to_the_known_inverse_and_sample_near_it():
    truth = (TARGET - 0.2) / 0.6
    state = run_loop(4)
    first, last = state["rounds"][0], state["rounds"][-1]
    assert last[1] < 1.0 < first[1]  # validated rho of the mean: from over 1 % to below it
    assert np.abs(last[0] - truth).max() < 0.02
    distance = [np.abs(new - truth).max(axis=1).mean() for new in state["new"]]
    start = np.abs(state["theta"][:12] - truth).max(axis=1).mean()
    assert max(distance) < start / 2  # new points land near the target region


def test_a_resumed_loop_gives_the_same_rounds():
    whole = run_loop(3)
    part = run_loop(1)
    resumed = run_loop(3, state={k: (list(v) if isinstance(v, list) else v) for k, v in part.items()})
    for (a, rho_a), (b, rho_b) in zip(whole["rounds"], resumed["rounds"]):
        np.testing.assert_array_equal(a, b)
        assert rho_a == rho_b


# --- the dataset: additions join the train split only ----------------------------------------

def rng_voxels(index):
    return np.random.default_rng(list(index)).integers(0, 2, (len(index), 4, 4, 4), dtype=np.uint8)


def _chunk(path, index, eta):
    with h5py.File(path, "w") as fh:
        create_structures_dataset(fh, len(index), (4, 4, 4))[:] = rng_voxels(index)
        fh["sample_index"] = np.asarray(index, np.int64)
        fh["seed"] = np.asarray(index, np.uint64)
        fh["theta"] = np.ones((len(index), 4))
        fh["percolates"] = np.ones((len(index), 2, 3), bool)
        fh["descriptors/porosity"] = np.full(len(index), 0.5)
    props = path.with_name(path.stem + "-eta.h5")
    with h5py.File(props, "w") as fh:
        fh["sample_index"] = np.asarray(index, np.int64)
        fh["value"] = np.asarray(eta, float)
        fh["status"] = np.zeros((len(index), 3), np.int8)
        fh["iterations"] = np.ones((len(index), 3), np.int64)
        fh["residual"] = np.zeros((len(index), 3))
    return path, props


def _split_hash(path, split):
    with h5py.File(path, "r") as fh:
        rows = fh[f"splits/{split}"][:]
        digest = hashlib.sha256(fh["sample_index"][:][rows].tobytes())
        digest.update(fh["properties/diffusivity/value"][:][rows].tobytes())
        digest.update(np.stack([fh["structures"][r] for r in rows]).tobytes())
    return digest.hexdigest(), rows


def test_added_rows_join_train_only_and_the_test_split_is_unchanged(tmp_path):
    rng = np.random.default_rng(3)
    base = [_chunk(tmp_path / f"chunk-{c}.h5", range(10 * c, 10 * c + 10), rng.uniform(0.2, 0.8, (10, 3)))
            for c in range(3)]
    rounds = [_chunk(tmp_path / f"round-{r}.h5", range(100 + 4 * r, 104 + 4 * r), rng.uniform(0.2, 0.8, (4, 3)))
              for r in range(2)]
    fractions = {"train": 0.6, "val": 0.2, "test": 0.2}

    def build(name, chunks, added):
        path = tmp_path / name
        assemble(path, [s for s, _ in chunks], {"diffusivity": [p for _, p in chunks]}, fractions=fractions,
                 seed=5, prov=provenance.Provenance(), added=added)
        return path

    datasets = [build("dataset.h5", base, 0), build("dataset-1.h5", base + rounds[:1], 1),
                build("dataset-2.h5", base + rounds, 2)]
    hashes = [_split_hash(d, "test")[0] for d in datasets]
    assert hashes[0] == hashes[1] == hashes[2]
    assert len({_split_hash(d, "val")[0] for d in datasets}) == 1
    train = [_split_hash(d, "train")[1] for d in datasets]
    assert train[1].tolist() == train[0].tolist() + [30, 31, 32, 33]
    assert train[2].tolist() == train[1].tolist() + [34, 35, 36, 37]
    with h5py.File(datasets[2], "r") as fh:
        assert fh["splits"].attrs["added_from"] == 30


def test_acquire_names_the_bad_option(tmp_path):
    import yaml
    from conftest import TINY_CONFIG, run_cli

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_CONFIG))
    common = ["active", "acquire", "--config", config, "--design", tmp_path / "design.json", "--validation",
              tmp_path / "validation.json", "--surrogate", tmp_path / "model.ckpt", "-o", tmp_path / "batch.json"]
    proc = run_cli(*common, "--round", 1, "--target-name", "nope")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("microinv: error: --target-name: 'nope' is not a target of "
                                                    "design.targets (['ref'])")
    proc = run_cli(*common, "--round", 0, "--target-name", "ref")
    assert proc.returncode == 2 and "--round: must be >= 1, got 0" in proc.stderr
    proc = run_cli(*common, "--round", 1, "--target-name", "ref")
    assert proc.returncode == 2 and f"{tmp_path / 'design.json'}" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "batch.json").exists()
