"""Figures of a design: posterior marginals, acceptance, BO history, validation (PNG, Agg).

Each function draws one figure from arrays and saves it to ``path``; none reads files.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

from microinv.design.validation import AXES  # noqa: E402

__all__ = ["acceptance_rates", "optimisation_history", "posterior_marginals", "surrogate_vs_solver",
           "validation_histograms"]


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def posterior_marginals(generations, param_names, path, *, bins: int = 25) -> None:
    """Weighted histogram of each parameter, one colour per generation (last darkest),
    each generation binned on its own range."""
    d = len(param_names)
    fig, axes = plt.subplots(1, d, figsize=(3.2 * d, 3.0), squeeze=False)
    colours = plt.cm.viridis_r(np.linspace(0.15, 1.0, len(generations)))
    for i, (ax, name) in enumerate(zip(axes[0], param_names)):
        for g, colour in zip(generations, colours):
            ax.hist(g.particles[:, i], bins=bins, weights=g.weights, density=True,
                    histtype="step", color=colour, label=f"t={g.index}, tau={g.tolerance:.3g}")
        ax.set_xlabel(name)
    axes[0, 0].set_ylabel("posterior density")
    axes[0, -1].legend(fontsize="x-small")
    _save(fig, path)


def acceptance_rates(generations, path) -> None:
    """Acceptance rate per generation (log scale), tolerance on the top axis labels."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    t = [g.index for g in generations]
    ax.semilogy(t, [g.acceptance_rate for g in generations], "o-")
    ax.set_xticks(t, [f"{g.index}\n{g.tolerance:.3g}" for g in generations], fontsize="small")
    ax.set_xlabel("generation\ntolerance (%)")
    ax.set_ylabel("acceptance rate")
    ax.grid(alpha=0.3)
    _save(fig, path)


def optimisation_history(number, value, worker, path) -> None:
    """Discrepancy J (%) of every complete trial by trial number, one colour per worker,
    and the best J so far (log scale)."""
    number, value, worker = map(np.asarray, (number, value, worker))
    order = np.argsort(number)
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for w in np.unique(worker):
        mine = worker == w
        ax.scatter(number[mine], value[mine], s=14, alpha=0.7, label=f"worker {w}")
    ax.step(number[order], np.minimum.accumulate(value[order]), where="post", color="k", label="best so far")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("trial")
    ax.set_ylabel("expected discrepancy J (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small")
    _save(fig, path)


def validation_histograms(solver_eta, target, tolerance, path, *, bins: int = 15) -> None:
    """Solved eta per axis across the validation structures, target and tolerance band."""
    solver_eta = np.asarray(solver_eta, dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.0), sharey=True)
    for i, ax in enumerate(axes):
        values = solver_eta[:, i][np.isfinite(solver_eta[:, i])]
        ax.hist(values, bins=bins, color="0.6")
        ax.axvline(target[i], color="C3", label="target")
        ax.axvspan(target[i] * (1 - tolerance), target[i] * (1 + tolerance), color="C3",
                   alpha=0.15, label=f"±{100 * tolerance:.3g} %")
        ax.set_xlabel(f"eta_{AXES[i]} (solver)")
    axes[0].set_ylabel("structures")
    axes[0].legend(fontsize="small")
    _save(fig, path)


def surrogate_vs_solver(solver_eta, surrogate_eta, path) -> None:
    """Surrogate prediction against the solver per structure and axis, with y = x."""
    solver_eta = np.asarray(solver_eta, dtype=float)
    surrogate_eta = np.asarray(surrogate_eta, dtype=float)
    fig, ax = plt.subplots(figsize=(3.8, 3.6))
    for i in range(3):
        ax.plot(solver_eta[:, i], surrogate_eta[:, i], "o", ms=4, label=AXES[i])
    both = np.concatenate([solver_eta.ravel(), surrogate_eta.ravel()])
    lo, hi = np.nanmin(both), np.nanmax(both)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("eta (solver)")
    ax.set_ylabel("eta (surrogate)")
    ax.legend(fontsize="small")
    _save(fig, path)
