"""The seed scheme: disjoint purposes, and the streams of existing campaigns kept."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from microinv import seeds
from microinv.data.dataset import split_rows
from microinv.design.abc import abc_pmc
from microinv.design.bo import trial_seeds
from microinv.design.history import SettingsMismatch
from microinv.design.priors import UniformPrior
from microinv.design.records import validation_samples
from microinv.microstructure import SpinodoidPrior, sample_prior
from microinv.microstructure.prior import _attempt
from microinv.surrogate.data import EpochSampler

SEED = 2024


def keys_of_every_purpose() -> dict[str, list[tuple[int, ...]]]:
    """Spawn keys the scheme gives each purpose, over generous index ranges and edges."""
    campaign = np.random.SeedSequence(SEED)
    sample = [seeds.sample_stream(campaign, i, j).spawn_key
              for i in [*range(40), 2**31 - 1] for j in [*range(40), 2**31 - 1]]
    abc = [child.spawn_key for t in range(40) for child in seeds.stream(SEED, seeds.ABC, t).spawn(2)]
    keys = {"sample": sample, "split": [seeds.stream(SEED, seeds.SPLIT).spawn_key], "abc": abc}
    for name in ("bo_trial", "augmentation", "active_learning", "process", "reference_grid"):
        code = seeds.PURPOSES[name]
        keys[name] = [seeds.stream(SEED, code, i).spawn_key for i in [*range(200), 2**32 - 1]]
    keys["validation"] = [seeds.stream(SEED, seeds.VALIDATION, *r).spawn_key for r in [(), *((i,) for i in range(40))]]
    keys["refine"] = [seeds.stream(SEED, seeds.REFINE, *r).spawn_key for r in [(), *((i,) for i in range(40))]]
    keys["audit"] = [seeds.stream(SEED, seeds.AUDIT).spawn_key]
    keys["rve"] = [seeds.stream(SEED, seeds.RVE).spawn_key] + [
        seeds.stream(SEED, seeds.RVE, e, size).spawn_key for e in range(20) for size in (16, 32, 64, 2**32 - 1)]
    return keys


def test_no_two_purposes_share_a_spawn_key():
    keys = keys_of_every_purpose()
    assert set(keys) == {"sample", *seeds.PURPOSES}
    owner = {}
    for purpose, purpose_keys in keys.items():
        for key in purpose_keys:
            assert owner.setdefault(key, purpose) == purpose, f"{key} is {owner[key]} and {purpose}"
            # one 32-bit word per element: the hashed words are the key itself
            assert all(0 <= k < 2**32 for k in key), key
    assert len(set(seeds.PURPOSES.values())) == len(seeds.PURPOSES)
    # the argument of the module docstring: sample keys are two words below SAMPLE_LIMIT,
    # every other key of two or more words starts with a code at or above it
    assert all(len(k) == 2 and k[0] < seeds.SAMPLE_LIMIT for k in keys["sample"])
    others = [k for p, ks in keys.items() if p != "sample" for k in ks]
    assert all(k[0] >= seeds.SAMPLE_LIMIT for k in others if len(k) > 1)


def test_draws_of_different_purposes_differ():
    """First words of every stream's state, through the code that uses each stream."""
    prior = SpinodoidPrior(n=32)
    campaign = np.random.SeedSequence(SEED)
    draws = {
        "sample": [int(_attempt(campaign, i, j, prior)[1]) for i in range(8) for j in range(8)],
        "bo_trial": [int(s) for t in range(8) for s in trial_seeds(SEED, t, 4)],
        "validation": [s["seed"] for s in validation_samples([0.1, 0.1, 0.1, 0.5], 8, SEED)],
    }
    for name in ("abc", "augmentation", "active_learning", "process", "reference_grid", "split", "audit", "rve",
                 "refine"):
        code = seeds.PURPOSES[name]
        index = () if name in ("split", "audit", "rve") else (0,)
        draws[name] = [int(w) for w in seeds.stream(SEED, code, *index).generate_state(4, np.uint64)]
    everything = [d for purpose in draws.values() for d in purpose]
    assert len(set(everything)) == len(everything)


def test_bo_trial_seeds_are_not_a_campaign_sample_seed():
    """Before the scheme, trial t's seeds were those of campaign sample 1, attempt t."""
    prior = SpinodoidPrior(n=32)
    campaign = np.random.SeedSequence(SEED)
    sample_seeds = {int(_attempt(campaign, i, j, prior)[1]) for i in range(4) for j in range(8)}
    assert not sample_seeds & {int(s) for t in range(8) for s in trial_seeds(SEED, t, 1)}


def test_existing_campaigns_keep_their_samples_and_splits():
    """Values written by the version before the scheme: datasets regenerate bit for bit."""
    drawn = sample_prior(3, n=32, seed_sequence=np.random.SeedSequence(2024), start_index=4)
    assert drawn.seed.tolist() == [1054749856775185421, 8119450771548795887, 8697714870517317458]
    assert drawn.attempts.tolist() == [1, 4, 3]
    np.testing.assert_allclose(drawn.theta[0], [0.881028, 0.532673, 0.492546, 0.574887], atol=1e-6)
    split = split_rows(np.arange(12), {"train": 0.5, "val": 0.25, "test": 0.25}, 3)
    assert {k: v.tolist() for k, v in split.items()} == {
        "train": [0, 3, 8, 9, 10, 11], "val": [4, 6, 7], "test": [1, 2, 5]}


def test_augmentation_streams_are_per_epoch_and_seed():
    first = list(EpochSampler(30, seed=5))
    assert list(EpochSampler(30, seed=5)) == first
    other_seed = list(EpochSampler(30, seed=6))
    sampler = EpochSampler(30, seed=5)
    sampler.set_epoch(1)
    assert other_seed != first and list(sampler) != first


@pytest.mark.parametrize("call, message", [
    (lambda: seeds.stream(1, seeds.BO_TRIAL, 2**32), "index"),
    (lambda: seeds.stream(1, seeds.BO_TRIAL, -1), "index"),
    (lambda: seeds.stream(1, 12345), "purpose"),
    (lambda: seeds.sample_stream(np.random.SeedSequence(1), 2**31, 0), "sample index"),
    (lambda: seeds.sample_stream(np.random.SeedSequence(1), 0, 2**31), "attempt"),
])
def test_keys_that_could_alias_another_purpose_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_abc_run_of_the_former_seed_scheme_is_not_resumed(tmp_path):
    def simulate(theta, structure_seeds):
        return theta + 0.01

    path = tmp_path / "posterior.h5"
    run = dict(seed=1, batch_size=64, history_path=path)
    abc_pmc([0.5], simulate, UniformPrior([0.0], [1.0]), 20, [50, 10], **run)
    with h5py.File(path, "r+") as fh:  # as written before the scheme: no seed_scheme setting
        settings = fh.attrs["settings"].replace(f', "seed_scheme": "{seeds.SCHEME}"', "")
        assert "seed_scheme" not in settings
        fh.attrs["settings"] = settings
    with pytest.raises(SettingsMismatch, match="seed_scheme"):
        abc_pmc([0.5], simulate, UniformPrior([0.0], [1.0]), 20, [50, 10, 5], **run)
