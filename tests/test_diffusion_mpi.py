"""Effective diffusivity on 1 and 2 MPI ranks: the same answer, on every rank."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import gathered_rows
from microinv.physics.diffusion import diffusivity_tensor, effective_diffusivity

pytestmark = pytest.mark.mpi

# Awkward sizes: the ranks split a 25 x 22 x 19 grid, with odd blocks on coarse levels.
SCRIPT = textwrap.dedent("""
    import json, sys
    import petsc4py
    petsc4py.init(sys.argv)
    from petsc4py import PETSc
    from microinv.microstructure import spinodoid
    from microinv.physics.diffusion import diffusivity_tensor, effective_diffusivity

    solid = spinodoid((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    row = {"rank": PETSc.COMM_WORLD.getRank(), "tensor": diffusivity_tensor(solid, rtol=1e-10).tolist()}
    for bc, sides in [("fixed", "periodic"), ("fixed", "noflux"), ("periodic", "periodic")]:
        results = [effective_diffusivity(solid, a, bc=bc, sides=sides, rtol=1e-10) for a in range(3)]
        row[bc + "-" + sides] = [r.eta for r in results]
        row["ranks"] = results[0].settings["ranks"]
    conduct = effective_diffusivity(solid, 2, bc="fixed", solid_conductivity=0.2, rtol=1e-10)
    row["conductivity"] = conduct.eta
    rows = PETSc.COMM_WORLD.tompi4py().gather(row)
    if rows is not None:
        print(json.dumps(rows), flush=True)
""")

def test_two_ranks_agree_with_one(tmp_path):
    rows = gathered_rows(SCRIPT, tmp_path)
    assert rows[0] == {**rows[1], "rank": rows[0]["rank"]}  # identical on every rank
    parallel = rows[0]
    assert parallel["ranks"] == 2

    from microinv.microstructure import spinodoid

    solid = spinodoid((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    np.testing.assert_allclose(parallel["tensor"], diffusivity_tensor(solid, rtol=1e-10), rtol=1e-8, atol=1e-12)
    for bc, sides in [("fixed", "periodic"), ("fixed", "noflux"), ("periodic", "periodic")]:
        serial = [effective_diffusivity(solid, a, bc=bc, sides=sides, rtol=1e-10).eta for a in range(3)]
        np.testing.assert_allclose(parallel[bc + "-" + sides], serial, rtol=1e-8)
    serial = effective_diffusivity(solid, 2, bc="fixed", solid_conductivity=0.2, rtol=1e-10).eta
    assert parallel["conductivity"] == pytest.approx(serial, rel=1e-8)
