"""The checks every space and every study definition must pass, as named callables."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import Task
from search.engine import check_sets, check_study, load_study_config, portfolio_sets, run_study
from search.errors import InputError
from search.models import LoadedSpace, Space, load_space

if TYPE_CHECKING:
    import optuna

__all__ = ["Check", "space_checks", "study_checks"]

InputShape = tuple[int, ...] | Callable[[dict[str, Any]], tuple[int, ...]]


@dataclasses.dataclass(frozen=True)
class Check:
    """One named check: call it; it raises ``AssertionError`` naming what is wrong.

    Attributes:
        name: What is checked, e.g. ``"spaces.mlp: suggest with a FixedTrial"``.
        run: The check itself.
    """

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


def _sample(space: LoadedSpace, bounds: dict[str, Any], *, seed: int, n: int) -> list[tuple[dict[str, Any], Any]]:
    """``n`` configurations and their trials from a seeded random sampler."""

    study = _throwaway(seed)
    samples = []
    for _ in range(n):
        trial = study.ask()
        config = space.suggest(trial, bounds)
        study.tell(trial, 0.0)
        samples.append((config, trial))
    return samples


def _reversed_ranges(space: LoadedSpace, bounds: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each ``[low, high]`` range bound with ``low < high``, as ``[high, low]``.

    A bound whose parameter the space samples as a choice is a list of two
    choices, not a range, and is left out.
    """
    import optuna

    sampled = _sample(space, {}, seed=4, n=1)[0][1].distributions
    for name, value in bounds.items():
        numeric = isinstance(value, list) and len(value) == 2
        numeric = numeric and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        choice = isinstance(sampled.get(name), optuna.distributions.CategoricalDistribution)
        if numeric and value[0] < value[1] and not choice:
            yield name, [value[1], value[0]]


def space_checks(
    space: str | Space,
    *,
    bounds: dict[str, Any] | None = None,
    task: Task | None = None,
    input_shape: InputShape = (8,),
) -> list[Check]:
    """The checks every space must pass (:class:`search.models.Space`).

    Args:
        space: A module name (``"spaces.mlp"``) or a space object.
        bounds: Bound overrides to sample with (e.g. a local embedding handle).
        task: The task ``build`` is checked for; default binary classification.
        input_shape: The shape of one example for ``build``, or a function of the
            configuration that gives it (a space whose inputs depend on it).

    Returns:
        Named checks: the protocol, JSON-able configurations with a ``batch_size``,
        suggestions replayed by a ``FixedTrial``, the same seed giving the same
        suggestions, a compiled model fit for the task, bad bounds refused, a
        portfolio of distinct parameter sets that the space samples within the bounds.

    Examples:
        >>> for check in space_checks("spaces.mlp"):
        ...     check()
        >>> [check.name for check in space_checks("spaces.mlp")][:2]
        ['spaces.mlp: satisfies the Space protocol', 'spaces.mlp: suggest returns JSON-able configs with a batch size']
    """
    loaded = load_space(space)
    bounds = dict(bounds or {})
    task = task or Task("binary")
    name = loaded.name

    def protocol() -> None:
        assert isinstance(loaded.space, Space), f"{name} lacks suggest() or build()"

    def jsonable() -> None:
        for config, _ in _sample(loaded, bounds, seed=0, n=5):
            assert isinstance(config, dict), f"{name}.suggest returned {type(config).__name__}, not a dict"
            assert json.loads(json.dumps(config)) == config, (
                f"{name}.suggest returned a config that is not JSON: {config}"
            )
            batch = config.get("batch_size")
            assert isinstance(batch, int) and batch > 0, f"{name}: config has no positive integer batch_size: {config}"

    def fixed_trial() -> None:
        import optuna

        for config, trial in _sample(loaded, bounds, seed=1, n=5):
            again = loaded.suggest(optuna.trial.FixedTrial(trial.params), bounds)
            assert again == config, f"{name}: FixedTrial({trial.params}) gave {again}, the trial gave {config}"

    def same_seed() -> None:
        first = [c for c, _ in _sample(loaded, bounds, seed=7, n=5)]
        second = [c for c, _ in _sample(loaded, bounds, seed=7, n=5)]
        assert first == second, f"{name}: the same sampler seed gave other suggestions"

    def builds() -> None:
        import keras

        for config, _ in _sample(loaded, bounds, seed=2, n=2):
            shape = input_shape(config) if callable(input_shape) else input_shape
            model = loaded.build(config, input_shape=shape, task=task)
            assert isinstance(model, keras.Model), f"{name}.build returned {type(model).__name__}, not a keras.Model"
            assert model.optimizer is not None and model.compiled, f"{name}.build returned an uncompiled model"
            units = model.outputs[0].shape[-1]
            assert units == task.output_units, f"{name}: {units} output units for a {task.kind} task"
            keras.backend.clear_session()

    def bad_bounds() -> None:
        try:
            loaded.suggest(_sample_trial(), {**bounds, "no_such_bound": [1, 2]})
        except InputError:
            pass
        else:
            raise AssertionError(f"{name}: an unknown bound was accepted")
        for bound, reversed_range in _reversed_ranges(loaded, loaded.default_bounds):
            try:
                loaded.suggest(_sample_trial(), {**bounds, bound: reversed_range})
            except InputError:
                continue
            raise AssertionError(f"{name}: the reversed range {bound} = {reversed_range} was accepted")

    def portfolio() -> None:
        sets = portfolio_sets(loaded, bounds)
        assert len(sets) == len(loaded.portfolio), f"{name}: portfolio sets that are empty or the same within bounds"
        try:  # what run_study checks before it queues them
            check_sets(sets, loaded, bounds, what="portfolio set")
        except InputError as exc:
            raise AssertionError(f"{name}: {exc}") from None

    return [
        Check(f"{name}: satisfies the Space protocol", protocol),
        Check(f"{name}: suggest returns JSON-able configs with a batch size", jsonable),
        Check(f"{name}: a FixedTrial of a trial's params gives its config", fixed_trial),
        Check(f"{name}: the same seed gives the same suggestions", same_seed),
        Check(f"{name}: build returns a compiled model for the task", builds),
        Check(f"{name}: bad bounds are refused with InputError", bad_bounds),
        Check(f"{name}: its portfolio, moved into the bounds, is sets it samples", portfolio),
    ]


