"""The campaign's answer: the validated designs first, then the surrogate and the dataset.

:func:`campaign_answer` gathers it from a campaign's files, for each design folder
``design/<target>/<method>/``: the design theta (named as ``design.json`` names it: a_x,
a_y, a_z, eps) and which theta it is (ABC candidate, ABC posterior mean, BO best trial),
the solver's mean eta over the K validation structures with its standard error
s_i / sqrt(K) (s_i the sample standard deviation along axis i), and the miss

    rho = 100 * mean_i |mean_k eta_k,i - eta*_i| / eta*_i   (%)

of that mean from the target eta*, with its bootstrap standard error and the fraction of
structures within the tolerance on all axes; the surrogate's error against the solver on
those structures (``validation.json``) and the expected discrepancy J (+- s.e.) its
search predicted, with BO's reproducibility (``design.json``); the surrogate's test error
(``surrogate/metrics.json``);
the dataset's size and solver cost (``dataset.h5`` and its property chunks). After
active-learning rounds the design of a target and method is the round's that answers
(``active/summary.json``), beside the first design's miss and the extra solves spent.
:func:`to_html` renders it as the HTML fragment the Snakemake report opens on,
:func:`to_text` as lines for a terminal.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from microinv import rve
from microinv.data.chunks import read_json
from microinv.data.dataset import SPLITS, open_dataset
from microinv.data.provenance import read as read_provenance
from microinv.design.records import read_design
from microinv.design.validation import VALIDATION_FORMAT
from microinv.errors import InputError
from microinv.figures.dataset import solve_seconds
from microinv.figures.style import AXES

__all__ = ["campaign_answer", "to_html", "to_text"]


def design_answer(folder) -> dict:
    """The validated design of one ``design/<target>/<method>/`` folder: ``validation.json``
    (the solver's answer) and what the search said of it (``design.json``)."""
    folder = Path(folder)
    validation = read_json(folder / "validation.json", "validation", VALIDATION_FORMAT)
    design = read_design(folder / "design.json")["design"]
    names = design.get("param_names")
    if not names or len(names) != len(validation["theta"]):
        raise InputError(f"{folder / 'design.json'}: design.param_names: expected "
                         f"{len(validation['theta'])} names, got {names}")
    surrogate = validation["surrogate"]
    return {"target_name": folder.parent.name, "method": validation["method"],
            "target": validation["target"], "theta": dict(zip(names, validation["theta"])),
            "validated": validation.get("validated") or design.get("validated"),
            "eta": validation["mean"], "se": validation["sem"],
            "miss": validation["discrepancy_of_mean"], "miss_se": validation["discrepancy_of_mean_sem"],
            "within": validation["hit_fraction"], "tolerance": validation["tolerance"],
            "solved": validation["solved"], "structures": validation["structures"],
            "predictive": validation.get("predictive"),
            "rve": validation.get("rve"),
            "surrogate_mape": surrogate and surrogate["mape_percent"], "search": search_answer(design)}


def loop_answer(campaign: Path, folder: Path) -> dict:
    """The answer of one target and method: the campaign's first design, or, once
    active-learning rounds have run (``active/summary.json``), the design of the round that
    answers, with the first design's miss and the extra solves beside it."""
    first = design_answer(folder)
    summary = campaign / "active" / "summary.json"
    if not summary.is_file():
        return first
    loop = read_json(summary, "active-learning summary")["loops"].get(f"{folder.parent.name}/{folder.name}")
    if loop is None or loop["answer"]["round"] == 0:
        return first
    answer = loop["answer"]
    final = design_answer(Path(answer["validation"]).parent)
    final["target_name"] = first["target_name"]
    final["loop"] = {"round": answer["round"], "solves": answer["solves"], "first_miss": first["miss"],
                     "first_miss_se": first["miss_se"], "stopped": loop["stopped"]}
    return final


def search_answer(design: dict) -> str:
    """What the search predicted for its design (surrogate expected discrepancy J +- s.e.) and,
    when it was refined, the surrogate's discrepancy of the mean before and after."""
    def j(value, se):
        return "unknown" if value is None else f"{value:.3g} %" + ("" if se is None else f" ± {se:.2g} %")

    details = design[design["method"]]
    if design["method"] == "bo":
        text = (f"BO trial {details['trial']}: surrogate J = {j(details['value'], details.get('value_sem'))}; "
                f"reproducible for seed {design['seed']} with concurrent workers (synchronous batches)")
    else:
        text = f"ABC, last tolerance {details['generations'][-1]['tolerance']:.3g} %"
        candidates = details.get("candidates")
        if candidates:
            best, count = candidates["candidates"][candidates["best"]], len(candidates["candidates"])
            text += (f"; {best['source']}" + (f", best of {count} candidates" if count > 1 else "")
                     + f": surrogate J = {j(best['expected_discrepancy'], best['expected_discrepancy_sem'])}")
    refinement = details.get("refinement")
    if refinement and refinement["improved"]:
        text += (f"; refined: surrogate rho of the mean {refinement['start_discrepancy']:.3g} -> "
                 f"{refinement['discrepancy']:.3g} % over {refinement['structures']} structures")
    return text


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
    prior = campaign / "rve" / "prior.json"
    return {"campaign": campaign.name, "designs": [loop_answer(campaign, f) for f in folders],
            "rve": rve.guard(rve.read_rve(prior)) if prior.exists() else None,
            "surrogate": surrogate_answer(campaign / "surrogate" / "metrics.json"),
            "dataset": dataset_answer(campaign / "dataset.h5")}


def _eta(value, se) -> str:
    return f"{value:.3f} ± {se:.3f}" if se is not None else f"{value:.3f}"


def _miss(d: dict) -> str:
    return f"{d['miss']:.3g} %" if d["miss_se"] is None else f"{d['miss']:.3g} ± {d['miss_se']:.2g} %"


#: Column heads of the designs table, one per cell of :func:`_design_cells`.
HEADS = ("design", "theta", "solver eta ± s.e.", "miss ± s.e.", "surrogate")


def _design_cells(d: dict) -> list[str]:
    """(design, theta, solver eta +- s.e., miss, surrogate) of one design, as text lines per cell."""
    target = ", ".join(f"{t:.3g}" for t in d["target"])
    mape = ("MAPE at the design " + ", ".join(f"{a} {m:.3g} %" for a, m in zip(AXES, d["surrogate_mape"]))
            if d["surrogate_mape"] else "not compared")
    loop = d.get("loop")
    rounds = "" if loop is None else (
        f"\nafter {loop['round']} active-learning round{'s' * (loop['round'] > 1)} (+{loop['solves']} solves; "
        f"first design missed {_miss({'miss': loop['first_miss'], 'miss_se': loop['first_miss_se']})})")
    flag = d.get("rve")
    size = "" if flag is None else "\n" + (rve.warning(flag) or f"RVE size L = {flag['rve_size']} <= N = {flag['n']}")
    return [f"{d['target_name']}, {d['method'].upper()}\ntarget {target}\nvalidated: {d['validated']}{rounds}{size}",
            "\n".join(f"{name} = {value:.4g}" for name, value in d["theta"].items()),
            "\n".join(f"{a}: {_eta(m, s)}" for a, m, s in zip(AXES, d["eta"], d["se"]))
            + f"\nK = {d['solved']} solved",
            f"{_miss(d)}\n{round(d['within'] * d['solved'])} of {d['solved']} within "
            f"±{100 * d['tolerance']:.3g} % on all axes" + _predictive(d),
            f"{mape}\n{d['search']}"]


def _predictive(d: dict) -> str:
    """The posterior-predictive hit rate of an ABC design, as a line of the miss cell."""
    check = d.get("predictive")
    if not check:
        return ""
    return (f"\nposterior-predictive: {round(check['hit_fraction'] * check['solved'])} of {check['solved']} "
            f"structures at posterior draws within ±{100 * d['tolerance']:.3g} %")


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


def _rve_line(guard: dict) -> str:
    sizes = ", ".join("?" if n is None else str(n) for n in guard["sizes_needed"])
    return (f"{guard['exceeding']} of {guard['entries']} prior draws ({100 * guard['fraction_exceeding']:.0f} %) "
            f"need an RVE larger than the campaign's N = {guard['n']} ({guard['exceeding_cv']} by the spread of "
            f"eta, {guard['exceeding_gap']} by the bound gap; sizes needed: {sizes}; ? = unknown); eta at N is "
            "an apparent property for them")


def to_html(answer: dict) -> str:
    """The answer as an HTML fragment (no document head: the report embeds it as is)."""
    def cell(text, tag="td"):
        return f"<{tag}>" + "<br>".join(html.escape(line) for line in text.split("\n")) + f"</{tag}>"

    head = "".join(cell(h, "th") for h in HEADS)
    rows = "".join("<tr>" + "".join(map(cell, _design_cells(d))) + "</tr>" for d in answer["designs"])
    designs = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if rows
               else "<p>No validated design yet.</p>")
    return (f'<div class="microinv-answer" id="answer">\n'
            f"<p><strong>Validated designs</strong>: theta found for each target and method; eta solved "
            f"numerically on K fresh structures at theta (mean ± standard error s / √K); miss: discrepancy "
            f"of that mean from the target, 100 mean<sub>i</sub> |η<sub>i</sub> − η*<sub>i</sub>| / "
            f"η*<sub>i</sub> (± bootstrap standard error), and the structures within the tolerance on "
            f"all axes; surrogate: its error against the solver on the same structures, and the "
            f"expected discrepancy J the search predicted.</p>\n{designs}\n"
            f"<p><strong>Surrogate</strong>: {html.escape(_surrogate_line(answer['surrogate']))}.</p>\n"
            f"<p><strong>Dataset</strong>: {html.escape(_dataset_line(answer['dataset']))}.</p>\n"
            + (f"<p><strong>Representative volume</strong> (warning, not a stop): "
               f"{html.escape(_rve_line(answer['rve']))}.</p>\n" if answer.get("rve") else "")
            + "</div>\n")


def to_text(answer: dict) -> str:
    """The answer as plain text lines."""
    lines = [f"campaign {answer['campaign']}"]
    for d in answer["designs"]:
        design, theta, eta, miss, surrogate = (c.replace("\n", ", ") for c in _design_cells(d))
        lines += [f"design {design}", f"  theta: {theta}", f"  solver eta: {eta}", f"  miss: {miss}",
                  f"  surrogate: {surrogate}"]
    lines += [f"surrogate: {_surrogate_line(answer['surrogate'])}",
              f"dataset: {_dataset_line(answer['dataset'])}"]
    if answer.get("rve"):
        lines.append(f"representative volume: {_rve_line(answer['rve'])}")
    return "\n".join(lines) + "\n"
