"""Inversion: from a target property to a posterior (ABC-PMC) or an optimum (Optuna BO),
and the numerical validation of the design.

* :func:`abc_pmc` / :class:`ABCPMC` (:mod:`.abc`), with its strategies: the perturbation
  kernel (:mod:`.transition`), the batched rejection sampler (:mod:`.sampler`) and the
  resumable ``posterior.h5`` (:mod:`.history`);
* the forward model theta, seed -> structure -> surrogate eta (:mod:`.simulators`, with
  the numpy and torch generators of :mod:`microinv.microstructure`);
* Bayesian optimisation with a shared, restartable Optuna journal (:mod:`.bo`);
* the ABC design point: the posterior draw of smallest expected discrepancy
  (:mod:`.candidates`);
* validation statistics, ``design.json`` and figures (:mod:`.validation`, :mod:`.records`,
  :mod:`.plots`).
"""

from microinv.design.abc import ABCPMC, ABCResult, abc_pmc, mape, reference_tolerances
from microinv.design.history import Generation, PosteriorHistory
from microinv.design.priors import UniformPrior

__all__ = ["ABCPMC", "ABCResult", "Generation", "PosteriorHistory", "UniformPrior", "abc_pmc",
           "mape", "reference_tolerances"]
