"""Affine, periodic and uniform-flux BC: the bracket D_A >= D_P >= D_F, closed forms, an
independent direct solve, 1 vs 2 ranks; the RVE statistics and the ``microinv rve`` command."""

from __future__ import annotations

import itertools
import json
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from conftest import gathered_rows, run_cli
from microinv import rve
from microinv.errors import InputError
from microinv.microstructure import spinodoid
from microinv.physics.diffusion import apparent_tensor, effective_diffusivity

BCS = ("affine", "periodic", "flux")


def tensors(solid, s, rtol=1e-10):
    return {bc: apparent_tensor(solid, bc=bc, solid_conductivity=s, rtol=rtol) for bc in BCS}


def random_structure(shape, porosity, seed):
    return (np.random.default_rng(seed).random(shape) >= porosity).astype(np.uint8)


def box_reference(solid, s):
    """D_A and D_F of a voxel box with every voxel conducting, by a sparse direct solve built
    here from the definitions alone: energies with half cells 2 sigma to the box's faces."""
    sigma = np.where(solid == 1, s, 1.0).ravel()
    shape, dim, volume = solid.shape, solid.ndim, solid.size
    index = np.arange(volume).reshape(shape)
    rows, cols, vals = [], [], []
    boundary = []  # (cell, axis, outward sign, face coordinate along axis)
    for a in range(dim):
        lo, hi = np.take(index, range(shape[a] - 1), axis=a).ravel(), np.take(index, range(1, shape[a]), axis=a).ravel()
        k = 2 * sigma[lo] * sigma[hi] / (sigma[lo] + sigma[hi])
        rows += [lo, hi, lo, hi]
        cols += [lo, hi, hi, lo]
        vals += [k, k, -k, -k]
        boundary += [(c, a, -1, 0.0) for c in np.take(index, 0, axis=a).ravel()]
        boundary += [(c, a, +1, float(shape[a])) for c in np.take(index, -1, axis=a).ravel()]
    laplacian = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(volume, volume))
    centres = np.stack(np.unravel_index(np.arange(volume), shape), axis=1) + 0.5
    sink = np.zeros(volume)
    for c, a, _, _ in boundary:
        sink[c] += 2 * sigma[c]

    def affine_energy(g):
        rhs = np.zeros(volume)
        for c, a, _, x in boundary:
            face = centres[c].copy()
            face[a] = x
            rhs[c] += 2 * sigma[c] * g @ face
        c = spla.spsolve((laplacian + sp.diags(sink)).tocsc(), rhs)
        energy = c @ (laplacian @ c)
        for p, a, _, x in boundary:
            face = centres[p].copy()
            face[a] = x
            energy += 2 * sigma[p] * (c[p] - g @ face) ** 2
        return energy / volume

    def flux_compliance(j):
        inflow = np.zeros(volume)
        for p, a, sign, _ in boundary:
            inflow[p] -= sign * j[a]
        reduced = laplacian[1:, 1:].tocsc()  # the potential is free: pin cell 0
        c = np.concatenate([[0.0], spla.spsolve(reduced, inflow[1:])])
        energy = c @ (laplacian @ c) + sum((j[a]) ** 2 / (2 * sigma[p]) for p, a, _, _ in boundary)
        return energy / volume

    def polarise(quadratic):
        unit = np.eye(dim)
        out = np.diag([quadratic(unit[i]) for i in range(dim)])
        for i, j in itertools.combinations(range(dim), 2):
            out[i, j] = out[j, i] = (quadratic(unit[i] + unit[j]) - out[i, i] - out[j, j]) / 2
        return out

    return polarise(affine_energy), np.linalg.inv(polarise(flux_compliance))


