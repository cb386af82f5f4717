"""The contract test suite: what every space and every study definition must satisfy.

Run it over a space or a study of one's own, as this project runs it over every
shipped one (in the spirit of Optuna's ``optuna.testing`` storage tests and
scikit-learn's ``parametrize_with_checks``)::

    from search.testing import parametrize_with_checks, space_checks

    @parametrize_with_checks(space_checks("my_project.my_space"))
    def test_my_space(check):
        check()

Examples:
    >>> checks = space_checks("spaces.mlp") + study_checks("iris")
    >>> len(checks)
    11
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.testing._checks import Check, space_checks, study_checks

__all__ = ["Check", "parametrize_with_checks", "space_checks", "study_checks"]


def parametrize_with_checks(checks: Sequence[Check]) -> Any:
    """A ``pytest.mark.parametrize`` over ``checks``, one test each, named by the check.

    The decorated test takes one argument, ``check``, and calls it.
    """
    import pytest  # a test-time dependency: only when a test suite asks for it

    return pytest.mark.parametrize("check", list(checks), ids=[check.name for check in checks])
