"""The campaign's answer: the validated designs first, then the surrogate and the dataset.

:func:`campaign_answer` gathers it from a campaign's files, for each design folder
``design/<target>/<method>/``: the design theta (named as ``design.json`` names it: a_x,
a_y, a_z, eps), the solver's mean eta over the K validation structures with its standard
error s_i / sqrt(K) (s_i the sample standard deviation along axis i), and the miss

    rho = 100 * mean_i |mean_k eta_k,i - eta*_i| / eta*_i   (%)

of that mean from the target eta*, with the fraction of structures within the tolerance
on all axes (``validation.json``); the surrogate's test error (``surrogate/metrics.json``);
the dataset's size and solver cost (``dataset.h5`` and its property chunks).
:func:`to_html` renders it as the HTML fragment the Snakemake report opens on,
:func:`to_text` as lines for a terminal.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from microinv.data.chunks import read_json
from microinv.data.dataset import SPLITS, open_dataset
from microinv.data.provenance import read as read_provenance
from microinv.design.records import read_design
from microinv.errors import InputError
from microinv.figures.dataset import solve_seconds
from microinv.figures.style import AXES

__all__ = ["campaign_answer", "to_html", "to_text"]


def design_answer(folder) -> dict:
    """The validated design of one ``design/<target>/<method>/`` folder."""
    folder = Path(folder)
    validation = read_json(folder / "validation.json", "validation", "microinv.validation/1")
    names = read_design(folder / "design.json")["design"].get("param_names")
    if not names or len(names) != len(validation["theta"]):
        raise InputError(f"{folder / 'design.json'}: design.param_names: expected "
                         f"{len(validation['theta'])} names, got {names}")
    solver, k = validation["solver"], validation["solved"]
    se = [None if s is None else s / math.sqrt(k) for s in solver["std"]]
    return {"target_name": folder.parent.name, "method": validation["method"],
            "target": validation["target"], "theta": dict(zip(names, validation["theta"])),
            "eta": solver["mean"], "se": se, "miss": solver["rho_of_mean"],
            "within": solver["within_tolerance"]["all"], "tolerance": validation["tolerance"],
            "solved": k, "structures": validation["structures"]}


def surrogate_answer(metrics_path) -> dict:
    """Test MAPE (%) pooled and per direction, test structures and epochs of a surrogate."""
    metrics = read_json(metrics_path, "surrogate metrics", "microinv.surrogate-metrics/1")
    test = metrics["test"]
    return {"mape": 100 * test["mape"], "mape_axes": [100 * test[f"mape_{a}"] for a in AXES],
            "test_structures": metrics["structures"]["test"], "epochs": metrics["epochs"]}


def dataset_answer(dataset_path) -> dict:
    """Size of a dataset and the wall time its solves took (from its property chunks)."""
    dataset_path = Path(dataset_path)
    with open_dataset(dataset_path, required=("structures", "usable", "splits", "properties")) as fh:
        ranks = read_provenance(fh).get("config", {}).get("solve", {}).get("tasks")
        seconds = {prop: solve_seconds(dataset_path, fh, prop) for prop in fh["properties"]}
        return {"structures": fh["structures"].shape[0], "shape": list(fh["structures"].shape[1:]),
                "usable": int(fh["usable"][()].sum()),
                "splits": {name: len(fh["splits"][name]) for name in SPLITS},
                "solver_seconds": {prop: None if s is None else float(np.nansum(s))
                                   for prop, s in seconds.items()},
                "ranks": ranks, "megabytes": dataset_path.stat().st_size / 1e6}


def campaign_answer(campaign, designs=None) -> dict:
    """The answer of the campaign folder ``campaign``.

    designs : sequence of str, optional
        ``<target>/<method>`` folders under ``design/`` to report, in order; default every
        folder that holds a ``validation.json``.
    """
    campaign = Path(campaign)
    if designs is None:
        folders = sorted(p.parent for p in campaign.glob("design/*/*/validation.json"))
    else:
        folders = [campaign / "design" / d for d in designs]
    return {"campaign": campaign.name, "designs": [design_answer(f) for f in folders],
            "surrogate": surrogate_answer(campaign / "surrogate" / "metrics.json"),
            "dataset": dataset_answer(campaign / "dataset.h5")}


def _eta(value, se) -> str:
    return f"{value:.3f} ± {se:.3f}" if se is not None else f"{value:.3f}"


def _design_cells(d: dict) -> list[str]:
    """(design, theta, solver eta +- s.e., miss) of one design, as text lines per cell."""
    target = ", ".join(f"{t:.3g}" for t in d["target"])
    return [f"{d['target_name']}, {d['method'].upper()}\ntarget {target}",
            "\n".join(f"{name} = {value:.4g}" for name, value in d["theta"].items()),
            "\n".join(f"{a}: {_eta(m, s)}" for a, m, s in zip(AXES, d["eta"], d["se"])),
            f"{d['miss']:.3g} %\n{round(d['within'] * d['solved'])} of {d['solved']} within "
            f"±{100 * d['tolerance']:.3g} %"]


def _surrogate_line(s: dict) -> str:
    axes = ", ".join(f"{a} {m:.3g} %" for a, m in zip(AXES, s["mape_axes"]))
    return (f"test MAPE {s['mape']:.3g} % ({axes}) on {s['test_structures']} held-out structures, "
            f"{s['epochs']} epochs")


def _dataset_line(d: dict) -> str:
    shape = "x".join(map(str, d["shape"]))
    splits = ", ".join(f"{k} {v}" for k, v in d["splits"].items())
    cost = "; ".join(f"{prop} solves {sec:.3g} s wall" + (
        f" on {d['ranks']} MPI ranks ({sec * d['ranks'] / 3600:.3g} core-hours)" if d["ranks"] else "")
        for prop, sec in d["solver_seconds"].items() if sec is not None)
    return (f"{d['structures']} structures of {shape} voxels, {d['usable']} usable ({splits}); "
            f"{cost or 'solver time unknown (property chunks missing)'}; dataset.h5 {d['megabytes']:.3g} MB")


def to_html(answer: dict) -> str:
    """The answer as an HTML fragment (no document head: the report embeds it as is)."""
    def cell(text, tag="td"):
        return f"<{tag}>" + "<br>".join(html.escape(line) for line in text.split("\n")) + f"</{tag}>"

    head = "".join(cell(h, "th") for h in ("design", "theta", "solver eta ± s.e.", "miss"))
    rows = "".join("<tr>" + "".join(map(cell, _design_cells(d))) + "</tr>" for d in answer["designs"])
    designs = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if rows
               else "<p>No validated design yet.</p>")
    return (f'<div class="microinv-answer" id="answer">\n'
            f"<p><strong>Validated designs</strong>: theta found for each target and method; eta solved "
            f"numerically on fresh structures at theta (mean ± standard error); miss: discrepancy of the "
            f"mean from the target.</p>\n{designs}\n"
            f"<p><strong>Surrogate</strong>: {html.escape(_surrogate_line(answer['surrogate']))}.</p>\n"
            f"<p><strong>Dataset</strong>: {html.escape(_dataset_line(answer['dataset']))}.</p>\n</div>\n")


def to_text(answer: dict) -> str:
    """The answer as plain text lines."""
    lines = [f"campaign {answer['campaign']}"]
    for d in answer["designs"]:
        design, theta, eta, miss = _design_cells(d)
        lines += ["design " + design.replace("\n", ", "), "  theta: " + theta.replace("\n", ", "),
                  "  solver eta: " + eta.replace("\n", ", "), "  miss: " + miss.replace("\n", ", ")]
    lines += [f"surrogate: {_surrogate_line(answer['surrogate'])}",
              f"dataset: {_dataset_line(answer['dataset'])}"]
    return "\n".join(lines) + "\n"