@pytest.mark.parametrize("shape", [(5, 6, 7), (7, 5)])
def test_box_bcs_match_an_independent_direct_solve(shape):
    solid = random_structure(shape, 0.6, seed=11)
    affine, flux = box_reference(solid, 0.15)
    np.testing.assert_allclose(apparent_tensor(solid, bc="affine", solid_conductivity=0.15, rtol=1e-12),
                               affine, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(apparent_tensor(solid, bc="flux", solid_conductivity=0.15, rtol=1e-12),
                               flux, rtol=1e-9, atol=1e-12)
    for axis in range(solid.ndim):
        assert effective_diffusivity(solid, axis, bc="affine", solid_conductivity=0.15, rtol=1e-12).eta \
            == pytest.approx(affine[axis, axis], rel=1e-9)
        # the flux-driven response along an axis: 1 / (D_F^-1)_ii <= (D_F)_ii
        response = 1 / np.linalg.inv(flux)[axis, axis]
        assert effective_diffusivity(solid, axis, bc="flux", solid_conductivity=0.15, rtol=1e-12).eta \
            == pytest.approx(response, rel=1e-9)
        assert response <= flux[axis, axis] + 1e-12


@pytest.mark.parametrize("shape, porosity, s, seed", [
    ((7, 8, 9), 0.5, 0.1, 1), ((9, 6, 11), 0.35, 0.02, 2), ((12, 10, 9), 0.7, 0.5, 3), ((13, 17), 0.5, 0.05, 4)])
def test_loewner_order_on_random_structures(shape, porosity, s, seed):
    d = tensors(random_structure(shape, porosity, seed), s)
    for t in d.values():
        np.testing.assert_allclose(t, t.T, atol=1e-14)
    # strictly: a random structure is no laminate, every direction has a gap
    assert np.linalg.eigvalsh(d["affine"] - d["periodic"]).min() > 1e-4
    assert np.linalg.eigvalsh(d["periodic"] - d["flux"]).min() > 1e-4
    assert np.linalg.eigvalsh(d["flux"]).min() > 0


def test_loewner_order_on_a_spinodoid():
    d = tensors(spinodoid((0.3, 0.45, 0.6, 0.55), 20, 3), 0.1, rtol=1e-8)
    assert np.linalg.eigvalsh(d["affine"] - d["periodic"]).min() > 0
    assert np.linalg.eigvalsh(d["periodic"] - d["flux"]).min() > 0


@pytest.mark.parametrize("phase, value", [(0, 1.0), (1, 0.3)])
def test_all_three_equal_on_a_uniform_block(phase, value):
    block = np.full((6, 7, 8), phase, dtype=np.uint8)
    for t in tensors(block, 0.3).values():
        np.testing.assert_allclose(t, value * np.eye(3), atol=1e-12)


def test_laminate_closed_forms():
    """Layers normal to z: along the layers affine = periodic = arithmetic mean, across them
    flux = periodic = harmonic mean (exactly, for the discrete problems). Affine across and
    flux along the layers are strictly beyond: the uniform inflow through the end faces
    must redistribute between the layers, which costs energy in a boundary layer whose share
    falls as the laminate grows along its layers."""
    s = 0.2
    laminate = np.zeros((6, 7, 9), dtype=np.uint8)
    laminate[:, :, [1, 2, 5]] = 1
    sigma = np.where(laminate[0, 0] == 1, s, 1.0)
    arithmetic, harmonic = sigma.mean(), 1 / np.mean(1 / sigma)
    d = tensors(laminate, s)
    for bc in ("affine", "periodic"):
        np.testing.assert_allclose(np.diag(d[bc])[:2], arithmetic, rtol=1e-10)
    for bc in ("periodic", "flux"):
        assert d[bc][2, 2] == pytest.approx(harmonic, rel=1e-10)
    assert d["affine"][2, 2] > harmonic * 1.05
    assert d["flux"][0, 0] < arithmetic * 0.9
    longer = np.concatenate([laminate] * 5, axis=0)  # 30 voxels along x
    flux_long = apparent_tensor(longer, bc="flux", solid_conductivity=s, rtol=1e-10)[0, 0]
    assert d["flux"][0, 0] < flux_long < arithmetic
    assert arithmetic - flux_long < 0.3 * (arithmetic - d["flux"][0, 0])


def test_insulating_solid():
    """Affine still bounds periodic; the flux bound is 0 along axes whose boundary faces hold
    solid and exact elsewhere; a pore cluster cut off from the boundary changes nothing."""
    solid = random_structure((10, 11, 12), 0.35, seed=5)
    d = tensors(solid, 0.0)
    assert np.linalg.eigvalsh(d["affine"] - d["periodic"]).min() > 0
    np.testing.assert_array_equal(d["flux"], 0.0)
    assert effective_diffusivity(solid, 1, bc="flux").eta == 0.0

    box = np.zeros((9, 8, 10), dtype=np.uint8)
    box[3:6, 2:6, 3:7] = 1  # a solid inclusion: every boundary face is pore
    box[4, 3, 4] = 0  # a pore voxel cut off inside it
    d = tensors(box, 0.0)
    assert np.linalg.eigvalsh(d["flux"]).min() > 0.5
    assert np.linalg.eigvalsh(d["affine"] - d["periodic"]).min() > 0
    assert np.linalg.eigvalsh(d["periodic"] - d["flux"]).min() > 0
    filled = box.copy()
    filled[4, 3, 4] = 1
    for bc in ("affine", "flux"):
        np.testing.assert_allclose(apparent_tensor(filled, bc=bc, rtol=1e-10), d[bc], rtol=1e-10)


def test_bound_gap_shrinks_with_size_on_a_spinodoid_family():
    """theta at N = 32, solved at L = 16 and 40 (a L fixed): the mean relative gap closes."""
    theta = (0.25, 0.3, 0.35, 0.5)
    gaps = []
    for size in (16, 40):
        seeds = rve.structure_seeds(9, 0, size, 2)
        t = np.stack([rve.apparent_tensors(theta, size, seed, n_reference=32, solid_conductivity=0.1, rtol=1e-5)
                      for seed in seeds])
        eta = np.diagonal(t, axis1=-2, axis2=-1).mean(axis=0)  # (3 BC, 3 directions)
        assert np.all(eta[0] > eta[1]) and np.all(eta[1] > eta[2])
        gaps.append((eta[0] - eta[2]) / eta[1])
    assert np.all(gaps[1] < 0.75 * gaps[0])


def test_box_bc_inputs():
    solid = random_structure((6, 6, 6), 0.5, seed=1)
    with pytest.raises(InputError, match="^bc: "):
        apparent_tensor(solid, bc="fixed")
    with pytest.raises(InputError, match="^sides: "):
        effective_diffusivity(solid, 0, bc="affine", sides="noflux")
    with pytest.raises(InputError, match="^solid_conductivity: "):
        apparent_tensor(solid, bc="flux", solid_conductivity=-1)


# --- RVE statistics -------------------------------------------------------------------


def synthetic(sizes, cv, gap, seeds=6):
    """Tensors (S, K, 3, 3, 3) whose periodic eta has exactly the given CV and gap per size."""
    z = np.linspace(-1, 1, seeds)
    z = z / z.std(ddof=1)
    out = np.zeros((len(sizes), seeds, 3, 3, 3))
    for s in range(len(sizes)):
        periodic = 0.4 * (1 + cv[s] * z)
        half = 0.2 * gap[s]  # affine - flux = gap * mean periodic, split evenly
        for b, shift in enumerate((half, 0.0, -half)):
            out[s, :, b] = (periodic + shift)[:, None, None] * np.eye(3)
    return out


def test_power_law_fit_and_required_sizes():
    sizes = np.array([16, 20, 24, 32])
    cv = 0.2 * (sizes / 16.0) ** -1.5  # Var ~ L^-3
    gap = 0.3 * (sizes / 16.0) ** -1.0
    summary = rve.summarise(sizes, synthetic(sizes, cv, gap), cv_tolerance=0.05, gap_tolerance=0.15)
    np.testing.assert_allclose(summary["cv"], np.repeat(cv[:, None], 3, axis=1), rtol=1e-12)
    np.testing.assert_allclose(summary["gap"], np.repeat(gap[:, None], 3, axis=1), rtol=1e-12)
    for fit in summary["variance"]:
        assert fit["exponent"] == pytest.approx(3.0, rel=1e-10)
        assert fit["stderr"] == pytest.approx(0.0, abs=1e-8)
    assert summary["cv_size"][0] == {"size": 41, "extrapolated": True}  # 16 * 4^(2/3) = 40.3
    assert summary["gap_size"][0] == {"size": 32, "extrapolated": False}
    assert summary["rve_size"] == 41 and summary["extrapolated"]
    assert rve.exceeds(summary, 32) and not rve.exceeds(summary, 64)
    # the standard error of a noisy fit: about sigma / sqrt(sum (log L - mean)^2)
    noisy = cv * np.exp([0.1, -0.1, 0.1, -0.1])
    fit = rve.power_law(sizes, noisy)
    assert 0.1 < fit["stderr"] < 1.0 and fit["exponent"] != pytest.approx(1.5, abs=1e-3)
    assert rve.required_size(sizes, [0.1, 0.04, 0.06, 0.04], 0.05, None) == {"size": 32, "extrapolated": False}
    assert rve.required_size(sizes, [0.1, 0.1, 0.1, 0.1], 0.05, {"exponent": -0.1, "prefactor": 1}) \
        == {"size": None, "extrapolated": True}


def test_scaled_theta_keeps_a_times_l():
    np.testing.assert_allclose(rve.scaled_theta([0.2, 0.3, 0.4, 0.6], 64, 128), [0.1, 0.15, 0.2, 0.6])
    a = rve.structure_seeds(3, 0, 32, 4)
    assert a.tolist() == rve.structure_seeds(3, 0, 32, 5)[:4].tolist()
    assert len(set(a.tolist()) & set(rve.structure_seeds(3, 1, 32, 4).tolist())) == 0


def test_rve_command(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("structure: {n: 32}\nseed: 3\nrve: {sizes: [12, 16, 20], seeds: 2, prior_draws: 2}\n")
    out = tmp_path / "prior" / "rve.json"
    run_cli("rve", "--config", config, "--prior", "-o", out, check=True)
    doc = json.loads(out.read_text())
    assert doc["format"] == rve.RVE_FORMAT and doc["source"] == "prior" and len(doc["entries"]) == 2
    assert doc["provenance"]["config"]["rve"]["sizes"] == [12, 16, 20]
    entry = doc["entries"][0]
    t = np.asarray(entry["tensors"])
    assert t.shape == (3, 2, 3, 3, 3)
    for s in range(3):
        for k in range(2):
            assert np.linalg.eigvalsh(t[s, k, 0] - t[s, k, 1]).min() > 0
            assert np.linalg.eigvalsh(t[s, k, 1] - t[s, k, 2]).min() > 0
    assert doc["guard"]["entries"] == 2
    assert doc["guard"]["exceeding"] == sum(rve.exceeds(e, 32) for e in doc["entries"])
    assert (tmp_path / "prior" / "rve-eta.png").stat().st_size > 0
    assert (tmp_path / "prior" / "rve-cv.png").stat().st_size > 0
    again = tmp_path / "theta.json"
    run_cli("rve", "--config", config, "--theta", *entry["theta"], "-o", again, check=True)
    np.testing.assert_allclose(json.loads(again.read_text())["entries"][0]["tensors"], t, rtol=1e-12)
    bad = run_cli("rve", "--config", config, "--prior", "--sizes", "16", "12", "-o", tmp_path / "x.json")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("microinv: error: rve.sizes:")


# --- 1 vs 2 ranks ---------------------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import json, sys
    import petsc4py
    petsc4py.init(sys.argv)
    from petsc4py import PETSc
    from microinv.microstructure import spinodoid
    from microinv.physics.diffusion import apparent_tensor, effective_diffusivity

    solid = spinodoid((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    row = {"rank": PETSc.COMM_WORLD.getRank()}
    for bc in ("affine", "periodic", "flux"):
        row[bc] = apparent_tensor(solid, bc=bc, solid_conductivity=0.2, rtol=1e-10).tolist()
    row["affine-insulating"] = apparent_tensor(solid, bc="affine", rtol=1e-10).tolist()
    row["flux-y"] = effective_diffusivity(solid, 1, bc="flux", solid_conductivity=0.2, rtol=1e-10).eta
    rows = PETSc.COMM_WORLD.tompi4py().gather(row)
    if rows is not None:
        print(json.dumps(rows), flush=True)
""")


@pytest.mark.mpi
def test_two_ranks_agree_with_one(tmp_path):
    rows = gathered_rows(SCRIPT, tmp_path)
    assert rows[0] == {**rows[1], "rank": rows[0]["rank"]}
    solid = spinodoid((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    for bc in ("affine", "periodic", "flux"):
        serial = apparent_tensor(solid, bc=bc, solid_conductivity=0.2, rtol=1e-10)
        np.testing.assert_allclose(rows[0][bc], serial, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(rows[0]["affine-insulating"], apparent_tensor(solid, bc="affine", rtol=1e-10),
                               rtol=1e-8, atol=1e-12)
    serial = effective_diffusivity(solid, 1, bc="flux", solid_conductivity=0.2, rtol=1e-10).eta
    assert rows[0]["flux-y"] == pytest.approx(serial, rel=1e-8)


# --- closed-form bounds ---------------------------------------------------------------


def test_wiener_and_hashin_shtrikman_bounds():
    from microinv.physics.bounds import hashin_shtrikman_bounds, wiener_bounds

    eps = np.linspace(0, 1, 11)
    lower, upper = hashin_shtrikman_bounds(eps)
    np.testing.assert_allclose(upper, 2 * eps / (3 - eps), rtol=1e-14)
    np.testing.assert_array_equal(lower, 0.0)
    np.testing.assert_allclose(hashin_shtrikman_bounds(eps, dim=2)[1], eps / (2 - eps), rtol=1e-14)
    for s in (0.05, 0.3, 0.9):
        wl, wu = wiener_bounds(eps, s)
        hl, hu = hashin_shtrikman_bounds(eps, s)
        assert np.all(wl <= hl + 1e-15) and np.all(hl <= hu + 1e-15) and np.all(hu <= wu + 1e-15)
        assert hl[0] == pytest.approx(s) and hu[-1] == pytest.approx(1.0)
    # Wiener is attained by the laminate of test_laminate_closed_forms (6 of 9 layers pore)
    laminate = np.zeros((6, 7, 9), dtype=np.uint8)
    laminate[:, :, [1, 2, 5]] = 1
    wl, wu = wiener_bounds(6 / 9, 0.2)
    d = apparent_tensor(laminate, bc="periodic", solid_conductivity=0.2, rtol=1e-10)
    assert d[0, 0] == pytest.approx(wu, rel=1e-10) and d[2, 2] == pytest.approx(wl, rel=1e-10)
    with pytest.raises(InputError, match="^solid_conductivity: "):
        wiener_bounds(0.5, 2.0)
    with pytest.raises(InputError, match="^eps: "):
        hashin_shtrikman_bounds([0.5, 1.2])


def test_property_porosity_figure(tmp_path):
    from microinv.figures.dataset import property_porosity

    rng = np.random.default_rng(0)
    porosity = rng.uniform(0.3, 0.85, 40)
    value = (2 * porosity / (3 - porosity))[:, None] * rng.uniform(0.5, 1.0, (40, 3))
    status = np.zeros((40, 3), dtype=np.int8)
    path = property_porosity("diffusivity", value, status, porosity, tmp_path / "p.png")
    assert path.stat().st_size > 10_000
