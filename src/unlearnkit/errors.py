"""The one exception type users see for bad input (the CLI turns it into exit code 2)."""


class UnlearnkitError(ValueError):
    """Bad input: the message names the problem and the fix."""


class CompositionError(UnlearnkitError):
    """A method cannot use the requested weighting or target (a bench grid skips these combinations)."""
