"""Recompute a random subset of a campaign: structures bit for bit, properties within the
accuracy the recorded solver tolerance implies.

Structures regenerate from the root of the chain, the samples chunk's (theta, n, seed),
and must equal both the structures chunk and the dataset row. Properties are re-solved by
``microinv solve`` on a temporary chunk of the chosen structures, under ``mpiexec`` with
the recorded rank count and the recorded solver settings, exactly as the workflow ran it.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

from microinv.audit.campaign import Campaign
from microinv.audit.findings import Check
from microinv.data import layout, provenance
from microinv.data.chunks import create_structures_dataset, open_h5, read_samples
from microinv.errors import InputError
from microinv.mpi_env import launcher_environment
from microinv.physics import PROPERTIES
from microinv.physics.result import CONVERGED, STATUS_CODES
from microinv.seeds import AUDIT, stream

log = logging.getLogger("microinv.audit")

#: Relative error of a property that is a linear functional of the solution, per unit
#: rtol (measured for the Stokes permeability at 32^3: at most 18 rtol against a solve at
#: rtol 1e-10, for rtol from 1e-6 to 1e-2).
LINEAR_ERROR_PER_RTOL = 20.0
#: Margin on the expected error of each of the two solves being compared.
SAFETY = 10.0
#: Round-off floor of the relative agreement (sums over millions of faces).
ROUND_OFF = 1e-9


def agreement_tolerance(prop: str, settings: dict, value: float, porosity: float) -> float:
    """Relative difference two solves of the same structure may show at the recorded rtol.

    The diffusivity solver (and the two-phase conductivity, same solver) stops on CG's
    natural norm, about the energy norm of the error, and evaluates eta as an energy, so
    by Dirichlet's principle its relative error is about rtol^2 (tau - 1) with
    tau = porosity / eta (`microinv.physics.diffusion`; measured at 32^3: 5e-5 at rtol
    1e-2, 2e-6 at 1e-3, 2e-12 at 1e-6). Any other property is taken as a linear
    functional of the solution, with an error of ``LINEAR_ERROR_PER_RTOL`` rtol. Two solves
    each within that bound agree to twice it; ``SAFETY`` times that, plus round-off, is
    what we allow.
    """
    rtol = float(settings["rtol"])
    energy_estimate = prop in ("diffusivity", "conductivity") and settings.get("norm_type") == "norm_natural"
    if energy_estimate:
        tau = porosity / value if value > 0 else 1.0
        expected = rtol ** 2 * max(tau - 1.0, 1.0)
    else:
        expected = LINEAR_ERROR_PER_RTOL * rtol
    return 2 * SAFETY * expected + ROUND_OFF


def choose_rows(count: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted random subset of ``range(count)``: ``fraction`` of it, at least one row.

    Drawn from the audit's own stream of ``seed`` (:data:`microinv.seeds.AUDIT`).
    """
    k = min(count, max(1, int(round(fraction * count))))
    rng = np.random.default_rng(stream(seed, AUDIT))
    return np.sort(rng.choice(count, size=k, replace=False))


