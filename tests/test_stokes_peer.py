"""Stokes permeability against PuMA's finite-element solver on random spinodoids.

PuMA (NASA, ``pumapy`` from conda-forge; the PyPI project named pumapy is an unrelated
package) solves the same voxel geometry with Q1-Q1 stabilised finite elements on the
voxel corners. The test is skipped where it is not installed; a PuMA solve of a 48^3
structure takes minutes (unpreconditioned MINRES), hence ``slow``.

At 48^3 the two discretisations bracket the converged permeability of the voxel
geometry (measured with every voxel split in 2 x 2 x 2, benchmarks/bench_permeability.py):
on these three structures microinv lies 1.4-2.3 % above it and PuMA 1.7-3.6 % below,
so they differ by 3.1-5.8 %; the tolerance is 6 %, and PuMA must lie below.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from microinv.microstructure import SpinodoidPrior, spinodoid, wrapping_mask
from microinv.physics.stokes import permeability

pumapy = pytest.importorskip("pumapy", reason="NASA PuMA (pumapy) is not installed")
if not hasattr(pumapy, "compute_permeability"):
    pytest.skip("the installed pumapy is not NASA PuMA", allow_module_level=True)

pytestmark = pytest.mark.slow


def prior_spinodoids(n: int, count: int, seed: int):
    """``count`` prior draws at ``n`` whose pore phase wraps along x."""
    rng = np.random.default_rng(seed)
    prior = SpinodoidPrior(n=n)
    while count:
        solid = spinodoid(prior.sample(rng, 1)[0], n, int(rng.integers(2 ** 31)))
        if wrapping_mask(solid == 0, 0).any():
            count -= 1
            yield solid


@pytest.mark.parametrize("solid", list(prior_spinodoids(48, 3, seed=2024)))
def test_permeability_agrees_with_puma(solid):
    ours = permeability(solid, 0).k
    with contextlib.redirect_stdout(io.StringIO()):
        keff, _ = pumapy.compute_permeability(pumapy.Workspace.from_array(solid), (1, 1),
                                              direction="x", display_iter=False)
    assert keff[0, 0] == pytest.approx(ours, rel=0.06)
    assert keff[0, 0] < ours
