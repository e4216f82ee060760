"""Generation-by-generation record of an ABC-PMC run: ``posterior.h5``.

Layout (one group per finished generation, written atomically after each one)::

    /                      attrs: format, settings (JSON), provenance.* (JSON each)
    /generation-0000/      particles (P, d) float64, weights (P,) float64,
                           distances (P,) float64, seeds (P,) uint64, eta (P, k) float64
                           attrs: tolerance, trials, evaluations, acceptance_rate, seconds

``trials`` counts proposals up to the one that completed the population (the sequential
count, so ``acceptance_rate = P / trials``); ``evaluations`` counts every simulation,
including the rest of the last batch. A generation is either complete in the file or absent,
so a killed run resumes after the last complete generation.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np

from microinv.data import provenance as provenance_record
from microinv.data.atomic import atomic_path
from microinv.errors import InputError

__all__ = ["FORMAT", "Generation", "PosteriorHistory"]

FORMAT = "microinv.posterior/1"
_ARRAYS = ("particles", "weights", "distances", "seeds", "eta")
_SCALARS = ("tolerance", "trials", "evaluations", "acceptance_rate", "seconds")


class SettingsMismatch(InputError):
    """A run cannot be resumed: its file was written with other settings."""


@dataclasses.dataclass(frozen=True)
class Generation:
    """One accepted population of ABC-PMC.

    Attributes
    ----------
    index : int
        Generation number t (0 samples the prior).
    particles : (P, d) ndarray
        Accepted parameters theta.
    weights : (P,) ndarray
        Normalised importance weights.
    distances : (P,) ndarray
        Discrepancy rho of each particle's simulation.
    seeds : (P,) uint64 ndarray
        Structure seed of each particle's simulation.
    eta : (P, k) ndarray
        Simulated properties of the accepted particles.
    tolerance : float
        Acceptance threshold: every distance is <= tolerance.
    trials : int
        Proposals up to the one that completed the population.
    evaluations : int
        All simulations run in this generation (>= trials).
    acceptance_rate : float
        P / trials.
    seconds : float
        Wall-clock time of the generation.
    """

    index: int
    particles: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    seeds: np.ndarray
    eta: np.ndarray
    tolerance: float
    trials: int
    evaluations: int
    acceptance_rate: float
    seconds: float

    @property
    def ess(self) -> float:
        """Effective sample size 1 / sum w_i^2."""
        return float(1.0 / np.sum(self.weights**2))


class PosteriorHistory:
    """The ``posterior.h5`` of one run: its settings and finished generations.

    Parameters
    ----------
    path : path-like or None
        HDF5 file, created on the first :meth:`append`; None keeps the run in memory.
    """

    def __init__(self, path=None):
        self.path = None if path is None else Path(path)
        self.settings: dict | None = None
        self.provenance: dict = {}
        self.generations: list[Generation] = []
        if self.path is not None and self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            f = h5py.File(self.path, "r")
        except OSError as err:
            raise InputError(f"{self.path}: corrupt or unreadable posterior ({err})") from err
        with f:
            if f.attrs.get("format") != FORMAT:
                raise InputError(f"{self.path}: format: expected {FORMAT!r}, "
                                 f"got {f.attrs.get('format')!r}")
            self.settings = json.loads(f.attrs["settings"])
            self.provenance = provenance_record.read(f)
            names = sorted(k for k in f if k.startswith("generation-"))
            for t, name in enumerate(names):
                if name != _group(t):
                    raise InputError(f"{self.path}: {name}: generations are not numbered 0..T-1")
                g = f[name]
                arrays = {k: g[k][()] for k in _ARRAYS}
                scalars = {k: g.attrs[k].item() for k in _SCALARS}
                self.generations.append(Generation(index=t, **arrays, **scalars))

    def start(self, settings: dict, provenance: dict | None = None) -> None:
        """Fix the run's settings (new file) or check them against the file's (resume).

        Raises
        ------
        InputError
            When a setting that changes the random stream differs from the file's; the
            message names the setting and both values.
        """
        settings = json.loads(json.dumps(settings))  # canonical JSON types
        if self.settings is None:
            self.settings = settings
            self.provenance = dict(provenance or {})
            return
        done = len(self.generations)
        for key, value in settings.items():
            old = self.settings.get(key)
            if key == "tolerances":  # finished generations must keep theirs; more may follow
                same = old[:done] == value[:done] and len(value) >= done
            else:
                same = old == value
            if not same:
                raise SettingsMismatch(
                    f"{self.path}: setting '{key}' is {value!r} but the run being resumed "
                    f"used {old!r}; use another output path or the same settings"
                )
        self.settings = settings
        if provenance:
            self.provenance.setdefault("resumed_by", []).append(provenance)

    def append(self, generation: Generation) -> None:
        """Add a finished generation and rewrite the file atomically."""
        if generation.index != len(self.generations):
            raise ValueError(
                f"generation {generation.index} does not follow {len(self.generations)}"
            )
        self.generations.append(generation)
        if self.path is not None:
            self._write()

    def _write(self) -> None:
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["settings"] = json.dumps(self.settings)
            provenance_record.attach(f, self.provenance)
            for gen in self.generations:
                g = f.create_group(_group(gen.index))
                for key in _ARRAYS:
                    g.create_dataset(key, data=getattr(gen, key))
                for key in _SCALARS:
                    g.attrs[key] = getattr(gen, key)


def _group(t: int) -> str:
    return f"generation-{t:04d}"
