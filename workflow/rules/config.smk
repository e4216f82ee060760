# The resolved config of a new campaign (see write_resolved_config in common.smk).
rule resolved_config:
    output:
        RESOLVED_CONFIG,
    log:
        f"{CAMPAIGN}/logs/config.log",
    localrule: True
    run:
        write_resolved_config(log[0])
