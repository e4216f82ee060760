"""Errors a user can fix, reported by the CLI without a traceback."""


class InputError(Exception):
    """Bad input: the message names the file and the field and says what to do."""
