"""``microinv process``: goal-oriented process design of a process campaign, stage by stage.

* ``microinv process grid``: the reference grid, ``process_design.reference_grid`` points per
  parameter of phi x ``reference_structures`` structures, each solved numerically (log10 k
  per axis): ``reference-grid.h5`` (``cells`` (G,), ``phi`` (G, P), ``m`` (G, K, dim));
  with ``--part I`` only the I-th ``reference_points_per_job`` grid points (one workflow
  job), which ``microinv process merge-grid`` joins into the grid;
* ``microinv process design --box NAME``: phi* maximising the Monte Carlo
  P(m in M_d | phi) of the box, an Optuna study in ``study.journal`` beside ``design.json``
  (a killed job resumes it);
* ``microinv process validate --box NAME``: ``validation_count`` fresh structures at phi*
  (and at the grid's phi_ref) solved numerically: ``validation.json`` with ``phi``,
  ``p_in_target``, ``p_in_target_ci`` (Wilson 95 %), ``phi_ref``, ``p_ref``;
* ``microinv process figures``: the p(M_d | phi) map with phi* and phi_ref, the property
  cloud of the dataset with the boxes, sample structures of each phi*.

The properties of the design's structures are predicted by the 2D CNN surrogate of log10 k
given with ``--surrogate CKPT`` (config ``process_design.predictor: surrogate``; batched, on
CUDA when present, the ensemble's mean), else by the numerical Stokes solver in this process
(one rank; about 0.03 s per structure at 36^2, both axes). The re-selection of phi* among
the study's best trials, the validation and the reference grid are always solved
numerically. The design's structures are those of :mod:`microinv.design.goal`'s seed
streams of the campaign seed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np

from microinv.commands.common import load_config
from microinv.data import layout, provenance
from microinv.data.atomic import atomic_path, write_json
from microinv.data.chunks import open_h5, read_json
from microinv.errors import InputError

log = logging.getLogger("microinv.process")
#: The numerical predictor of m, as design.json names it.
SOLVER = "numerical solver (log10 k, Stokes)"


def register(sub):
    p = sub.add_parser("process", help="goal-oriented process design (process campaigns)")
    stages = p.add_subparsers(dest="stage", required=True, metavar="<step>")
    grid = stages.add_parser("grid", help="reference grid of phi (or one part of it), solved numerically")
    merge = stages.add_parser("merge-grid", help="the reference grid of its parts")
    design = stages.add_parser("design", help="phi* of one target box (Optuna, Monte Carlo)")
    validate = stages.add_parser("validate", help="fresh structures at phi* and phi_ref, solved")
    figures = stages.add_parser("figures", help="p map, property cloud, structures")
    for q in (grid, merge, design, validate, figures):
        q.add_argument("--config", required=True, help="campaign config (a process campaign)")
    grid.add_argument("--part", type=int, metavar="I",
                      help="only part I of the grid: its I-th process_design.reference_points_per_job points")
    merge.add_argument("parts", nargs="+", help="the parts' files (microinv process grid --part)")
    for q in (design, validate):
        q.add_argument("--box", required=True, help="target box (process_design.boxes)")
    design.add_argument("--surrogate", metavar="CKPT",
                        help="predict m with this surrogate checkpoint (model.ckpt of `microinv train`) "
                             "instead of the numerical solver")
    validate.add_argument("--design", required=True, help="design.json of the box")
    for q in (validate, figures):
        q.add_argument("--grid", required=True, help="reference-grid.h5")
    figures.add_argument("--dataset", required=True, help="dataset.h5 (the property cloud)")
    figures.add_argument("--validations", nargs="+", required=True, help="validation.json of every box")
    for q in (grid, merge, design, validate):
        q.add_argument("-o", "--output", required=True, help="output file")
    figures.add_argument("-o", "--output", required=True, help="output folder")
    grid.set_defaults(func=run_grid)
    merge.set_defaults(func=run_merge_grid)
    design.set_defaults(func=run_design)
    validate.set_defaults(func=run_validate)
    figures.set_defaults(func=run_figures)


class _Setting:
    """What every step takes from the config: process model, boxes, bounds, solver."""

    def __init__(self, args):
        from microinv.config import is_process_campaign
        from microinv.design.goal import TargetBox
        from microinv.microstructure import ProcessPrior
        from microinv.microstructure.models import process_model
        from microinv.microstructure.process import FAMILIES

        self.cfg = cfg = load_config(args)
        if not is_process_campaign(cfg):
            raise InputError(f"{args.config}: process: missing; `microinv process` designs process campaigns")
        self.design = cfg["process_design"]
        self.boxes = [TargetBox(name, bounds) for name, bounds in self.design["boxes"].items()]
        self.model = process_model(cfg["structure"]["n"], cfg["structure"]["dim"], cfg["process"])
        prior = ProcessPrior(cfg["process"]["family"])
        self.bounds, self.names = np.stack(prior.bounds, axis=1), FAMILIES[prior.family][1]
        self.seed = cfg["seed"]
        self.inputs = [args.config]

    def box(self, name: str):
        """(index, TargetBox) of the box ``name``."""
        for index, box in enumerate(self.boxes):
            if box.name == name:
                return index, box
        raise InputError(f"--box: {name!r} is not one of process_design.boxes {[b.name for b in self.boxes]}")

    def solver(self):
        """The numerical predictor of m: log10 k per axis of each structure, in this process."""
        import petsc4py

        petsc4py.init([])
        from petsc4py import PETSc

        from microinv.physics.log_permeability import log10_permeabilities

        floor, rtol = self.design["log10_k_floor"], self.cfg["solve"]["rtol"]

        def predict(structures):
            return log10_permeabilities(structures, floor=floor, rtol=rtol, comm=PETSc.COMM_SELF).values

        return predict

    def surrogate(self, path, batch_size: int = 256):
        """The surrogate predictor of m: ``predict(structures (K, n, n)) -> m (K, dim)`` and its description.

        m_d is the network's log10 k of the structure with axis d moved first (the ensemble's
        mean), batched, on CUDA when present, else on the CPU; the floor where the pore phase
        does not wrap along d (:meth:`microinv.surrogate.targets.LogPermeability.finish`).
        """
        from microinv.surrogate import load

        surrogate = load(path)
        floor = self.design["log10_k_floor"]
        if surrogate.target.name != "permeability" or surrogate.dim != self.cfg["structure"]["dim"]:
            raise InputError(f"{path}: --surrogate: a {surrogate.dim}D surrogate of {surrogate.target.name}; the design "
                             f"needs a {self.cfg['structure']['dim']}D surrogate of permeability (log10 k) of this "
                             "campaign's dataset")
        if surrogate.n != self.cfg["structure"]["n"]:
            raise InputError(f"{path}: --surrogate: trained at n = {surrogate.n}, the campaign's structure.n is "
                             f"{self.cfg['structure']['n']}")
        if surrogate.target.floor != floor:
            log.warning("%s: trained with log10_k_floor %g, the config's process_design.log10_k_floor is %g",
                        path, surrogate.target.floor, floor)
        metrics = Path(path).with_name("metrics.json")
        mae = read_json(metrics, "surrogate metrics").get("test", {}).get("mae") if metrics.is_file() else None
        accuracy = f"test MAE {mae:.3f} decades" if mae is not None else "test MAE unknown"
        label = f"surrogate {path} ({accuracy}, {surrogate.members} members, {surrogate.device.type})"

        def predict(structures):
            return np.maximum(surrogate.predict(structures, batch_size=batch_size), floor)

        return predict, label

    def provenance(self, extra=()) -> provenance.Provenance:
        return provenance.Provenance(inputs=[*self.inputs, *extra], config=self.cfg)


def run_grid(args) -> int:
    from microinv.design.goal import reference_grid

    setting = _Setting(args)
    cells = None
    if args.part is not None:
        parts = layout.grid_chunks(setting.cfg)
        if not 0 <= args.part < len(parts):
            raise InputError(f"--part: {args.part} is not a part of the reference grid: it has {len(parts)} "
                             f"(0 .. {len(parts) - 1}; process_design.reference_points_per_job)")
        cells = parts[args.part]
    grid = reference_grid(setting.bounds, setting.design["reference_grid"], setting.design["reference_structures"],
                          make=setting.model, predict=setting.solver(), seed=setting.seed, cells=cells)
    _write_grid(args.output, grid, setting, setting.provenance())
    log.info("reference grid: %d phi x %d structures in %.0f s", *grid["m"].shape[:2], grid["seconds"])
    return 0


def run_merge_grid(args) -> int:
    from microinv.design.goal import merge_grid

    setting = _Setting(args)
    points = layout.grid_chunks(setting.cfg)[-1].stop  # the grid's size, G
    grid = merge_grid({path: read_grid(path) for path in args.parts}, points)
    _write_grid(args.output, grid, setting, setting.provenance(args.parts))
    log.info("reference grid: %d phi x %d structures from %d parts", *grid["m"].shape[:2], len(args.parts))
    return 0


def _write_grid(path, grid: dict, setting, prov: provenance.Provenance) -> None:
    """A reference grid (or part), atomically, with its provenance."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh["cells"], fh["phi"], fh["m"] = grid["cells"], grid["phi"], grid["m"]
        fh["phi"].attrs["names"] = list(setting.names)
        fh.attrs["seconds"] = grid["seconds"]
        provenance.attach(fh, prov.finish())


