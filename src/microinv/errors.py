"""Errors a user can fix, reported by the CLI without a traceback."""


class InputError(ValueError):
    """Bad input: the message names the file and the field and says what to do.

    A `ValueError`, so that code which catches bad values catches these too.
    """
