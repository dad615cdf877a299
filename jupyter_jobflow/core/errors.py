"""The one error hierarchy of jupyter-jobflow.

Every error a user can cause is a ``JobflowError`` whose ``str()`` is a single line that names
the problem and, where there is one, the fix. Fronts print ``str(err)``; the server maps the class
to an HTTP status once (``status`` below), and the client turns it back into the same class.
"""

from __future__ import annotations


class JobflowError(Exception):
    """Base of every error jupyter-jobflow raises on purpose."""

    status = 400


class InvalidSpec(JobflowError):
    """Bad user input: a dependency string, a time limit, a directive, an option.

    Raised before anything is stored, so nothing is submitted or changed.
    """

    status = 400


class HelpRequested(InvalidSpec):
    """``-h``/``--help`` among parsed words. A terminal prints ``text`` and exits 0 (``cli.run``);
    anywhere else (the server, a kernel) it is an ordinary one-line error, never an exit."""

    def __init__(self, text: str):
        super().__init__("--help only works in a terminal: run the command there with -h")
        self.text = text


#: The name docs/rules.md (Messages) gives to submit-time validation errors.
JobflowSubmitError = InvalidSpec


class NotFound(JobflowError):
    """A job (or other object) id that the store does not hold."""

    status = 404


class Conflict(JobflowError):
    """The request is valid but the job's state forbids it (cancel a finished job, ...)."""

    status = 409


class Unavailable(JobflowError):
    """The service cannot do this now: no scheduler running, state directory locked, ..."""

    status = 503


class IllegalTransition(Conflict):
    """An internal state change that docs/rules.md's table "What moves a job" does not allow."""
