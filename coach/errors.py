"""The one exception type that reaches a user.

Anything a user can fix (a bad file, a missing folder, a wrong option) is raised as
``UserError`` with a message that says what was found, what was expected and how to fix it.
The CLI prints it without a traceback; the app shows it in the page.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; ``str(err)`` is the whole, actionable message."""
