"""Workflow Run RO-Crate of a campaign: ``results/<campaign>/ro-crate-metadata.json``.

The campaign folder becomes the crate (https://w3id.org/ro/wfrun/workflow/0.5, which
extends the Process Run Crate, https://w3id.org/ro/wfrun/process/0.5):

* the workflow: a copy of the Snakefile and its rules, schema and report captions at the
  crate root, the ``Snakefile`` being the main entity (``ComputationalWorkflow``, language
  Snakemake), its ``version`` the git commit of the copied source;
* every file of the campaign (the resolved ``config.json``, chunks, dataset, surrogate,
  designs, figures, logs) as a ``File`` with ``sha256``, ``contentSize`` and format;
* one ``CreateAction`` per output file that carries a provenance record, i.e. per job of a
  stage: the command line, start and end time, the inputs (``object``) and the output
  (``result``), the software (``instrument``: microinv with its version and git commit,
  Python) and the stage's settings (solver tolerances, design options) as
  ``PropertyValue`` objects;
* one ``CreateAction`` for the whole run, with the workflow as instrument, the resolved
  config as object and every product as result; the root dataset ``mentions`` it.

Everything comes from the provenance records; nothing is re-run.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

from microinv.audit.campaign import BOOKKEEPING, Campaign, stage_of
from microinv.data import provenance
from microinv.data.atomic import atomic_path
from microinv.errors import InputError

METADATA = "ro-crate-metadata.json"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
#: Files of the workflow definition copied into the crate, relative to the Snakefile's folder.
WORKFLOW_FILES = ("Snakefile", "workflow/rules/*.smk", "workflow/schemas/*.yaml",
                  "workflow/report/*.rst", "envs/*.yaml")
FORMATS = {".h5": "application/x-hdf5", ".json": "application/json", ".png": "image/png",
           ".log": "text/plain", ".tsv": "text/tab-separated-values", ".xdmf": "application/xml",
           ".yaml": "application/yaml", ".rst": "text/x-rst", ".smk": "text/plain",
           ".html": "text/html", ".ckpt": "application/octet-stream"}
COMPLETED = "http://schema.org/CompletedActionStatus"


def default_workflow() -> Path | None:
    """The Snakefile of the source tree microinv runs from, if there is one."""
    path = Path(__file__).resolve().parents[2] / "Snakefile"
    return path if path.is_file() else None


def copy_workflow(snakefile, folder) -> list[str]:
    """Copy the workflow definition beside the campaign's files; its relative paths."""
    snakefile = Path(snakefile)
    if not snakefile.is_file():
        raise InputError(f"{snakefile}: workflow Snakefile not found (give --workflow)")
    source, copied = snakefile.parent, []
    for pattern in WORKFLOW_FILES:
        for path in sorted(source.glob(pattern)):
            rel = path.relative_to(source).as_posix()
            with atomic_path(Path(folder) / rel) as tmp:
                shutil.copyfile(path, tmp)
            copied.append(rel)
    return copied


def build_crate(folder, *, workflow_files=(), exclude=()):
    """The crate of ``folder`` (a :class:`rocrate.rocrate.ROCrate`, not yet written).

    ``workflow_files`` are the copied workflow definition, ``Snakefile`` first;
    ``exclude`` are glob patterns (relative to the campaign) of files left out.
    """
    from rocrate.rocrate import ROCrate

    campaign = Campaign(folder)
    records = campaign.records()
    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
    name = campaign.config.get("campaign", campaign.folder.name)
    root = crate.root_dataset
    root["name"] = f"microinv campaign {name}"
    root["description"] = (f"Inverse-design campaign {name!r} of microinv: {campaign.count} samples, "
                           f"properties {', '.join(campaign.properties)}; every file with its SHA-256 "
                           "and the stage run that made it.")
    root["datePublished"] = provenance.utc_now()
    for profile, (title, version) in PROFILES.items():
        crate.add_jsonld({"@id": profile, "@type": ["CreativeWork", "Profile"], "name": title,
                          "version": version})
    root["conformsTo"] = [{"@id": p} for p in PROFILES]

    files = campaign.files(exclude=(METADATA, *exclude))
    entities = {rel: crate.add_file(campaign.path(rel), rel, properties=_file_properties(campaign, rel))
                for rel in files if rel not in workflow_files[:1]}
    main = _add_workflow(crate, campaign, workflow_files, entities, records)
    software = {}
    actions = [_add_action(crate, campaign, rel, record, entities, software)
               for rel, record in sorted(records.items(), key=lambda kv: kv[1].get("started_utc", ""))]
    products = [entities[rel] for rel in files
                if rel in entities and rel not in workflow_files and rel != "config.json"
                and rel.split("/", 1)[0] not in BOOKKEEPING]
    run = crate.add_action(main, identifier="#campaign-run", object=[entities["config.json"]],
                           result=products, properties={
                               "@type": "CreateAction", "name": f"Snakemake run of campaign {name}",
                               "description": "The campaign workflow, from the resolved config to "
                                              "every product; its jobs are the other CreateActions.",
                               "actionStatus": {"@id": COMPLETED}})
    times = [r[k] for r in records.values() for k in ("started_utc", "ended_utc") if r.get(k)]
    if times:
        run["startTime"], run["endTime"] = min(times), max(times)
    root["mentions"] = [run, *actions]
    return crate