def read_grid(path) -> dict:
    """``cells``, ``phi``, ``m`` and ``seconds`` of a reference-grid.h5 (or of a part); a
    grid written before the grid had parts has no ``cells``: it is the whole grid, in order."""
    with open_h5(path, required=("phi", "m"), what="reference grid") as fh:
        phi = fh["phi"][()]
        cells = fh["cells"][()] if "cells" in fh else np.arange(len(phi))
        return {"cells": cells, "phi": phi, "m": fh["m"][()], "seconds": float(fh.attrs.get("seconds", 0.0))}


def run_design(args) -> int:
    from microinv.design.goal import design_box

    setting = _Setting(args)
    _, box = setting.box(args.box)
    prov = setting.provenance([args.surrogate] if args.surrogate else [])
    journal = Path(args.output).with_name("study.journal")
    solver = setting.solver()
    if args.surrogate:
        (predict, predictor), identity = setting.surrogate(args.surrogate), prov.inputs[args.surrogate]
    else:
        predict, predictor, identity = solver, SOLVER, f"{SOLVER} rtol {setting.cfg['solve']['rtol']}"
    identity += f", log10_k_floor {setting.design['log10_k_floor']}"
    log.info("design of box %s: m predicted by the %s; re-selection by the %s", box.name, predictor, SOLVER)
    design = design_box(box, bounds=setting.bounds, names=setting.names, make=setting.model,
                        predict=predict, predictor=identity, structures=setting.design["structures"],
                        trials=setting.design["trials"], seed=setting.seed, storage_path=journal,
                        initial_trials=setting.design["initial_trials"], reselect_top=setting.design["reselect"],
                        reselect_structures=setting.design["reselect_structures"], reselect_predict=solver)
    log.info("design of box %s: phi* = %s, p = %.3f, %d predictions in %.0f s", box.name,
             [round(v, 3) for v in design["phi"]], design["p_estimate"], design["evaluations"], design["seconds"])
    write_json(args.output, {**design, "predictor": predictor,
                             **({"reselect_predictor": SOLVER} if "reselection" in design else {}),
                             "provenance": prov.finish()})
    return 0


