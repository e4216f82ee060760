"""``design.json``: the design of one target and its validation samples.

The file is a samples chunk (docs/data-format.md, ``microinv.samples/1``) of the K fresh
validation structures at the design, so ``microinv generate`` and ``microinv solve`` take
it as it is, plus a ``design`` object::

    {"format": "microinv.samples/1", "campaign": ..., "chunk": 0, "n": N, "dim": 3,
     "samples": [{"index": 0, "seed": ..., "theta": [...], "attempts": 1}, ...],
     "acceptance_rate": 1.0, "provenance": {...},
     "design": {"format": "microinv.design/1", "method": "abc" | "bo", "target": [...],
                "param_names": [...], "n": N_design, "theta": [...], "validated": "...",
                "validation": {"count": K, "upscale": f, "n": f N_design,
                               "theta": [...], "tolerance": tol},
                "abc": {...} | "bo": {...}}}

``theta`` is the design in the surrogate's units (N_design), the one the validation
samples are drawn at; ``validated`` says which it is (the ABC candidate of smallest
expected discrepancy, the ABC posterior mean or the BO best trial; the ABC details hold
the posterior mean and every candidate either way). The samples carry it at the
validation resolution (a / f on f N_design voxels). The validation seeds are the
:data:`~microinv.seeds.VALIDATION` stream of the design seed.
"""

from __future__ import annotations

import numpy as np

from microinv.data.atomic import write_json
from microinv.data.chunks import SAMPLES_FORMAT, read_samples
from microinv.seeds import VALIDATION, stream, uint64_seeds
from microinv.design.validation import upscaled_theta
from microinv.errors import InputError

__all__ = ["DESIGN", "DESIGN_FORMAT", "POSTERIOR", "STALE_POSTERIOR", "STUDY", "predictive_samples",
           "read_design", "validation_samples", "write_design"]

DESIGN_FORMAT = "microinv.design/1"
#: Files of a design folder (``design/<target>/<method>/``): the design, the ABC run it
#: summarises, an ABC run with other settings kept aside by ``--restart-on-change`` (not a
#: live record: it names the inputs of a run that no longer counts), and the BO study.
DESIGN, POSTERIOR, STALE_POSTERIOR, STUDY = "design.json", "posterior.h5", "posterior.stale.h5", "study.journal"


def validation_samples(theta, count: int, seed: int, round_: int = 0) -> list[dict]:
    """K samples-chunk entries at ``theta``, each with a fresh seed (of round ``round_``)."""
    seeds = uint64_seeds(stream(seed, VALIDATION, *((round_,) if round_ else ())), count)
    theta = [float(v) for v in theta]
    return [{"index": i, "seed": int(s), "theta": theta, "attempts": 1} for i, s in enumerate(seeds)]


def predictive_samples(particles, weights, count: int, seed: int, start: int) -> list[dict]:
    """K samples-chunk entries of the posterior-predictive check of an ABC design: sample
    ``start + k`` at a posterior draw theta_k (particle j with probability w_j) with a
    fresh seed, both from the stream ``(VALIDATION, 0)`` of the design seed (children 0 and
    1), which no design's own validation uses."""
    draws, seeds = stream(seed, VALIDATION, 0).spawn(2)
    weights = np.asarray(weights, dtype=float)
    picked = np.random.default_rng(draws).choice(len(weights), size=count, p=weights / weights.sum())
    return [{"index": start + k, "seed": int(s), "theta": [float(v) for v in particles[j]], "attempts": 1}
            for k, (j, s) in enumerate(zip(picked, uint64_seeds(seeds, count)))]


def write_design(path, *, method: str, target, theta, validated: str, param_names, n: int, seed: int,
                 count: int, upscale: int = 1, tolerance: float = 0.05, campaign: str = "design",
                 round_: int = 0, details: dict | None = None, provenance: dict | None = None,
                 predictive=None) -> dict:
    """Write ``design.json`` atomically; returns the document.

    ``predictive``: (particles (P, 4), weights (P,), K') of an ABC posterior, whose K'
    posterior-predictive samples (:func:`predictive_samples`, at the validation resolution)
    follow the K validation samples; ``design.validation.predictive`` names their indices.
    """
    theta_val = upscaled_theta(theta, upscale)
    design = {
        "format": DESIGN_FORMAT, "method": method, "target": [float(v) for v in target],
        "param_names": list(param_names), "n": int(n), "seed": int(seed),
        "theta": [float(v) for v in theta], "validated": str(validated),
        "validation": {"count": int(count), "upscale": int(upscale), "n": int(n * upscale),
                       "theta": theta_val.tolist(), "tolerance": float(tolerance), "round": int(round_)},
        method: details or {},
    }
    samples = validation_samples(theta_val, count, seed, round_)
    if predictive is not None:
        particles, weights, extra = predictive
        samples += predictive_samples(upscaled_theta(particles, upscale), weights, extra, seed, start=count)
        design["validation"]["predictive"] = {"count": int(extra), "first_index": int(count)}
    doc = {"format": SAMPLES_FORMAT, "campaign": campaign, "chunk": 0, "n": int(n * upscale),
           "dim": 3, "samples": samples,
           "acceptance_rate": 1.0, "provenance": provenance or {}, "design": design}
    write_json(path, doc)
    return doc


def read_design(path) -> dict:
    """Read ``design.json`` and check its ``design`` object."""
    doc = read_samples(path)
    design = doc.get("design")
    if not isinstance(design, dict) or design.get("format") != DESIGN_FORMAT:
        raise InputError(f"{path}: design.format: expected {DESIGN_FORMAT!r} (a file written by "
                         "`microinv design`)")
    for key in ("target", "theta", "validation", "method"):
        if key not in design:
            raise InputError(f"{path}: design: missing field {key!r}")
    if len(design["target"]) != 3 or np.any(np.asarray(design["target"]) <= 0):
        raise InputError(f"{path}: design.target: expected 3 positive values, got {design['target']}")
    return doc
