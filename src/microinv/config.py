"""Campaign configuration: load, validate against the JSON schema, fill defaults.

The schema (``config.schema.yaml`` beside this module) documents every key; the workflow
resolves its config with :func:`for_workflow`, so Snakemake and ``microinv config`` read a
file alike. Errors name the file and the key path, e.g.
``config.yaml: samples.per_chunk: 0 is less than the minimum of 1``.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from microinv.errors import InputError
from microinv.splits import split_sizes


#: The config keys each stage's outputs depend on directly, by the campaign folder they live
#: in (``reference_grid``: ``design/reference-grid.h5`` and its parts); ``section.key`` names one
#: key of a section. The workflow re-runs a stage when its keys change
#: (``params.depends_on``); everything upstream reaches it through its input files.
#: ``microinv audit`` compares these keys, and only these, of a stage's records with
#: ``config.json`` (:func:`stage_config`).
STAGE_CONFIG_KEYS = {
    "samples": ("seed", "structure", "samples", "process"),
    "structures": ("seed", "structure", "samples", "process"),
    "properties": ("solve",),
    "dataset": ("splits",),
    "surrogate": ("surrogate",),
    "design": ("design", "process_design"),
    # the numerical ground truth of a process design: not its search settings
    "reference_grid": ("seed", "structure", "process", "solve", "process_design.reference_grid",
                       "process_design.reference_structures", "process_design.log10_k_floor",
                       "process_design.reference_points_per_job"),
    "rve": ("seed", "structure", "rve"),
}


def stage_config(cfg: dict, keys) -> dict:
    """The part of ``cfg`` named by ``keys`` (a :data:`STAGE_CONFIG_KEYS` entry); keys the
    config lacks (the process sections of a spinodoid campaign) are left out.

    Examples
    --------
    >>> stage_config({"seed": 1, "solve": {"rtol": 1e-6, "tasks": 2}, "x": 0}, ("seed", "solve.rtol", "y"))
    {'seed': 1, 'solve': {'rtol': 1e-06}}
    """
    out = {}
    for key in keys:
        section, _, sub = key.partition(".")
        if section not in cfg or (sub and sub not in cfg[section]):
            continue
        if sub:
            out.setdefault(section, {})[sub] = cfg[section][sub]
        else:
            out[section] = cfg[section]
    return out


#: Top-level keys present only in some campaigns (process campaigns); a stage's slice of the
#: config leaves out those a campaign lacks, so existing campaigns keep their slices.
OPTIONAL_KEYS = ("process", "process_design")


def is_process_campaign(cfg: dict) -> bool:
    """Whether ``cfg`` (resolved) makes structures with the process model (a process section)."""
    return "process" in cfg


@functools.cache
def schema() -> dict:
    """The campaign schema as a dict."""
    return yaml.safe_load(resources.files("microinv").joinpath("config.schema.yaml").read_text())


def _with_defaults(validator_class):
    """A validator class that also fills in ``default`` values (jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema_):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema_)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def resolve(config: dict, *, source="config") -> dict:
    """Validate ``config`` and return a copy with every default filled in.

    Two checks: the JSON schema, key by key; then :func:`campaign_errors`, the constraints
    across keys that a later stage would otherwise enforce only once it runs.

    Raises
    ------
    InputError
        Naming ``source`` and the key path of the first problem found.
    """
    resolved = copy.deepcopy(config) if config is not None else {}
    if not isinstance(resolved, dict):
        raise InputError(f"{source}: the top level must be a mapping of keys, not {type(config).__name__}")
    errors = sorted(_Validator(schema()).iter_errors(resolved), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise InputError(f"{source}: {where}: {err.message}")
    problem = next(campaign_errors(resolved), None)
    if problem:
        raise InputError(f"{source}: {problem[0]}: {problem[1]}")
    return resolved


def campaign_errors(cfg: dict):
    """The constraints across keys of a schema-valid config, as ``(key, message)`` pairs.

    Each is one a later stage enforces: a campaign that breaks it would sample, generate
    and solve for hours before failing.

    * ``splits`` sum to 1, and each split gets at least one of the ``samples.count``
      samples (``round(f * count)`` rows for train and val, the rest for test, as the
      aggregate stage splits; the surrogate needs all three);
    * ``structure.n`` is a multiple of ``2 ** (len(surrogate.conv_widths) + 1)``: the
      surrogate downsamples by 2 and pools by 2 once per conv block (``SurrogateNet``);
    * ``design.tolerances`` do not increase (ABC-PMC tightens them generation by generation);
    * ``solve.properties`` includes ``diffusivity``: the surrogate learns it and the
      designs are validated with it;
    * a spinodoid campaign is 3D; a process campaign (one with a ``process`` section) has the
      dimension of its family, ``samples.count`` a multiple of its ``structures_per_phi``,
      permeability among its properties instead of diffusivity (its designs are boxes of
      log10 k, ``process_design.boxes``, one interval per axis) and no diffusivity targets.
    """
    splits, count = cfg["splits"], cfg["samples"]["count"]
    total = sum(splits.values())
    if abs(total - 1.0) > 1e-9:
        yield "splits", f"train + val + test must be 1, got {total:g}"
        return
    for name, k in split_sizes(splits, count).items():
        if k < 1:
            yield (f"splits.{name}", f"{splits[name]:g} of samples.count={count} rounds to no sample; the "
                                     f"surrogate needs one in each split (raise splits.{name} or samples.count)")
    n, blocks = cfg["structure"]["n"], len(cfg["surrogate"]["conv_widths"])
    multiple = 2 ** (blocks + 1)
    if n % multiple:
        yield ("structure.n", f"{n} is not a multiple of {multiple}: the surrogate downsamples by 2 and pools "
                              f"by 2 in each of its {blocks} conv blocks (surrogate.conv_widths); "
                              f"use e.g. {-(-n // multiple) * multiple}")
    tolerances = cfg["design"]["tolerances"]  # a list, or the name of a decreasing schedule
    if isinstance(tolerances, list) and any(b > a for a, b in zip(tolerances, tolerances[1:])):
        yield "design.tolerances", f"{tolerances} must not increase (ABC-PMC tightens them generation by generation)"
    if is_process_campaign(cfg):
        yield from _process_errors(cfg)
        return
    if cfg["structure"]["dim"] != 3:
        yield "structure.dim", f"{cfg['structure']['dim']}: a spinodoid campaign is 3D (2D needs structure.model: process)"
    if "diffusivity" not in cfg["solve"]["properties"]:
        yield ("solve.properties", f"{cfg['solve']['properties']} lacks diffusivity: the surrogate learns it "
                                   "and the designs are validated with it")


def _process_errors(cfg: dict):
    """The constraints of a process campaign (see :func:`campaign_errors`)."""
    from microinv.microstructure.process import FAMILIES

    process, dim = cfg["process"], cfg["structure"]["dim"]
    family_dim = FAMILIES[process["family"]][0]
    if dim != family_dim:
        yield "structure.dim", f"{dim} differs from the {family_dim}D of process.family={process['family']}"
    count, per_phi = cfg["samples"]["count"], process["structures_per_phi"]
    if count % per_phi:
        yield ("samples.count", f"{count} is not a multiple of process.structures_per_phi={per_phi} "
                                "(each phi has that many structures)")
    if "permeability" not in cfg["solve"]["properties"]:
        yield "solve.properties", f"{cfg['solve']['properties']} lacks permeability: process designs are boxes of log10 k"
    if cfg["design"]["targets"]:
        yield ("design.targets", "must be {} in a process campaign: its targets are the boxes of "
                                 "process_design.boxes")
    for name, box in cfg["process_design"]["boxes"].items():
        if len(box) != dim or any(low >= high for low, high in box):
            yield (f"process_design.boxes.{name}", f"{box} must be {dim} intervals [low, high] of log10 k, "
                                                   "low < high, one per axis")


def read(path) -> dict:
    """The content of a YAML or JSON config file, not yet validated.

    Raises
    ------
    InputError
        Naming the file, when it cannot be read or parsed (with line and column).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"{path}: cannot read config ({err.strerror})") from err
    try:
        return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{path}: not valid YAML ({where}{problem})") from err


def load(path) -> dict:
    """Read a YAML or JSON config file, validate it and fill defaults."""
    return resolve(read(path), source=str(path))


def for_workflow(given: dict, configfiles, *, default) -> dict:
    """The config of a Snakemake run: the same as ``microinv config`` makes of the same file.

    Snakemake would merge ``--configfile`` over a ``configfile:`` of the Snakefile, so a
    campaign config would inherit whatever the default campaign sets. The Snakefile declares
    none; this function applies the defaults of the schema instead.

    Parameters
    ----------
    given : dict
        Snakemake's ``config``: the ``--configfile`` files merged in order, then ``--config``.
    configfiles : sequence of path-like
        The ``--configfile`` files (``workflow.overwrite_configfiles``); none: the run is
        the campaign of ``default``, with ``--config`` settings merged over it.
    default : path-like
        The default campaign's config file.
    """
    if configfiles:
        return resolve(given, source=", ".join(map(str, configfiles)))
    return resolve(_merged(read(default), given), source=str(default))


def _merged(base, over):
    """``over`` merged into a copy of ``base``, mappings key by key (as Snakemake merges)."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return copy.deepcopy(over)
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(base[key], value) if key in base else copy.deepcopy(value)
    return out