def run_validate(args) -> int:
    from microinv.design.goal import validate_design

    setting = _Setting(args)
    index, box = setting.box(args.box)
    prov = setting.provenance([args.design, args.grid])
    design = read_json(args.design, "process design")
    if design.get("box") != box.name:
        raise InputError(f"{args.design}: box: {design.get('box')!r}, not the --box {box.name!r}")
    record = validate_design(design["phi"], box, index, count=setting.design["validation_count"],
                             make=setting.model, predict=setting.solver(), seed=setting.seed,
                             grid=read_grid(args.grid))
    write_json(args.output, {**record, "design": design["phi"], "provenance": prov.finish()})
    return 0


def run_figures(args) -> int:
    from microinv.design.goal import design_seeds
    from microinv.figures.process import probability_map, property_cloud
    from microinv.figures.structures import slices
    from microinv.physics.log_permeability import log10_permeability

    setting = _Setting(args)
    out = Path(args.output)
    grid = read_grid(args.grid)
    designs = {}
    for path in args.validations:
        record = read_json(path, "process validation")
        designs[record["box"]] = record
    missing = [b.name for b in setting.boxes if b.name not in designs]
    if missing:
        raise InputError(f"--validations: no validation.json of the boxes {missing}")
    p_map = {box.name: box.contains(grid["m"]).mean(axis=1) for box in setting.boxes}
    probability_map(grid["phi"], p_map, designs, out / "p-map.png", names=setting.names)
    with open_h5(args.dataset, required=("properties/permeability/value", "properties/permeability/status"),
                 what="dataset") as fh:
        group = fh["properties/permeability"]
        m = log10_permeability(group["value"][()], group["status"][()], setting.design["log10_k_floor"])
    property_cloud(m, setting.boxes, out / "cloud.png", floor=setting.design["log10_k_floor"])
    for box in setting.boxes:
        phi = designs[box.name]["phi"]
        structures = setting.model(np.tile(phi, (3, 1)), design_seeds(setting.seed, 3))  # the design's first three
        slices(list(structures), out / f"structures-{box.name}.png",
               titles=[f"{box.name}: phi* = ({', '.join(f'{v:.2f}' for v in phi)})"] + ["", ""])
    return 0
