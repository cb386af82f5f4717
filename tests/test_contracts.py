"""The contract suite (``search.testing``) over every shipped space and every shipped study definition."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from search import Task, available_studies
from search.testing import Check, parametrize_with_checks, space_checks, study_checks


@parametrize_with_checks(
    space_checks("spaces.mlp")
    + space_checks("spaces.mlp", task=Task("multiclass", 3))
    + space_checks("spaces.mlp", task=Task("regression"))
    + space_checks("spaces.bow", input_shape=lambda config: (config["vocab_size"],))
)
def test_shipped_spaces(check: Check) -> None:
    check()


def test_the_text_space(tiny_text_module: Path) -> None:
    for check in space_checks("spaces.text", bounds={"handle": [str(tiny_text_module)]}, input_shape=()):
        check()


@parametrize_with_checks([check for name in available_studies() for check in study_checks(name)])
def test_shipped_studies(check: Check) -> None:
    check()


def test_a_space_that_breaks_the_contract_fails_it() -> None:
    class Unseeded:
        """Samples without the trial: the same seed does not give the same suggestions."""

        DEFAULT_BOUNDS: ClassVar[dict[str, list[int]]] = {"units": [1, 100]}

        def __init__(self) -> None:
            self.calls = 0

        def suggest(self, trial: object, **bounds: object) -> dict[str, int]:
            self.calls += 1
            return {"units": self.calls, "batch_size": 32}

        def build(self, config: dict, *, input_shape: tuple, task: Task) -> object:
            return None

    failures = {}
    for check in space_checks(Unseeded()):
        try:
            check()
        except AssertionError as exc:
            failures[check.name.split(": ", 1)[1]] = str(exc)
    assert set(failures) == {
        "a FixedTrial of a trial's params gives its config",
        "the same seed gives the same suggestions",
        "build returns a compiled model for the task",
        "bad bounds are refused with InputError",
    }, failures
