"""One module per `microinv <stage>` command: register(subparsers) and run(args)."""
