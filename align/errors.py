"""Errors the CLI reports as one paragraph without a traceback."""


class RunFailure(RuntimeError):
    """A run stopped for a reason a person can act on (exit code 1)."""
