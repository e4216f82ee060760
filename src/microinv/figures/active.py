"""Figure of the active-learning loop: validated discrepancy against round and against solves."""

from __future__ import annotations

from pathlib import Path

from microinv.figures import save
from microinv.figures.style import figure

__all__ = ["discrepancy_history"]


def discrepancy_history(loops: dict, tolerance: float, path) -> Path:
    """Validated rho of the mean (%) +- its standard error, one line per target and method,
    against the round (left) and against the cumulative extra solves (right), log scale,
    the tolerance dashed.

    Parameters
    ----------
    loops : dict
        ``"<target>/<method>"`` -> list of ``{"round", "discrepancy", "sem", "solves"}``.
    tolerance : float
        ``active.tolerance`` (%).
    path : path-like
        PNG to write.
    """
    from matplotlib.ticker import MaxNLocator

    fig, axes = figure(2, width=4.2, height=3.4, sharey=True)
    for name, history in loops.items():
        rho = [h["discrepancy"] for h in history]
        sem = [h["sem"] for h in history]
        for ax, key in zip(axes[0], ("round", "solves")):
            ax.errorbar([h[key] for h in history], rho, yerr=sem, marker="o", capsize=3, label=name)
    for ax, label in zip(axes[0], ("round", "extra solves (cumulative)")):
        ax.axhline(tolerance, color="grey", linestyle="--", label=f"tolerance {tolerance:g} %")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(r"validated $\rho$(mean) (%)")
    axes[0, 1].legend(fontsize="x-small")
    return save(fig, path)
