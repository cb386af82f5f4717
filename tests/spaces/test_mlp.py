"""The MLP space, sampled with FixedTrial and real samplers; no training."""

from __future__ import annotations

import optuna
import pytest

from search import SearchError, Task
from search.models import load_space, parameter_count
from spaces import mlp
from tests._helpers import MLP_PARAMS

BASE = MLP_PARAMS


def test_fixed_trial_gives_tapered_layers_and_zero_for_disabled_penalties() -> None:
    config = mlp.suggest(optuna.trial.FixedTrial(BASE))
    assert config["layer_units"] == [64, 32, 16]
    assert config["l1"] == 0.0
    assert config["l2"] == pytest.approx(1e-4)
    assert config["batch_size"] == 128
    assert config["activation"] == "relu"


def test_single_layer_does_not_ask_for_a_taper() -> None:
    params = {k: v for k, v in BASE.items() if k != "taper"} | {"depth": 1}
    assert mlp.suggest(optuna.trial.FixedTrial(params))["layer_units"] == [64]


def test_taper_never_goes_below_two_units() -> None:
    params = BASE | {"units": 8, "taper": 0.25}
    assert mlp.suggest(optuna.trial.FixedTrial(params))["layer_units"] == [8, 2, 2]


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"units": [64, 8]}, "low <= high"),
        ({"learning_rate": [0.0, 0.1]}, "log-scaled"),
        ({"batch_size": []}, "non-empty list"),
        ({"unitz": [1, 2]}, "unknown space bound"),
    ],
)
def test_invalid_bounds_are_one_line_errors(bounds: dict, message: str) -> None:
    with pytest.raises(SearchError, match=message) as info:
        mlp.suggest(optuna.trial.FixedTrial(BASE), **bounds)
    assert "\n" not in str(info.value)


def test_bounds_restrict_what_a_sampler_suggests() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        config = mlp.suggest(study.ask(), units=[4, 16], batch_size=[32], depth=[1, 2])
        assert all(2 <= u <= 16 for u in config["layer_units"])
        assert 1 <= len(config["layer_units"]) <= 2
        assert config["batch_size"] == 32


def test_same_seed_same_suggestions() -> None:
    def configs(seed: int) -> list[dict]:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        return [mlp.suggest(study.ask()) for _ in range(5)]

    assert configs(3) == configs(3)
    assert configs(3) != configs(4)


def test_build_follows_the_config() -> None:
    config = mlp.suggest(optuna.trial.FixedTrial(BASE | {"depth": 2}))
    model = mlp.build(config, input_shape=(30,), task=Task("binary"))
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [layer.units for layer in dense] == [64, 32, 1]
    assert dense[0].kernel_regularizer is not None
    assert parameter_count(model) == 30 * 64 + 64 + 64 * 32 + 32 + 32 + 1


def test_load_space_rejects_modules_without_the_protocol() -> None:
    with pytest.raises(SearchError, match="no function suggest"):
        load_space("search.models._build")
    with pytest.raises(SearchError, match="unknown space module"):
        load_space("spaces.nope")
