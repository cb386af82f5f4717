"""The one exception type that the CLI turns into a one-line error message."""

from __future__ import annotations

__all__ = ["SearchError"]


class SearchError(Exception):
    """A problem with the user's input or environment, reported as one line.

    Raised before anything is written, so that a failed command leaves the study
    database and the data untouched.

    Example:
        >>> raise SearchError("unknown study 'imdb-bowl'")
        Traceback (most recent call last):
        ...
        search._errors.SearchError: unknown study 'imdb-bowl'
    """
