"""The search-space contract: what every space provides, and its optional hooks, declared in one place.

A space is any object (normally a module, such as ``spaces.mlp``) with two
functions, :meth:`Space.suggest` and :meth:`Space.build`; :class:`SpaceHooks`
lists the optional ones. The engine, the holdout and the reports reach a space
only through :class:`LoadedSpace`, which supplies the default of every hook a
space leaves out, so that no other code looks hooks up by name.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from search.data import Task
from search.errors import InputError
from search.models._function import FunctionSpace, loss_task
from search.models._training import example_shape, is_sparse

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["LoadedSpace", "Space", "SpaceHooks", "load_space"]


@runtime_checkable
class Space(Protocol):
    """What every search space provides.

    Examples:
        >>> import spaces.mlp
        >>> isinstance(spaces.mlp, Space)
        True
    """

    def suggest(self, trial: optuna.trial.BaseTrial, **bounds: Any) -> dict[str, Any]:
        """Sample one JSON-able configuration, holding at least ``batch_size``.

        ``bounds`` are the study's ``[space]`` overrides of the space's defaults;
        bad bounds raise :class:`search.InputError` (before anything is written).
        """
        ...

    def build(self, config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task) -> keras.Model:
        """Return a compiled ``keras.Model`` for ``config`` whose output fits ``task``.

        A space that can take sparse inputs (a bag of words as a SciPy sparse
        matrix) declares a keyword-only ``sparse: bool = False``; the engine passes
        ``sparse=True`` when the data are sparse, so that its first layer costs what
        the stored values cost, not the input width.
        """
        ...


class SpaceHooks(Protocol):
    """The optional hooks of a space; each has a default in :class:`LoadedSpace`.

    Attributes:
        DEFAULT_BOUNDS: The bounds ``suggest`` uses when a study overrides none:
            ``[low, high]`` ranges or lists of choices. The contract suite
            (:mod:`search.testing`) checks that reversed ranges are refused.
        PORTFOLIO: Parameter sets (as ``suggest`` names them) that a new study
            tries first, each moved into the study's bounds; chosen on other data
            sets (``benchmarks/portfolio.py``). The contract suite checks that each
            is a set the space samples within its default bounds.
    """

    DEFAULT_BOUNDS: dict[str, Any]
    PORTFOLIO: list[dict[str, Any]]

    def check(self, **bounds: Any) -> None:
        """Verify what the bounds name (e.g. that embedding modules load) before a study is written."""
        ...

    def check_data(self, x_train: Any, **bounds: Any) -> None:
        """Check the bounds against the loaded partial-train inputs (e.g. a vocabulary size)."""
        ...

    def features(self, config: dict[str, Any], fit_rows: Any, *other_rows: Any) -> tuple[Any, ...]:
        """Turn the loader's rows into model inputs when ``config`` chooses the representation.

        Learns what it needs (a vocabulary, weights) from ``fit_rows`` only. A
        hook that also learns from their labels (``spaces.bow``'s Naive Bayes
        weighting) declares a keyword-only ``fit_labels=None``: the engine and
        the holdout then pass the labels of ``fit_rows``, never those of the others.
        """
        ...

    def group(self, config: dict[str, Any]) -> str | None:
        """A label that summaries group trials by (``spaces.text``: frozen or fine-tuned embeddings)."""
        ...


@dataclasses.dataclass(frozen=True)
class LoadedSpace:
    """A space with its optional hooks resolved: what the engine, holdout and reports call.

    Attributes:
        name: The module name the space was loaded from (or the object's ``repr``).
        space: The space itself.

    Examples:
        >>> space = load_space("spaces.mlp")
        >>> space.features({}, [[0.0]], [[1.0]]), space.group({})
        (([[0.0]], [[1.0]]), None)
    """

    name: str
    space: Space

    @property
    def default_bounds(self) -> dict[str, Any]:
        """The space's ``DEFAULT_BOUNDS`` (empty when it declares none)."""
        return dict(getattr(self.space, "DEFAULT_BOUNDS", {}))

    @property
    def portfolio(self) -> list[dict[str, Any]]:
        """The space's ``PORTFOLIO`` (empty when it declares none).

        Raises:
            search.InputError: A ``PORTFOLIO`` that is not a list of non-empty dicts.
        """
        portfolio = getattr(self.space, "PORTFOLIO", [])
        if not isinstance(portfolio, (list, tuple)) or not all(isinstance(p, dict) and p for p in portfolio):
            raise InputError(f"space {self.name!r}: PORTFOLIO must be a list of dicts of parameter values")
        return [dict(params) for params in portfolio]

    def suggest(self, trial: optuna.trial.BaseTrial, bounds: dict[str, Any]) -> dict[str, Any]:
        return self.space.suggest(trial, **bounds)

    def build(
        self, config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task, sparse: bool = False
    ) -> keras.Model:
        """The space's model; ``sparse``: the inputs are sparse (the space must declare a ``sparse`` option).

        Raises:
            search.InputError: Sparse inputs for a space without a ``sparse`` option.
        """
        if not sparse:
            return self.space.build(config, input_shape=input_shape, task=task)
        if not self.takes_sparse:
            raise InputError(f"space {self.name!r} cannot take sparse inputs (its build() has no 'sparse' option)")
        return self.space.build(config, input_shape=input_shape, task=task, sparse=True)  # type: ignore[call-arg]

    def build_for(self, config: dict[str, Any], x: Any, *, task: Task) -> keras.Model:
        """The space's model for inputs ``x``: :meth:`build` with their example shape, sparse when they are.

        ``x``: an array (one example a row), a SciPy sparse matrix (the model then
        takes a sparse input) or a stream of batches (the model reads what comes).

        Raises:
            search.InputError: Sparse inputs for a space without a ``sparse`` option.

        Examples:
            >>> import numpy as np
            >>> config = {"layer_units": [4], "input_dropout": 0.0, "dropout": 0.0, "l1": 0.0, "l2": 0.0,
            ...           "activation": "relu", "batch_size": 8, "learning_rate": 1e-3}
            >>> model = load_space("spaces.mlp").build_for(config, np.zeros((5, 3)), task=Task("binary"))
            >>> model.inputs[0].shape, model.inputs[0].sparse
            ((None, 3), False)
        """
        return self.build(config, input_shape=example_shape(x), task=task, sparse=is_sparse(x))

    @staticmethod
    def model_task(model: keras.Model) -> tuple[Task, str] | None:
        """The task a compiled model's loss trains for and the loss's name (:func:`loss_task`); ``None``: unknown."""
        return loss_task(model)

    def check(self, bounds: dict[str, Any]) -> None:
        hook = getattr(self.space, "check", None)
        if callable(hook):
            hook(**bounds)

    def check_data(self, x_train: Any, bounds: dict[str, Any]) -> None:
        """The space's ``check_data`` hook; sparse data for a space without a ``sparse`` option are refused here.

        Raises:
            search.InputError: Bounds the data cannot serve, or sparse data the space cannot take.
        """
        if is_sparse(x_train) and not self.takes_sparse:
            raise InputError(f"space {self.name!r} cannot take sparse inputs (its build() has no 'sparse' option)")
        hook = getattr(self.space, "check_data", None)
        if callable(hook):
            hook(x_train, **bounds)

    @property
    def takes_sparse(self) -> bool:
        """Whether the space's ``build`` has a ``sparse`` option."""
        return _declares(self.space.build, "sparse")

    def features(
        self, config: dict[str, Any], fit_rows: Any, *other_rows: Any, fit_labels: Any = None
    ) -> tuple[Any, ...]:
        """The model inputs of ``config``: the space's ``features``, or the rows as they are.

        ``fit_labels`` (the labels of ``fit_rows``) reach the hook only when it declares ``fit_labels``.
        """
        hook = getattr(self.space, "features", None)
        if not callable(hook):
            return (fit_rows, *other_rows)
        if _declares(hook, "fit_labels"):
            return tuple(hook(config, fit_rows, *other_rows, fit_labels=fit_labels))
        return tuple(hook(config, fit_rows, *other_rows))

    def group(self, config: dict[str, Any]) -> str | None:
        hook = getattr(self.space, "group", None)
        return hook(config) if callable(hook) else None

    def replay(self, params: dict[str, Any], bounds: dict[str, Any]) -> optuna.trial.Trial:
        """A trial of a throw-away in-memory study on which ``suggest`` took ``params``.

        Raises whatever ``suggest`` raises for them; Optuna's logs and its warnings
        about values outside a distribution are silenced (callers compare the
        distributions).

        Examples:
            >>> trial = load_space("spaces.mlp").replay({"depth": 2}, {})
            >>> trial.params["depth"], trial.distributions["depth"].high
            (2, 3)
        """
        import logging
        import warnings

        import optuna

        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(max(level, logging.WARNING))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
                study.enqueue_trial(params)
                trial = study.ask()
                self.suggest(trial, bounds)
        finally:
            optuna.logging.set_verbosity(level)
        return trial

    @property
    def function(self) -> Callable[..., Any] | None:
        """The user's build function, for a space made of one (see :class:`FunctionSpace`); ``None`` otherwise."""
        return self.space.function if isinstance(self.space, FunctionSpace) else None


def _declares(function: Callable[..., Any], option: str) -> bool:
    """Whether ``function`` has a parameter named ``option``."""
    try:
        return option in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no signature to read
        return False


_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_ATTRIBUTE = _MODULE  # a user's own reference may go through attributes (a stored one may not: engine._trust)


def load_space(space: str | Space | Callable[..., Any]) -> LoadedSpace:
    """A space by reference or as an object, checked against :class:`Space`.

    Args:
        space: A module name (``"spaces.mlp"``), ``"module:attribute"`` (an object
            of that module, e.g. ``"my_project.tuning:build_model"``), a space
            object, or a define-by-run function ``build(trial) -> keras.Model``
            (wrapped in a :class:`search.models._function.FunctionSpace`; see :attr:`LoadedSpace.function`).

    Raises:
        search.InputError: No such module or attribute, or no ``suggest`` and ``build``.

    Examples:
        >>> load_space("spaces.mlp").name
        'spaces.mlp'
        >>> load_space("spaces.nope")
        Traceback (most recent call last):
        ...
        search.errors.InputError: unknown space module 'spaces.nope'
        >>> load_space("../x")
        Traceback (most recent call last):
        ...
        search.errors.InputError: space '../x' is not a module name or module:attribute reference
    """
    name = space if isinstance(space, str) else getattr(space, "__name__", None) or repr(space)
    obj: Any = space
    if isinstance(space, str):
        module_name, _, attribute = space.partition(":")
        if not _MODULE.fullmatch(module_name) or (attribute and not _ATTRIBUTE.fullmatch(attribute)):
            raise InputError(f"space {space!r} is not a module name or module:attribute reference")
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
                raise InputError(f"space module {module_name!r} cannot be imported: {exc}") from None
            raise InputError(f"unknown space module {module_name!r}") from None
        except Exception as exc:  # the module itself fails (a syntax error, an error at import)
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise InputError(f"space module {module_name!r} cannot be imported: {detail}") from None
        if attribute:
            try:
                obj = operator.attrgetter(attribute)(obj)
            except AttributeError:
                raise InputError(f"module {module_name!r} has no {attribute!r}") from None
    if callable(obj) and not callable(getattr(obj, "suggest", None)):
        obj = FunctionSpace(obj)
    for method in ("suggest", "build"):
        if not callable(getattr(obj, method, None)):
            raise InputError(f"space module {name!r} has no function {method}()")
    return LoadedSpace(name=str(name), space=obj)
