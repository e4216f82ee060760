"""Figures of a design, PNG.

From arrays: :func:`posterior_marginals` and :func:`acceptance_rates` (ABC-PMC
generations), :func:`optimisation_history` (BO trials), :func:`validation_histograms` and
:func:`surrogate_vs_solver` (the solved validation structures). From a design's files:
:func:`design_figures` (``design.json``), :func:`posterior_figures` (``posterior.h5``),
:func:`study_figures` (``study.journal``).

Parameter axes carry the names the design recorded (a_x, a_y, a_z, eps for the spinodoid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microinv.errors import InputError
from microinv.figures import save
from microinv.figures.style import AXES, figure, parameter_label

__all__ = ["acceptance_rates", "design_figures", "optimisation_history", "posterior_figures",
           "posterior_marginals", "study_figures", "surrogate_vs_solver", "validation_histograms"]


def posterior_marginals(generations, param_names, path, *, bins: int = 25) -> Path:
    """Weighted histogram of each parameter, one colour per generation (last darkest),
    each generation binned on its own range."""
    from matplotlib import colormaps

    fig, axes = figure(len(param_names), width=3.2)
    colours = colormaps["viridis_r"](np.linspace(0.15, 1.0, len(generations)))
    for i, (ax, name) in enumerate(zip(axes[0], param_names)):
        for g, colour in zip(generations, colours):
            ax.hist(g.particles[:, i], bins=bins, weights=g.weights, density=True,
                    histtype="step", color=colour, label=f"t={g.index}, tau={g.tolerance:.3g}")
        ax.set_xlabel(parameter_label(name))
    axes[0, 0].set_ylabel("posterior density")
    axes[0, -1].legend(fontsize="x-small")
    return save(fig, path)


def acceptance_rates(generations, path) -> Path:
    """Acceptance rate per generation (log scale), tolerance on the top axis labels."""
    fig, axes = figure(width=4.5, height=3.2)
    ax = axes[0, 0]
    t = [g.index for g in generations]
    ax.semilogy(t, [g.acceptance_rate for g in generations], "o-")
    ax.set_xticks(t, [f"{g.index}\n{g.tolerance:.3g}" for g in generations], fontsize="small")
    ax.set(xlabel="generation\ntolerance (%)", ylabel="acceptance rate")
    ax.grid(alpha=0.3)
    return save(fig, path)


def optimisation_history(number, value, worker, path) -> Path:
    """Discrepancy J (%) of every complete trial by trial number, one colour per worker,
    and the best J so far (log scale)."""
    from matplotlib.ticker import FormatStrFormatter

    number, value, worker = map(np.asarray, (number, value, worker))
    order = np.argsort(number)
    fig, axes = figure(width=5.0, height=3.4)
    ax = axes[0, 0]
    for w in np.unique(worker):
        mine = worker == w
        ax.scatter(number[mine], value[mine], s=14, alpha=0.7, label=f"worker {w}")
    ax.step(number[order], np.minimum.accumulate(value[order]), where="post", color="k", label="best so far")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set(xlabel="trial", ylabel="expected discrepancy J (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small")
    return save(fig, path)


def validation_histograms(solver_eta, target, tolerance, path, *, bins: int = 15) -> Path:
    """Solved eta per axis across the validation structures, target and tolerance band
    target_i (1 +- tolerance)."""
    solver_eta = np.asarray(solver_eta, dtype=float)
    fig, axes = figure(3, width=3.2, sharey=True)
    for i, ax in enumerate(axes[0]):
        values = solver_eta[:, i][np.isfinite(solver_eta[:, i])]
        ax.hist(values, bins=bins, color="0.6")
        ax.axvline(target[i], color="C3", label="target")
        ax.axvspan(target[i] * (1 - tolerance), target[i] * (1 + tolerance), color="C3",
                   alpha=0.15, label=f"±{100 * tolerance:.3g} %")
        ax.set_xlabel(f"$\\eta_{AXES[i]}$ (solver)")
    axes[0, 0].set_ylabel("structures")
    axes[0, 0].legend(fontsize="small")
    return save(fig, path)


def surrogate_vs_solver(solver_eta, surrogate_eta, path) -> Path:
    """Surrogate prediction against the solver per structure and axis, with y = x."""
    solver_eta = np.asarray(solver_eta, dtype=float)
    surrogate_eta = np.asarray(surrogate_eta, dtype=float)
    fig, axes = figure(width=3.8, height=3.6)
    ax = axes[0, 0]
    for i in range(3):
        ax.plot(solver_eta[:, i], surrogate_eta[:, i], "o", ms=4, label=AXES[i])
    both = np.concatenate([solver_eta.ravel(), surrogate_eta.ravel()])
    lo, hi = np.nanmin(both), np.nanmax(both)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=r"$\eta$ (solver)", ylabel=r"$\eta$ (surrogate)")
    ax.legend(fontsize="small")
    return save(fig, path)


def posterior_figures(posterior_path, folder, *, param_names=None) -> list[Path]:
    """Posterior marginals and acceptance rates of an ABC run (``posterior.h5``) into
    ``folder``; parameters named ``param_names`` or as the run's settings name them."""
    from microinv.design.history import PosteriorHistory

    history = PosteriorHistory(posterior_path)
    if not history.generations:
        raise InputError(f"{posterior_path}: no finished generation to plot")
    names = param_names or (history.settings or {}).get("param_names")
    if not names:
        raise InputError(f"{posterior_path}: settings: no param_names to label the parameters")
    folder = Path(folder)
    return [posterior_marginals(history.generations, names, folder / "posterior-marginals.png"),
            acceptance_rates(history.generations, folder / "acceptance.png")]


def design_figures(design_path, folder) -> list[Path]:
    """The figures of a design's search (``design.json``): the BO study's history, or the
    ABC posterior's marginals and acceptance rates."""
    from microinv.design.records import read_design

    design = read_design(design_path)["design"]
    here = Path(design_path).parent
    if design["method"] == "bo":
        bo = design["bo"]
        return study_figures(here / bo["study"], folder, study_name=bo["study_name"])
    return posterior_figures(here / design["abc"]["posterior"], folder, param_names=design["param_names"])


def study_figures(journal_path, folder, *, study_name: str | None = None) -> list[Path]:
    """The optimisation history of a BO study (``study.journal``) into ``folder``; without a
    ``study_name``, the journal's newest study."""
    import optuna

    from microinv.data.journal import read_study

    study = read_study(journal_path, study_name)
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not trials:
        raise InputError(f"{journal_path}: study {study.study_name!r} has no complete trial to plot")
    return [optimisation_history([t.number for t in trials], [t.value for t in trials],
                                 [t.user_attrs.get("worker", 0) for t in trials],
                                 Path(folder) / "bo-history.png")]
