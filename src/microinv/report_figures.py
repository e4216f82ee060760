"""Figures of the campaign report, drawn from the campaign's files (PNG, Agg backend).

* :func:`dataset_figures` (``dataset.h5``): per property, the distribution along each
  direction (``<property>-histograms.png``), the joint scatter of each pair of directions
  coloured by porosity (``<property>-joint.png``) and the solver convergence summary
  (``<property>-convergence.png``: Krylov iterations, wall time per solve, status counts);
  the structure descriptors (``descriptors.png``).
* :func:`posterior_figures` (an ABC ``posterior.h5``): posterior marginals per generation
  and the acceptance rate per generation.

Each figure is written atomically; a user sees a complete PNG or none.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from microinv.data.atomic import atomic_path
from microinv.data.chunks import open_h5
from microinv.errors import InputError
from microinv.physics.result import CONVERGED, STATUS_CODES

AXES = "xyz"
#: Axis label of each property (permeability is plotted as log10 k).
LABELS = {"diffusivity": r"$\eta$", "conductivity": r"$\sigma_\mathrm{eff} / \sigma_\mathrm{pore}$",
          "permeability": r"$\log_{10} k$ (voxel$^2$)"}


def _figure(ncols: int, nrows: int = 1, *, width: float = 3.4, height: float = 3.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig, path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return Path(path)


def _shown(prop: str, value: np.ndarray) -> np.ndarray:
    """The plotted quantity: log10 k for permeability, the value otherwise."""
    if prop == "permeability":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(value)
    return value


def property_histograms(prop, value, status, path, *, bins=20) -> Path:
    """Histogram of the converged values along each direction (common bins, so directions
    compare), failures counted in the titles.

    value, status : (S, dim) arrays of a property.
    """
    dim = value.shape[1]
    fig, axes = _figure(dim)
    shown = _shown(prop, value)
    converged = (status == CONVERGED) & np.isfinite(shown)
    edges = np.histogram_bin_edges(shown[converged], bins=bins) if converged.any() else bins
    for axis, ax in enumerate(axes[0]):
        ok = converged[:, axis]
        ax.hist(shown[ok, axis], bins=edges, color=f"C{axis}", alpha=0.8)
        ax.set_xlabel(f"{LABELS.get(prop, prop)} along {AXES[axis]}")
        ax.set_title(f"{AXES[axis]}: {ok.sum()} converged, {len(ok) - ok.sum()} not", fontsize="small")
    axes[0, 0].set_ylabel("samples")
    return _save(fig, path)


def property_joint(prop, value, status, porosity, path) -> Path:
    """Scatter of the property along one direction against another, every pair of directions,
    coloured by porosity; converged samples only."""
    dim = value.shape[1]
    pairs = [(i, j) for i in range(dim) for j in range(i + 1, dim)]
    fig, axes = _figure(len(pairs), width=3.3, height=3.2)
    shown = _shown(prop, value)
    ok = np.all(status == CONVERGED, axis=1) & np.all(np.isfinite(shown), axis=1)
    finite = shown[ok]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    for (i, j), ax in zip(pairs, axes[0]):
        points = ax.scatter(shown[ok, i], shown[ok, j], c=porosity[ok], s=10, cmap="viridis",
                            vmin=porosity.min(), vmax=porosity.max())
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
        ax.set(xlabel=f"{LABELS.get(prop, prop)} along {AXES[i]}",
               ylabel=f"{LABELS.get(prop, prop)} along {AXES[j]}")
        ax.set_aspect("equal", adjustable="datalim")
    fig.colorbar(points, ax=axes[0, -1], label="porosity")
    return _save(fig, path)


def convergence(prop, iterations, status, seconds, path) -> Path:
    """Krylov iterations and wall time per solve (converged solves), status counts per axis.

    iterations, status : (S, dim); seconds : (S, dim) or None (panel left out).
    """
    dim = status.shape[1]
    panels = 3 if seconds is not None else 2
    fig, axes = _figure(panels)
    ok = status == CONVERGED
    ax = axes[0, 0]
    ax.hist([iterations[ok[:, a], a] for a in range(dim)], bins=15, label=list(AXES[:dim]), stacked=True)
    ax.set(xlabel="Krylov iterations", ylabel="solves")
    ax.legend(fontsize="small")
    if seconds is not None:
        ax = axes[0, 1]
        ax.hist([seconds[ok[:, a], a] for a in range(dim)], bins=15, label=list(AXES[:dim]), stacked=True)
        total = np.nansum(seconds)
        ax.set(xlabel="wall time per solve (s)", title=f"{total:.1f} s in all", ylabel="solves")
    ax = axes[0, -1]
    codes = sorted(STATUS_CODES)
    width = 0.8 / dim
    for a in range(dim):
        counts = [int(np.sum(status[:, a] == c)) for c in codes]
        bars = ax.bar(np.arange(len(codes)) + (a - (dim - 1) / 2) * width, counts, width, label=AXES[a])
        ax.bar_label(bars, fontsize="x-small")
    ax.set_xticks(np.arange(len(codes)), [STATUS_CODES[c].replace("_", "\n") for c in codes], fontsize="small")
    ax.set(ylabel="solves", title=prop)
    ax.legend(fontsize="small")
    return _save(fig, path)


def descriptors(desc: dict, path) -> Path:
    """Porosity, specific surface against porosity, two-point correlation S2 and mean chord
    lengths per axis (mean and 10-90 % band over the samples)."""
    fig, axes = _figure(4)
    porosity = desc["porosity"]
    axes[0, 0].hist(porosity, bins=20, color="0.5")
    axes[0, 0].set(xlabel="porosity", ylabel="samples")
    axes[0, 1].scatter(porosity, desc["specific_surface"], s=8)
    axes[0, 1].set(xlabel="porosity", ylabel="specific surface (1/voxel)")
    s2 = desc["s2"]
    lags = np.arange(s2.shape[2])
    for a in range(s2.shape[1]):
        lo, mid, hi = np.percentile(s2[:, a], [10, 50, 90], axis=0)
        axes[0, 2].plot(lags, mid, label=AXES[a], color=f"C{a}")
        axes[0, 2].fill_between(lags, lo, hi, color=f"C{a}", alpha=0.2)
    axes[0, 2].set(xlabel="lag (voxels)", ylabel="$S_2$ of the solid (median, 10-90 %)")
    axes[0, 2].legend(fontsize="small")
    chords = desc["chord_length"]  # (S, 2, dim): [pore, solid] per axis
    dim = chords.shape[2]
    data = [chords[:, phase, a] for phase in range(2) for a in range(dim)]
    axes[0, 3].boxplot(data, tick_labels=[f"{'ps'[phase]}{AXES[a]}" for phase in range(2) for a in range(dim)])
    axes[0, 3].set(ylabel="mean chord length (voxels)", xlabel="pore (p) / solid (s), axis")
    return _save(fig, path)


def _seconds(dataset_path: Path, fh, prop: str) -> np.ndarray | None:
    """Wall time per solve of ``prop`` in dataset row order, from the chunks of the manifest;
    None when a chunk is missing."""
    index = fh["sample_index"][()]
    rows = {int(i): r for r, i in enumerate(index)}
    seconds = np.full(fh[f"properties/{prop}/status"].shape, np.nan)
    chunks = [rel for rel, _ in fh["manifest"][()].astype(str) if rel.startswith(f"properties/{prop}/")]
    for rel in chunks:
        path = dataset_path.parent / rel
        if not path.is_file():
            return None
        with open_h5(path, required=("sample_index", "seconds"), what="properties chunk") as pc:
            for r, i in enumerate(pc["sample_index"][()]):
                if int(i) in rows:
                    seconds[rows[int(i)]] = pc["seconds"][r]
    return seconds if chunks else None


def dataset_figures(dataset_path, folder) -> list[Path]:
    """All dataset figures into ``folder``; the paths written."""
    dataset_path, folder = Path(dataset_path), Path(folder)
    written = []
    with open_h5(dataset_path, required=("sample_index", "descriptors", "properties"), what="dataset") as fh:
        desc = {name: fh["descriptors"][name][()] for name in fh["descriptors"]}
        for prop in fh["properties"]:
            group = fh["properties"][prop]
            value, status = group["value"][()], group["status"][()]
            written.append(property_histograms(prop, value, status, folder / f"{prop}-histograms.png"))
            written.append(property_joint(prop, value, status, desc["porosity"], folder / f"{prop}-joint.png"))
            written.append(convergence(prop, group["iterations"][()], status,
                                       _seconds(dataset_path, fh, prop), folder / f"{prop}-convergence.png"))
    written.append(descriptors(desc, folder / "descriptors.png"))
    return written


def posterior_figures(posterior_path, folder) -> list[Path]:
    """Posterior marginals and acceptance rates of an ABC run (``posterior.h5``) into ``folder``."""
    from microinv.design import plots
    from microinv.design.history import PosteriorHistory

    history = PosteriorHistory(posterior_path)
    if not history.generations:
        raise InputError(f"{posterior_path}: no finished generation to plot")
    names = (history.settings or {}).get("param_names") or [
        f"theta_{i}" for i in range(history.generations[0].particles.shape[1])]
    folder = Path(folder)
    marginals, acceptance = folder / "posterior-marginals.png", folder / "acceptance.png"
    _save_with(lambda p: plots.posterior_marginals(history.generations, names, p), marginals)
    _save_with(lambda p: plots.acceptance_rates(history.generations, p), acceptance)
    return [marginals, acceptance]


def design_figures(design_path, folder) -> list[Path]:
    """The figures of a design's search (``design.json``): the BO study's history, or the
    ABC posterior's marginals and acceptance rates."""
    from microinv.design.records import read_design

    design = read_design(design_path)["design"]
    here = Path(design_path).parent
    if design["method"] == "bo":
        bo = design["bo"]
        return study_figures(here / bo["study"], folder, study_name=bo["study_name"])
    return posterior_figures(here / design["abc"]["posterior"], folder)


