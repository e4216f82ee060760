# Paths and input functions of the active-learning rules (active.smk).

ACTIVE = f"{CAMPAIGN}/active"
ROUNDS = config["active"]["rounds"]
ROUND = f"{ACTIVE}/round-{{round}}"
LOCAL_REDESIGN = config["active"]["redesign"] == "local"
LOOP = f"{ROUND}/{{target}}/{{method}}"


def batch_record(r, target, method):
    """What round r's batch of target and method holds (count, stopped), from round r's
    round.json: one checkpoint per round, done once every batch of the round is."""
    path = checkpoints.active_round.get(round=r).output[0]
    with open(path) as fh:
        loops = json.load(fh)["loops"]
    return next(l for l in loops if (l["target"], l["method"]) == (target, method))


def answer_round(r, target, method):
    """The round whose design stands for target and method after round r."""
    while r > 0 and batch_record(r, target, method)["stopped"]:
        r -= 1
    return r


def surrogate_round(r):
    """The round whose surrogate is current after round r (the last one with new data)."""
    while r > 0 and not any(
        batch_record(r, t, m)["count"] for t in TARGETS for m in METHODS
    ):
        r -= 1
    return r


def loop_folder(r, target, method):
    if r == 0:
        return f"{CAMPAIGN}/design/{target}/{method}"
    return f"{ACTIVE}/round-{r}/{target}/{method}"


def surrogate_of(r):
    if r == 0:
        return f"{CAMPAIGN}/surrogate/model.ckpt"
    return f"{ACTIVE}/round-{r}/surrogate/model.ckpt"


def acquire_inputs(wildcards):
    r = int(wildcards.round)
    folder = loop_folder(
        answer_round(r - 1, wildcards.target, wildcards.method),
        wildcards.target,
        wildcards.method,
    )
    inputs = {
        "design": f"{folder}/design.json",
        "validation": f"{folder}/validation.json",
        "surrogate": surrogate_of(surrogate_round(r - 1)),
    }
    if r > 1:
        inputs["previous"] = (
            f"{ACTIVE}/round-{r - 1}/{wildcards.target}/{wildcards.method}/batch.json"
        )
    return inputs


def earlier_inputs(method):
    """Input function: what round r's design of a target and ``method`` starts from, the
    validated design of round r - 1: its design.json (``active.redesign: local``) and its
    solved validation structures, whose surrogate bias corrects the target
    (``active.correct_bias``)."""

    def inputs(wildcards):
        r = int(wildcards.round)
        folder = loop_folder(
            answer_round(r - 1, wildcards.target, method), wildcards.target, method
        )
        found = {}
        if LOCAL_REDESIGN:
            found["start_from"] = f"{folder}/design.json"
        if config["active"]["correct_bias"]:
            found |= {
                "bias_design": f"{folder}/design.json",
                "bias_properties": f"{folder}/validation/diffusivity.h5",
                "bias_structures": f"{folder}/validation/structures.h5",
            }
        return found

    return inputs


def earlier_options(wildcards, input):
    """``--start-from DESIGN`` and ``--bias-from DESIGN PROPERTIES STRUCTURES`` of the inputs."""
    found = options(input, "start_from")
    if "bias_design" in input.keys():
        found += f" --bias-from {input.bias_design} {input.bias_properties} {input.bias_structures}"
    return found


def bo_worker_inputs(wildcards):
    """The round's BO workers (none for a local redesign, which runs no search)."""
    if LOCAL_REDESIGN:
        return {}
    return {
        "workers": expand(
            f"{ACTIVE}/round-{wildcards.round}/{wildcards.target}/bo/workers/{{worker}}.done",
            worker=range(config["design"]["workers"]),
        )
    }


def added_batches(r):
    """Folders of the non-empty batches of rounds 1..r, in sample-index order."""
    return [
        f"{ACTIVE}/round-{q}/{t}/{m}/batch"
        for q in range(1, r + 1)
        for t in TARGETS
        for m in METHODS
        if batch_record(q, t, m)["count"]
    ]


def round_dataset_inputs(wildcards):
    added = added_batches(int(wildcards.round))
    return {
        "structures": [
            *expand(f"{CAMPAIGN}/{layout.STRUCTURES}", chunk=CHUNKS),
            *(f"{b}/structures.h5" for b in added),
        ],
        "properties": [
            *expand(
                f"{CAMPAIGN}/{layout.PROPERTIES}", property=PROPERTIES, chunk=CHUNKS
            ),
            *(f"{b}/{p}.h5" for b in added for p in PROPERTIES),
        ],
    }


def round_dataset_properties(wildcards):
    """--property NAME CHUNK... of every property: the campaign's chunks, then the batches'."""
    added = added_batches(int(wildcards.round))
    return " ".join(
        f"--property {p} "
        + " ".join(
            [
                *(
                    f"{CAMPAIGN}/{layout.PROPERTIES.format(property=p, chunk=c)}"
                    for c in CHUNKS
                ),
                *(f"{b}/{p}.h5" for b in added),
            ]
        )
        for p in PROPERTIES
    )


def active_summary_inputs(wildcards):
    return {
        "batches": expand(
            f"{LOOP}/batch.json",
            round=range(1, ROUNDS + 1),
            target=TARGETS,
            method=METHODS,
        ),
        "validations": [
            f"{loop_folder(answer_round(ROUNDS, t, m), t, m)}/validation.json"
            for t in TARGETS
            for m in METHODS
        ],
    }


def options(input, *keys):
    """``--key value...`` of the named inputs present: a dry run leaves out the inputs of a
    function that waits for a checkpoint of an earlier round."""
    given = [key for key in keys if key in input.keys()]
    return " ".join(
        f"--{key.replace('_', '-')} "
        + (
            " ".join(map(str, input[key]))
            if isinstance(input[key], list)
            else input[key]
        )
        for key in given
    )