def check_regeneration(campaign: Campaign, samples: np.ndarray) -> Check:
    """The structure of each sample's (theta, n, seed, dim) and model (spinodoid or process,
    :func:`microinv.microstructure.models.structures_of`) equals the stored structures (and
    ``spinodoid_field`` the stored fields, where the chunks carry them)."""
    from microinv.microstructure import spinodoid_field
    from microinv.microstructure.models import structures_of

    check = Check("regenerate", "structures regenerated bit for bit", unit="structures")
    dataset = campaign.dataset(check, ("sample_index", "structures"))
    if dataset is None:
        return check
    with dataset:
        rows = {int(i): r for r, i in enumerate(dataset["sample_index"][()])}
        for sample in samples:
            chunk, r = layout.locate(campaign.config, int(sample))
            samples_rel, structures_rel = layout.SAMPLES.format(chunk=chunk), layout.STRUCTURES.format(chunk=chunk)
            try:
                doc = read_samples(campaign.path(samples_rel))
                entry = doc["samples"][r]
            except (InputError, IndexError) as err:
                check.fail(samples_rel, f"cannot read the sample ({err})", sample=sample)
                continue
            check.checked += 1
            model = doc.get("model")
            solid = structures_of(doc["n"], doc["dim"], model, [entry["theta"]], [int(entry["seed"])])[0]
            stored = {}
            try:
                row = _read_structure(campaign.path(structures_rel), r)
                stored[structures_rel] = row["structures"]
                if "field" in row:  # structure.field: the stored level-set field, bit for bit too
                    field = spinodoid_field(entry["theta"], doc["n"], int(entry["seed"]), dim=doc["dim"])
                    if not np.array_equal(row["field"], field):
                        check.fail(structures_rel, "field differs from spinodoid_field(theta, n, seed) in "
                                                   f"{int(np.count_nonzero(row['field'] != field))} voxels",
                                   sample=sample)
            except InputError as err:
                check.fail(structures_rel, str(err), sample=sample)
            try:
                stored[layout.DATASET] = dataset["structures"][rows[int(sample)]]
            except (OSError, KeyError, ValueError) as err:
                check.fail(layout.DATASET, f"structure unreadable ({err})", sample=sample)
            for rel, solid_stored in stored.items():
                if not np.array_equal(solid_stored, solid):
                    differ = int(np.count_nonzero(solid_stored != solid))
                    made = "the process model of (phi, n, seed)" if model else "spinodoid(theta, n, seed)"
                    check.fail(rel, f"structure differs from {made} in {differ} voxels", sample=sample)
    return check


def check_resolve(campaign: Campaign, samples: np.ndarray, *, ranks=None, mpiexec="mpiexec",
                  tolerance=None) -> Check:
    """Re-solve ``samples`` for every property and compare with the properties chunks."""
    check = Check("resolve", "properties re-solved within the recorded tolerance", unit="solves")
    worst = {}
    with tempfile.TemporaryDirectory(prefix="microinv-audit-") as tmp:
        structures = Path(tmp) / "structures.h5"
        picked = _write_subset(check, campaign, samples, structures)
        if not picked:
            check.skipped = check.skipped or "no structure could be read"
            return check
        for prop in campaign.properties:
            recorded = _recorded(check, campaign, prop, picked)
            if not recorded:
                continue
            settings = next(iter(recorded.values()))["settings"]
            out = Path(tmp) / f"{prop}.h5"
            nranks = ranks or int(settings.get("ranks", 1))
            try:
                _solve(prop, structures, out, settings, nranks, mpiexec)
            except RuntimeError as err:
                check.fail(f"properties/{prop}",
                           f"re-solve failed (see --ranks, --mpiexec, --skip-solve): {err}")
                continue
            with h5py.File(out, "r") as fh:
                _compare(check, prop, picked, recorded, fh["value"][()], fh["status"][()], tolerance, worst)
    check.details["largest_relative_difference"] = worst
    check.details["samples"] = [int(s) for s in picked]
    if worst:
        check.details["note"] = "largest relative difference " + ", ".join(
            f"{p} {d:.1e}" for p, d in worst.items())
    return check


def _compare(check, prop, picked, recorded, value, status, tolerance, worst) -> None:
    """Re-solved (value, status) rows of ``picked`` against the recorded ones."""
    for k, sample in enumerate(picked):
        rec = recorded.get(sample)
        if rec is None:
            continue
        for axis in range(value.shape[1]):
            check.checked += 1
            old, new = rec["value"][axis], value[k, axis]
            if rec["status"][axis] != status[k, axis]:
                check.fail(rec["file"], f"status {STATUS_CODES.get(int(rec['status'][axis]))} recorded, "
                                        f"{STATUS_CODES.get(int(status[k, axis]))} re-solved",
                           sample=sample, axis=axis)
                continue
            if status[k, axis] != CONVERGED:
                continue
            tol = tolerance or agreement_tolerance(prop, rec["settings"], old, rec["porosity"])
            diff = abs(new - old) / abs(old)
            worst[prop] = max(worst.get(prop, 0.0), diff)
            if not diff <= tol:
                check.fail(rec["file"], f"{prop} {old:.10g} recorded, {new:.10g} re-solved: relative "
                                        f"difference {diff:.2e} exceeds {tol:.2e} (rtol {rec['settings']['rtol']:g})",
                           sample=sample, axis=axis)


