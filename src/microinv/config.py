"""Campaign configuration: load, validate against the JSON schema, fill defaults.

The schema (``config.schema.yaml`` beside this module, also used by the Snakefile)
documents every key. Errors name the file and the key path, e.g.
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


#: The top-level config keys each stage's outputs depend on directly, by the campaign folder
#: they live in. The workflow re-runs a stage when its keys change (``params.depends_on``);
#: everything upstream reaches it through its input files. ``microinv audit`` compares these
#: keys, and only these, of a stage's records with ``config.json``.
STAGE_CONFIG_KEYS = {
    "samples": ("seed", "structure", "samples"),
    "structures": ("seed", "structure", "samples"),
    "properties": ("solve",),
    "dataset": ("splits",),
    "surrogate": ("surrogate",),
    "design": ("design",),
}


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
    splits = resolved["splits"]
    if abs(sum(splits.values()) - 1.0) > 1e-9:
        raise InputError(f"{source}: splits: train + val + test must be 1, got {sum(splits.values()):g}")
    return resolved


def load(path) -> dict:
    """Read a YAML or JSON config file, validate it and fill defaults."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"{path}: cannot read config ({err.strerror})") from err
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid YAML/JSON: {err}") from err
    return resolve(data, source=str(path))
