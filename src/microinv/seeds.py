"""The seed scheme: every random stream of a campaign, each for one purpose only.

Every random number of a campaign comes from a :class:`numpy.random.SeedSequence` with the
entropy of a user seed (the campaign's ``seed``, a design's ``--seed``, a training's
``--seed``) and a spawn key that names its purpose. Streams of different purposes never
coincide, so a BO trial cannot reuse the seeds of a dataset sample, and each stream (sample
i, generation t of ABC, trial i of BO, epoch e of training) can be rebuilt alone: this is
what makes resumed runs exact and a sample regenerate bit for bit.

===============  ============================  ========  =====================================
purpose          spawn key                     entropy   draws
===============  ============================  ========  =====================================
sample           ``(index, attempt)``          campaign  theta and structure seed of prior
                                                         draw ``attempt`` of sample ``index``
split            ``(SPLIT,)``                  campaign  train/val/test permutation
ABC              ``(ABC, t)``, children        design    proposals (child 0) and structure
                 ``(ABC, t, 0)``, ``(.., 1)``            seeds (child 1) of generation ``t``;
                 ``(ABC, t, 2)``                         of the last generation ``t``: the
                                                         design candidates (draws, seeds)
BO trial         ``(BO_TRIAL, trial)``;        design    structure seeds of a trial; other
                 ``(BO_TRIAL, trial, k)``                draws of the trial (its sampler)
audit            ``(AUDIT,)``                  audit     which samples ``microinv audit``
                                                         regenerates and re-solves
validation       ``(VALIDATION,)``;            design    seeds of the K validation structures
                 ``(VALIDATION, r)``;                    of a design; of active-learning round r;
                 ``(VALIDATION, 0)``                     the posterior draws (child 0) and seeds
                                                         (child 1) of an ABC posterior-predictive
                                                         check
augmentation     ``(AUGMENTATION, epoch)``;    training  order and augmentation seeds of an
                 ``(AUGMENTATION, epoch, m)``            epoch of training; of ensemble member
                                                         ``m`` >= 1 (member 0: the first key)
active learning  ``(ACTIVE_LEARNING, round,``  campaign  the draws of an active-learning round
                 ``...)``
RVE              ``(RVE,)``; ``(RVE, entry,``  campaign  prior draws of ``microinv rve``; seeds
                 ``size)``                               of the structures of entry ``entry``
                                                         (theta) at size ``size``
process          ``(PROCESS, group)``          campaign  process parameters phi shared by the
                                                         structures of group ``group`` of a
                                                         process campaign (their structure
                                                         seeds are sample streams)
reference grid   ``(REFERENCE_GRID, cell)``    design    structure seeds of cell ``cell`` of a
                                                         process design's reference grid
refine           ``(REFINE,)``;                design    structure seeds of the refinement of a
                 ``(REFINE, r)``                         design (of active-learning round r);
                                                         of a process design's re-selection
===============  ============================  ========  =====================================

Entropy: the campaign's ``seed``, the design's ``--seed`` (default: the campaign's) or the
training's ``--seed``. Sample streams are made by :func:`sample_stream`, all others by
:func:`stream` with the purpose codes of :data:`PURPOSES`.

**Why the purposes are disjoint.** ``SeedSequence`` hashes its entropy (padded to four
32-bit words) followed by the words of the spawn key, one word per key element below
:math:`2^{32}` (a larger element would become several words, so :func:`stream` refuses
it). Two streams of one entropy are therefore equal only if their keys have the same length
and the same elements. A sample key has two elements, the first a sample index below
:data:`SAMPLE_LIMIT` :math:`= 2^{31}`; every other key starts with its purpose code, the
codes are distinct, and all codes but :data:`SPLIT` are at or above :data:`SAMPLE_LIMIT`.
The split key is the only one-element key with its code (0x5B117, the value the split
stream had before this module, kept so existing datasets keep their splits). Hence no key
of one purpose equals a key of another, and children of a stream (``spawn``) extend its
key, so they keep its purpose.

**Existing campaigns.** The sample keys ``(index, attempt)`` and the split key are those of
earlier versions: samples, structures and splits of existing datasets regenerate bit for
bit. The design streams (ABC, BO, validation: formerly keys ``(0, t)``, ``(1, trial)``,
``(2, worker)``, ``(3,)``, which coincided with sample keys) and the augmentation stream
(formerly ``default_rng([seed, epoch])``) are new: designs and trainings rerun with this
version draw other (equally fresh) random numbers than before. :data:`SCHEME` names this
scheme in the settings of an ABC run, so a ``posterior.h5`` of the former scheme is not
resumed with the new streams.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["ABC", "ACTIVE_LEARNING", "AUGMENTATION", "BO_TRIAL", "AUDIT", "PROCESS", "PURPOSES",
           "REFERENCE_GRID", "REFINE", "RVE",
           "SAMPLE_LIMIT", "SCHEME", "SPLIT", "VALIDATION", "sample_stream", "stream",
           "uint64_seeds"]

#: Name of this seed scheme, recorded where a resumed run must use the same streams.
SCHEME = "purpose-keys-1"

#: Sample indices and prior attempts lie below this; purpose codes (but SPLIT) at or above.
SAMPLE_LIMIT = 2**31

#: Purpose code of the train/val/test split (its historical key, a one-element key).
SPLIT = 0x5B117
#: Purpose codes of the other streams: above every sample index.
ABC, BO_TRIAL, AUDIT, VALIDATION, AUGMENTATION, ACTIVE_LEARNING, RVE, PROCESS, REFERENCE_GRID, REFINE = (
    SAMPLE_LIMIT + k for k in range(1, 11))

#: Purpose name -> code, for documentation and the disjointness test.
PURPOSES = {"split": SPLIT, "abc": ABC, "bo_trial": BO_TRIAL, "audit": AUDIT,
            "validation": VALIDATION, "augmentation": AUGMENTATION,
            "active_learning": ACTIVE_LEARNING, "rve": RVE, "process": PROCESS,
            "reference_grid": REFERENCE_GRID, "refine": REFINE}

_WORD = 2**32


def _key_element(value, name: str, limit: int = _WORD) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not 0 <= value < limit:
        raise ValueError(f"{name} must be an integer in [0, {limit}), got {value!r}")
    return int(value)


def stream(seed: int, purpose: int, *index: int) -> np.random.SeedSequence:
    """The seed sequence of one purpose (and index) of a seed.

    Parameters
    ----------
    seed : int
        Non-negative entropy: the campaign, design or training seed.
    purpose : int
        A purpose code of :data:`PURPOSES`.
    *index : int
        Indices within the purpose (generation, trial, epoch, round), each in
        ``[0, 2**32)``.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(seed, spawn_key=(purpose, *index))``.

    Examples
    --------
    >>> stream(7, BO_TRIAL, 3).spawn_key == (BO_TRIAL, 3)
    True
    """
    if purpose not in PURPOSES.values():
        raise ValueError(f"purpose must be one of {sorted(PURPOSES.values())}, got {purpose!r}")
    key = (purpose, *(_key_element(i, "index") for i in index))
    return np.random.SeedSequence(int(seed), spawn_key=key)


def sample_stream(campaign: np.random.SeedSequence, index: int, attempt: int) -> np.random.SeedSequence:
    """The seed sequence of prior draw ``attempt`` of sample ``index`` of a campaign.

    Parameters
    ----------
    campaign : numpy.random.SeedSequence
        The campaign's sequence, ``SeedSequence(seed)``.
    index, attempt : int
        Sample index and attempt, each in ``[0, 2**31)``.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(entropy=campaign.entropy, spawn_key=(*campaign.spawn_key, index,
        attempt))``, the key of every version of microinv.
    """
    key = (*campaign.spawn_key, _key_element(index, "sample index", SAMPLE_LIMIT),
           _key_element(attempt, "attempt", SAMPLE_LIMIT))
    return np.random.SeedSequence(entropy=campaign.entropy, spawn_key=key,
                                  pool_size=campaign.pool_size)


def uint64_seeds(seed_sequence: np.random.SeedSequence, count: int) -> np.ndarray:
    """``count`` 64-bit structure seeds of a stream, uint64 (count,)."""
    return seed_sequence.generate_state(count, np.uint64)
