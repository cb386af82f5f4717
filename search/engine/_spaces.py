"""A study's space and data settings, resolved from its definition: imported, unpickled or given, and checked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.engine._artifacts import Artifacts, FolderArtifacts, cached_copy
from search.engine._config import SIGNATURE, StudyConfig
from search.engine._logs import quiet_optuna
from search.engine._samplers import make_pruner, make_sampler
from search.engine._trust import ARTIFACT_PREFIX, check_loaded, check_reference, given, read_stored_pickle
from search.errors import InputError
from search.models import LoadedSpace, load_space

if TYPE_CHECKING:
    import optuna

__all__ = ["check_sets", "check_space", "check_study", "portfolio_sets", "space_changes", "study_data", "study_space"]


def study_space(
    config: StudyConfig, artifacts: Artifacts | None = None, *, stored: bool = False, allow: Sequence[str] = ()
) -> LoadedSpace:
    """The space of a definition: a module or ``module:attribute`` reference, or a pickled object in the artifacts.

    A pickled space (``artifact:functions/<file>``, a build function from a script's
    ``__main__`` or a notebook) is read only when this process trusts it (see
    :func:`search.engine._trust.check_pickle`) and its bytes match the SHA-256 the
    study recorded (``space.sha256``). A reference of a definition read from
    storage (``stored``) must name a trusted module, and what it names must be a
    space or a build function defined in that module.

    Raises:
        search.InputError: An unknown or untrusted module, or a missing, altered or untrusted pickle.
    """
    ref = config.space_module
    if not ref.startswith(ARTIFACT_PREFIX):
        if stored:
            check_reference(ref, allow, config.space.get(SIGNATURE))
        space = load_space(ref)
        if stored:
            check_loaded(ref, space.function or space.space)
        return space
    digest = config.space.get("sha256")
    kept: LoadedSpace | None = given(digest)
    if kept is not None:
        return kept
    name = ref.removeprefix(ARTIFACT_PREFIX)
    return load_space(read_stored_pickle("build function", name, config.space, artifacts, allow))


def study_data(config: StudyConfig, artifacts: Artifacts) -> dict[str, Any]:
    """The definition's ``[data]`` settings, with the local folder that ``stored`` data is read from.

    For a store that is not a folder, the data file is first copied into this
    machine's cache (its reader checks the SHA-256 the study recorded).
    """
    if config.data.get("kind") != "stored":
        return dict(config.data)
    file = str(config.data.get("file", ""))
    if isinstance(artifacts, FolderArtifacts) or not file or "/" in file or file in (".", ".."):
        root = artifacts.root if isinstance(artifacts, FolderArtifacts) else Path(artifacts.location)
        return {**config.data, "root": str(root)}
    copy = cached_copy(artifacts, f"data/{file}")
    if copy is None:
        raise InputError(f"the study's data file {artifacts.describe('data/' + file)} is missing")
    return {**config.data, "root": str(copy.parent.parent)}


def check_space(config: StudyConfig, space: LoadedSpace | None = None) -> LoadedSpace:
    """Load the space and sample it once in memory, so bad bounds fail before any write.

    A space may also define ``check(**bounds)`` to verify what its bounds name
    (e.g. that embedding modules load) before the study is written, and
    ``check_data(x_train, **bounds)`` to check its bounds against the loaded data.
    """
    import optuna

    space = space or load_space(config.space_module)
    with quiet_optuna():
        probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        try:
            sample = space.suggest(probe.ask(), config.space_bounds)
        except InputError:
            raise
        except Exception as exc:  # a space (or a build function) of one's own that fails: one line, before any write
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise InputError(f"space {space.name!r} fails to sample a configuration: {detail}") from None
    batch = sample.get("batch_size") if isinstance(sample, dict) else None
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise InputError(
            f"space {space.name!r} must return a dict with a positive integer 'batch_size', got {sample!r}"
        )
    space.check(config.space_bounds)
    check_sets(config.enqueue, space, config.space_bounds, what="[[enqueue]] set")
    if config.portfolio and not config.enqueue:
        check_sets(portfolio_sets(space, config.space_bounds), space, config.space_bounds, what="portfolio set")
    return space


def check_sets(sets: Sequence[Any], space: LoadedSpace, bounds: dict[str, Any], *, what: str) -> None:
    """Refuse parameter sets to queue that the space does not have or would not sample (out of its bounds).

    Raises:
        search.InputError: The first problem, naming the set (``"[[enqueue]] set 2: ..."``).

    Examples:
        >>> check_sets([{"units": 64}, {"width": 3}], load_space("spaces.mlp"), {}, what="[[enqueue]] set")
        Traceback (most recent call last):
        ...
        search.errors.InputError: [[enqueue]] set 2: the space samples no parameter 'width'
    """
    for number, params in enumerate(sets, 1):
        if not isinstance(params, dict) or not params:
            raise InputError(f"{what} {number} must be a non-empty dict of parameter values, got {params!r}")
        _check_enqueued(params, space, bounds, where=f"{what} {number}")


def portfolio_sets(space: LoadedSpace, bounds: dict[str, Any]) -> list[dict[str, Any]]:
    """The space's portfolio within ``bounds``: each set's values moved to the nearest the study samples.

    A number is clipped to its range (and rounded to its step); a choice the
    bounds leave out becomes the nearest numeric choice (a batch size), or is left
    to the sampler; a parameter the set's configuration does not sample is
    dropped. Sets that become the same are kept once.

    Examples:
        >>> space = load_space("spaces.mlp")
        >>> first = portfolio_sets(space, {})[0]
        >>> narrow = portfolio_sets(space, {"units": [4, 8], "batch_size": [8, 16]})[0]
        >>> narrow["units"] <= 8, narrow["batch_size"], set(narrow) <= set(first)
        (True, 16, True)
    """
    sets: list[dict[str, Any]] = []
    for number, wanted in enumerate(space.portfolio, 1):
        projection = _Projection(wanted)
        try:
            space.suggest(projection, bounds)  # type: ignore[arg-type]  # duck-typed: suggest_* only
        except InputError:
            raise
        except Exception as exc:  # e.g. a suggest that asks the trial for more than suggest_* values
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise InputError(
                f"space {space.name!r}: its PORTFOLIO set {number} cannot be moved into the study's bounds "
                f"({detail}); set portfolio = false to start from the sampler"
            ) from None
        if projection.params and projection.params not in sets:
            sets.append(projection.params)
    return sets


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


class _Projection:
    """A stand-in trial for ``suggest`` that answers with a parameter set's values, each moved into what is asked.

    A parameter the set does not hold is left out of :attr:`params` (the sampler will pick it);
    ``suggest`` gets the distribution's first value for it, so that it can go on.
    """

    def __init__(self, wanted: dict[str, Any]) -> None:
        self.wanted = wanted
        self.params: dict[str, Any] = {}

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        return float(self._number(name, low, high, step))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self._number(name, low, high, step, integer=True))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name not in self.wanted:
            return choices[0]
        value = self.wanted[name]
        if value not in choices:
            numbers = [c for c in choices if _positive(c)]
            if not _positive(value) or len(numbers) != len(choices):
                return choices[0]  # e.g. an activation the study does not offer: the sampler picks
            value = min(numbers, key=lambda c: abs(math.log(c / value)))
        self.params[name] = value
        return value

    def _number(self, name: str, low: float, high: float, step: float | None, *, integer: bool = False) -> float:
        value = self.wanted.get(name)
        if name not in self.wanted or not isinstance(value, (int, float)) or isinstance(value, bool):
            return low
        if step:  # the highest value on the step's grid, as Optuna's distributions take it
            high = low + math.floor((high - low) / step + 1e-9) * step
        value = min(max(value, low), high)
        if step:
            value = min(low + round((value - low) / step) * step, high)
        if integer:
            value = round(value)
        self.params[name] = value
        return value


def check_study(config: StudyConfig, space: LoadedSpace | None = None) -> LoadedSpace:
    """Everything of a definition that can be checked without its data: the space sampled once, the sampler and
    the pruner made; what :func:`search.run_study` checks before anything is written.

    Raises:
        search.InputError: The first problem, as one line.

    Examples:
        >>> from search.engine import load_study_config
        >>> check_study(load_study_config("iris")).name
        'spaces.mlp'
    """
    space = check_space(config, space)
    make_sampler(config)  # unknown names or options fail here, before any write
    make_pruner(config)
    return space


def _check_enqueued(params: dict[str, Any], space: LoadedSpace, bounds: dict[str, Any], *, where: str) -> None:
    """Refuse a parameter set the space does not have or would not sample (out of its bounds)."""
    import optuna

    try:  # out-of-range values are reported below, as errors
        trial = space.replay(params, bounds)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a choice the space does not offer
        raise InputError(f"{where}: {exc}") from None
    unknown = sorted(set(params) - set(trial.params))
    if unknown:
        raise InputError(f"{where}: the space samples no parameter {', '.join(map(repr, unknown))}")
    for name, value in params.items():
        dist = trial.distributions[name]
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            inside = value in dist.choices
        else:
            inside = isinstance(value, (int, float)) and dist.low <= value <= dist.high  # type: ignore[attr-defined]
        if not inside:
            raise InputError(f"{where}: {name}={value!r} is outside the space ({dist})")


def space_changes(study: optuna.Study, space: LoadedSpace, bounds: dict[str, Any]) -> list[str]:
    """Parameters whose distribution the current space would sample differently.

    Each earlier trial's parameters are replayed through the current ``suggest``
    in a throw-away in-memory study, and the distributions compared.
    """
    import optuna

    state = optuna.trial.TrialState
    done = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED))
    changed: set[str] = set()
    for old in {t.number: t for t in done[:3] + done[-3:]}.values():
        try:
            trial = space.replay(old.params, bounds)
        except Exception:  # a value the new space rejects
            changed.update(old.params)
            continue
        new = trial.distributions
        for name in set(new) | set(old.distributions):
            if new.get(name) != old.distributions.get(name):
                changed.add(name)
    return sorted(changed)