def write_crate(folder, *, workflow=None, exclude=()) -> Path:
    """Copy the workflow into the campaign folder and write its ``ro-crate-metadata.json``."""
    folder = Path(folder)
    workflow = workflow or default_workflow()
    if workflow is None:
        raise InputError("cannot find the workflow's Snakefile: give --workflow PATH/Snakefile")
    copied = copy_workflow(workflow, folder)
    crate = build_crate(folder, workflow_files=copied, exclude=exclude)
    out = folder / METADATA
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(crate.metadata.generate(), indent=1, ensure_ascii=False) + "\n")
    return out


def _file_properties(campaign: Campaign, rel: str) -> dict:
    path = campaign.path(rel)
    props = {"name": rel, "contentSize": str(path.stat().st_size), "sha256": provenance.sha256_file(path)}
    if path.suffix in FORMATS:
        props["encodingFormat"] = FORMATS[path.suffix]
    if rel == "config.json":
        props["description"] = "The resolved campaign configuration (every default filled in)."
    return props


def _add_workflow(crate, campaign, workflow_files, entities, records):
    """The Snakefile as main entity, with the rest of the definition as its parts."""
    snakefile = workflow_files[0] if workflow_files else "Snakefile"
    commits = sorted({r.get("git_commit") for r in records.values() if r.get("git_commit")})
    copied_at = provenance.git_commit()
    properties = _file_properties(campaign, snakefile)
    properties.update(
        name="microinv campaign workflow",
        version=copied_at,
        description=(f"Snakemake workflow of microinv, copied at commit {copied_at}; the campaign's "
                     f"files were made at commit(s) {', '.join(commits) or 'unknown'}."),
        hasPart=[{"@id": entities[rel].id} for rel in workflow_files[1:] if rel in entities])
    return crate.add_workflow(campaign.path(snakefile), snakefile, main=True, lang="snakemake",
                              lang_version=_version("snakemake"), properties=properties)


def _version(package) -> str | None:
    """Installed version of ``package`` (None when it is not installed here)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _add_action(crate, campaign, rel, record, entities, software):
    """The CreateAction of the job that wrote ``rel``."""
    stage = stage_of(record)
    inputs = []
    for recorded, digest in (record.get("inputs_sha256") or {}).items():
        path = campaign.resolve(recorded)
        name = campaign.rel(path)
        if name not in entities:  # an input outside the campaign folder
            entities[name] = crate.add_jsonld({"@id": path.resolve().as_uri(), "@type": "File",
                                               "name": recorded, "sha256": digest})
        inputs.append(entities[name])
    params = [_parameter(crate, f"{key}.{sub}", value)
              for key, settings in record.items() if isinstance(settings, dict)
              and key not in ("config", "inputs_sha256") for sub, value in settings.items()]
    props = {"@type": "CreateAction", "name": f"microinv {stage}: {rel}",
             "description": f"{record.get('command', '')} (host {record.get('host', 'unknown')})",
             "actionStatus": {"@id": COMPLETED}}
    for key, field in (("started_utc", "startTime"), ("ended_utc", "endTime")):
        if record.get(key):
            props[field] = record[key]
    return crate.add_action(_software(crate, record, software), identifier=f"#run/{rel}",
                            object=inputs + params, result=[entities[rel]], properties=props)


def _software(crate, record, software):
    """microinv (version, git commit) and the Python it ran on, one entity per combination."""
    version, commit = record.get("microinv_version", "unknown"), record.get("git_commit", "unknown")
    python = record.get("python")
    key = (version, commit, python)
    if key not in software:
        props = {"@type": "SoftwareApplication", "name": "microinv", "version": version,
                 "softwareVersion": f"{version} (git {commit})"}
        if python:
            py = f"#python-{python}"
            if crate.get(py) is None:
                crate.add_jsonld({"@id": py, "@type": "SoftwareApplication", "name": "Python",
                                  "version": python})
            props["softwareRequirements"] = {"@id": py}
        software[key] = crate.add_jsonld({"@id": f"#microinv-{version}-{commit}-py{python}", **props})
    return software[key]


def _parameter(crate, name, value):
    """A PropertyValue shared by every action with the same setting."""
    text = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
    ident = f"#setting/{name}={text}"
    return crate.get(ident) or crate.add_jsonld({"@id": ident, "@type": "PropertyValue", "name": name,
                                                 "value": text})