def _sample_trial() -> Any:

    return _throwaway(0).ask()


def _throwaway(seed: int) -> optuna.Study:
    """A throw-away in-memory study with a seeded random sampler, made without Optuna's INFO line."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    finally:
        optuna.logging.set_verbosity(level)


def study_checks(study: str | Path) -> list[Check]:
    """The checks every study definition must pass.

    Args:
        study: A shipped study name or the path of a study ``.toml``.

    Returns:
        Named checks: the definition is valid, its sampler and pruner build, its
        space samples with its bounds and replays a trial's parameters to the same
        configuration and distributions, and a bad bound is refused before
        anything is written (no database file appears).

    Examples:
        >>> [check.name for check in study_checks("iris")][0]
        'iris: the definition is valid'
    """
    label = str(study)

    def valid() -> None:
        config = load_study_config(study)
        assert config.trials >= 1 and config.max_epochs >= 1

    def sampler_and_pruner() -> None:
        check_study(load_study_config(study))

    def replays() -> None:
        config = load_study_config(study)
        space = load_space(config.space_module)  # its check() hook may load modules: not a contract of the study
        for original, trial in _sample(space, config.space_bounds, seed=3, n=5):
            again = space.replay(trial.params, config.space_bounds)
            assert again.distributions == trial.distributions, f"{label}: replaying {trial.params} changed the space"
            assert space.suggest(again, config.space_bounds) == original

    def refuses_before_writing() -> None:
        config = load_study_config(study)
        space = load_space(config.space_module)
        ranges = list(_reversed_ranges(space, {**space.default_bounds, **config.space_bounds}))
        if not ranges:
            return
        bound, reversed_range = ranges[0]
        with tempfile.TemporaryDirectory() as folder:
            database = Path(folder) / "studies.db"
            try:
                run_study(
                    str(study),
                    storage=f"sqlite:///{database}",
                    show_progress=False,
                    overrides={"space": {bound: reversed_range}},
                )
            except InputError:
                pass
            else:
                raise AssertionError(f"{label}: space bound {bound} = {reversed_range} was accepted")
            assert not os.listdir(folder), f"{label}: a refused definition wrote {os.listdir(folder)}"

    return [
        Check(f"{label}: the definition is valid", valid),
        Check(f"{label}: its sampler and pruner build", sampler_and_pruner),
        Check(f"{label}: its space replays a trial's parameters", replays),
        Check(f"{label}: a bad bound is refused before anything is written", refuses_before_writing),
    ]