def study_figures(journal_path, folder, *, study_name: str | None = None) -> list[Path]:
    """The optimisation history of a BO study (``study.journal``) into ``folder``; without a
    ``study_name``, the journal's newest study."""
    import optuna

    from microinv.design import plots
    from microinv.design.bo import journal_storage

    if not Path(journal_path).is_file():
        raise InputError(f"{journal_path}: no such study journal")
    storage = journal_storage(journal_path)
    if study_name is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        if not names:
            raise InputError(f"{journal_path}: the journal holds no study")
        study_name = names[-1]
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as err:
        raise InputError(f"{journal_path}: no study named {study_name!r}") from err
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not trials:
        raise InputError(f"{journal_path}: study {study_name!r} has no complete trial to plot")
    history = Path(folder) / "bo-history.png"
    _save_with(lambda p: plots.optimisation_history([t.number for t in trials], [t.value for t in trials],
                                                    [t.user_attrs.get("worker", 0) for t in trials], p),
               history)
    return [history]


def _save_with(draw, path) -> None:
    """Atomic output of a ``draw(path)`` that picks the format from the file suffix."""
    with atomic_path(path) as tmp:
        png = tmp.with_name(tmp.name + ".png")
        try:
            draw(png)
            os.replace(png, tmp)
        finally:
            png.unlink(missing_ok=True)
