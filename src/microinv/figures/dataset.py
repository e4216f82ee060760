"""Figures of a campaign's dataset (``dataset.h5``), PNG.

* per property, the distribution along each direction (``<property>-histograms.png``),
  the joint scatter of each pair of directions coloured by porosity
  (``<property>-joint.png``), the property against porosity with the Wiener and
  Hashin-Shtrikman bounds (``<property>-porosity.png``) and the solver convergence summary
  (``<property>-convergence.png``: Krylov iterations, wall time per solve, status counts);
* the structure descriptors (``descriptors.png``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microinv.data.chunks import open_h5
from microinv.data.dataset import open_dataset
from microinv.figures import save
from microinv.figures.style import AXES, LABELS, figure
from microinv.physics.result import CONVERGED, STATUS_CODES

__all__ = ["convergence", "dataset_figures", "descriptors", "property_histograms", "property_joint", "property_porosity",
           "solve_seconds"]


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
    fig, axes = figure(dim)
    shown = _shown(prop, value)
    converged = (status == CONVERGED) & np.isfinite(shown)
    edges = np.histogram_bin_edges(shown[converged], bins=bins) if converged.any() else bins
    for axis, ax in enumerate(axes[0]):
        ok = converged[:, axis]
        ax.hist(shown[ok, axis], bins=edges, color=f"C{axis}", alpha=0.8)
        ax.set_xlabel(f"{LABELS.get(prop, prop)} along {AXES[axis]}")
        ax.set_title(f"{AXES[axis]}: {ok.sum()} converged, {len(ok) - ok.sum()} not", fontsize="small")
    axes[0, 0].set_ylabel("samples")
    return save(fig, path)


def property_joint(prop, value, status, porosity, path) -> Path:
    """Scatter of the property along one direction against another, every pair of directions,
    coloured by porosity; converged samples only."""
    dim = value.shape[1]
    pairs = [(i, j) for i in range(dim) for j in range(i + 1, dim)]
    fig, axes = figure(len(pairs), width=3.3, height=3.2)
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
    return save(fig, path)


def property_porosity(prop, value, status, porosity, path) -> Path:
    """The property along each direction against porosity (converged samples); for the
    diffusivity (insulating solid) with the Wiener bounds 0 <= eta <= eps and the
    Hashin-Shtrikman upper bound 2 eps / (3 - eps) of isotropic media
    (`microinv.physics.bounds`)."""
    from microinv.physics.bounds import hashin_shtrikman_bounds, wiener_bounds

    dim = value.shape[1]
    fig, ax = figure(width=4.2, height=3.4)
    ax = ax[0, 0]
    shown = _shown(prop, value)
    for axis in range(dim):
        ok = (status[:, axis] == CONVERGED) & np.isfinite(shown[:, axis])
        ax.scatter(porosity[ok], shown[ok, axis], s=8, color=f"C{axis}", label=AXES[axis])
    if prop == "diffusivity":
        eps = np.linspace(0, 1, 101)
        for (lower, upper), style, name in ((wiener_bounds(eps), "-", "Wiener"),
                                            (hashin_shtrikman_bounds(eps), "--", "Hashin-Shtrikman (isotropic)")):
            ax.plot(eps, upper, style, color="0.3", lw=1, label=f"{name} upper")
        ax.plot(eps, wiener_bounds(eps)[0], ":", color="0.3", lw=1, label="Wiener lower (insulating solid)")
        ax.set_xlim(max(0.0, porosity.min() - 0.05), min(1.0, porosity.max() + 0.05))
        ax.set_ylim(0, None)
    ax.set(xlabel="porosity", ylabel=LABELS.get(prop, prop))
    ax.legend(fontsize="x-small")
    return save(fig, path)


def convergence(prop, iterations, status, seconds, path) -> Path:
    """Krylov iterations and wall time per solve (converged solves), status counts per axis.

    iterations, status : (S, dim); seconds : (S, dim) or None (panel left out).
    """
    dim = status.shape[1]
    panels = 3 if seconds is not None else 2
    fig, axes = figure(panels)
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
    return save(fig, path)


def descriptors(desc: dict, path) -> Path:
    """Porosity, specific surface against porosity, two-point correlation S2 and mean chord
    lengths per axis (mean and 10-90 % band over the samples)."""
    fig, axes = figure(4)
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
    return save(fig, path)


def solve_seconds(dataset_path: Path, fh, prop: str) -> np.ndarray | None:
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
    with open_dataset(dataset_path, required=("sample_index", "descriptors", "properties")) as fh:
        desc = {name: fh["descriptors"][name][()] for name in fh["descriptors"]}
        for prop in fh["properties"]:
            group = fh["properties"][prop]
            value, status = group["value"][()], group["status"][()]
            written.append(property_histograms(prop, value, status, folder / f"{prop}-histograms.png"))
            written.append(property_joint(prop, value, status, desc["porosity"], folder / f"{prop}-joint.png"))
            written.append(property_porosity(prop, value, status, desc["porosity"], folder / f"{prop}-porosity.png"))
            written.append(convergence(prop, group["iterations"][()], status,
                                       solve_seconds(dataset_path, fh, prop), folder / f"{prop}-convergence.png"))
    written.append(descriptors(desc, folder / "descriptors.png"))
    return written