def _write_subset(check, campaign, samples, path) -> list[int]:
    """A structures chunk of the chosen samples (read from their structures chunks)."""
    rows, picked = [], []
    for sample in samples:
        chunk, r = layout.locate(campaign.config, int(sample))
        rel = layout.STRUCTURES.format(chunk=chunk)
        try:
            rows.append(_read_structure(campaign.path(rel), r))
        except InputError as err:
            check.fail(rel, f"{err}, not re-solved", sample=sample)
            continue
        picked.append(int(sample))
    if rows:
        with h5py.File(path, "w") as fh:
            create_structures_dataset(fh, len(rows), rows[0]["structures"].shape)[...] = np.stack(
                [row["structures"] for row in rows])
            fh["sample_index"] = np.asarray(picked, dtype=np.int64)
            # What a levelset re-solve reads the field from (microinv.data.chunks.read_field).
            for name in ("field", "theta", "seed"):
                if all(name in row for row in rows):
                    fh[name] = np.stack([row[name] for row in rows])
    return picked


def _read_structure(path, row) -> dict:
    """Row ``row`` of a structures chunk: its ``structures`` and, where the chunk has them,
    its ``field``, ``theta`` and ``seed``; InputError saying why it cannot be read."""
    if not path.is_file():
        raise InputError("missing")
    try:
        with h5py.File(path, "r") as fh:
            return {name: fh[name][row] for name in ("structures", "field", "theta", "seed")
                    if name == "structures" or name in fh}
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"structure unreadable ({err})") from err


def _recorded(check, campaign, prop, picked) -> dict:
    """{sample: recorded value, status, settings, file, porosity} of the picked samples."""
    out = {}
    for sample in picked:
        chunk, r = layout.locate(campaign.config, sample)
        rel = layout.PROPERTIES.format(property=prop, chunk=chunk)
        try:
            with open_h5(campaign.path(rel), required=("value", "status"), what="properties chunk") as pc:
                record = provenance.read(pc).get("solver") or {}
                value, status = pc["value"][r], pc["status"][r]
            with h5py.File(campaign.path(layout.STRUCTURES.format(chunk=chunk)), "r") as fh:
                porosity = float(fh["descriptors/porosity"][r])
        except (InputError, OSError, KeyError) as err:
            check.fail(rel, f"not re-solved: {err}", sample=sample)
            continue
        if "rtol" not in record:
            check.fail(rel, "provenance records no solver settings (rtol)", sample=sample)
            continue
        out[sample] = {"value": value, "status": status, "settings": record, "file": rel,
                       "porosity": porosity}
    return out


def _solve(prop, structures, out, settings, ranks, mpiexec) -> None:
    """``microinv solve`` under ``mpiexec -n ranks`` with the recorded solver settings."""
    cmd = [sys.executable, "-m", "microinv.cli", "-q", "solve", prop, str(structures), "-o", str(out),
           "--rtol", repr(float(settings["rtol"])), "--geometry", settings.get("geometry", "voxel")]
    for key in PROPERTIES[prop][1]:
        if settings.get(key) is not None and not (key == "solid_conductivity" and prop != "conductivity"):
            cmd += [f"--{key.replace('_', '-')}", str(settings[key])]
    if ranks > 1:
        cmd = [*shlex.split(mpiexec), "-n", str(ranks), *cmd]
    log.info("re-solving: %s", shlex.join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=launcher_environment())
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{shlex.join(cmd)} exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
