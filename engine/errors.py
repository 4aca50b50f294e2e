"""The one base of qmsflow's errors.

Every error qmsflow raises on purpose derives from :class:`QmsflowError`, so the command line
can catch them all in one place, print the message as one line and exit with the error's
``exit_code``. An exception that does not derive from it is a bug, shown with its traceback.
"""

from __future__ import annotations


class QmsflowError(Exception):
    """Every error qmsflow raises on purpose derives from this class, so the command line can
    print it as one line (its message) and exit with its :attr:`exit_code`.

    A subclass keeps the built-in base its callers catch (``ValueError``, ``LookupError``...)
    by deriving from both.
    """

    #: The command line's exit status when this error stops a command.
    exit_code: int = 1
