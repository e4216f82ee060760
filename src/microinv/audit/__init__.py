"""Provenance audit of a campaign: is every number in ``dataset.h5`` what its chain of files,
records and the code say it is?

:func:`audit_campaign` runs the checks in order of cost:

1. ``layout``: every file the config promises exists;
2. ``manifest``: dataset.h5's manifest -> chunks (SHA-256);
3. ``inputs``: every recorded input SHA-256 -> the file on disk, and each chunk records
   its parent (properties -> structures -> samples -> config.json);
4. ``config``: each record's config -> its config_sha256 and config.json;
5. ``contents``: samples -> structures chunks -> dataset rows, properties chunks -> dataset;
6. ``status``: every sample's solver status accounted for;
7. ``splits``: usable flags and train/val/test splits;
8. ``designs``: each BO design (the rounds' too) -> its study journal (trials claimed,
   budget asked);
   ``active``, with active-learning rounds: each round's dataset -> the campaign's chunks and
   the round batches (manifest, rows), its val and test splits those of dataset.h5;
9. ``regenerate``: a random subset of structures regenerated bit for bit;
10. ``resolve``: the same subset re-solved (MPI) within the recorded tolerance.

Records of runs kept aside as stale (``posterior.stale.h5``) are listed, not audited.
"""

from __future__ import annotations

from microinv.audit.active import check_active, round_datasets
from microinv.audit.campaign import Campaign, stage_of
from microinv.audit.chain import check_config, check_layout, check_manifest, check_recorded_inputs
from microinv.audit.contents import check_contents, check_splits, check_status
from microinv.audit.designs import check_designs, live_records
from microinv.audit.findings import AuditReport, Check, Failure
from microinv.audit.reproduce import agreement_tolerance, check_regeneration, check_resolve, choose_rows
from microinv.data.provenance import utc_now

__all__ = ["AuditReport", "Campaign", "Check", "Failure", "agreement_tolerance", "audit_campaign",
           "stage_of"]


def audit_campaign(folder, *, sample_fraction: float = 0.01, seed: int = 0, solve: bool = True,
                   ranks: int | None = None, mpiexec: str = "mpiexec",
                   tolerance: float | None = None) -> AuditReport:
    """Audit ``results/<campaign>``; see the module docstring for the checks.

    Parameters
    ----------
    folder : path-like
        The campaign folder (holding ``config.json``).
    sample_fraction : float
        Fraction of the samples regenerated and re-solved (at least one).
    seed : int
        Seed of the choice of that subset.
    solve : bool
        Re-solve the subset (the expensive part); False skips it.
    ranks : int, optional
        MPI ranks of the re-solve (default: the recorded ranks).
    mpiexec : str
        MPI launcher command line (``"srun"`` on a SLURM allocation).
    tolerance : float, optional
        Relative tolerance on re-solved properties instead of :func:`agreement_tolerance`.
    """
    campaign = Campaign(folder)
    options = {"sample_fraction": sample_fraction, "seed": seed, "solve": solve, "ranks": ranks,
               "mpiexec": mpiexec, "tolerance": tolerance}
    report = AuditReport(campaign=str(folder), options=options, started_utc=utc_now())
    records, stale = live_records(campaign.records())
    report.checks += [check_layout(campaign), check_manifest(campaign),
                      check_recorded_inputs(campaign, records), check_config(campaign, records),
                      check_contents(campaign), check_status(campaign)]
    dataset_config = (records.get("dataset.h5") or {}).get("config") or campaign.config
    report.checks.append(check_splits(campaign, (dataset_config["splits"], dataset_config["seed"])))
    report.checks.append(check_designs(campaign, records, stale))
    if round_datasets(campaign):
        report.checks.append(check_active(campaign))
    samples = choose_rows(campaign.count, sample_fraction, seed)
    report.checks.append(check_regeneration(campaign, samples))
    if solve:
        report.checks.append(check_resolve(campaign, samples, ranks=ranks, mpiexec=mpiexec,
                                           tolerance=tolerance))
    report.ended_utc = utc_now()
    return report
