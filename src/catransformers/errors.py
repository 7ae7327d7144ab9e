"""User-facing errors: raised for bad input, printed by the CLI as one line with exit code 2."""


class UserError(Exception):
    """A problem with what the user asked for (unknown id, malformed value, missing file).

    The message names the problem and how to fix it; the CLI prints it without a traceback.
    """
