"""The text space: sampling with FixedTrial and real samplers, bounds, check() and build()."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import tensorflow as tf

from search import SearchError, Task
from search.models import HubTextEmbedding, load_space
from spaces import text

BASE = {
    "trainable": True,
    "depth": 2,
    "units": 64,
    "dropout": 0.2,
    "l2_on": True,
    "l2": 1e-4,
    "batch_size": 128,
    "learning_rate": 1e-3,
}


def test_fixed_trial_gives_the_config() -> None:
    config = text.suggest(optuna.trial.FixedTrial(BASE))
    assert config == {
        "handle": "search:imdb-unsup-50dim",
        "trainable": True,
        "layer_units": [64, 32],
        "dropout": 0.2,
        "l2": pytest.approx(1e-4),
        "batch_size": 128,
        "learning_rate": 1e-3,
    }


def test_a_linear_head_does_not_ask_for_units() -> None:
    params = {k: v for k, v in BASE.items() if k != "units"} | {"depth": 0, "l2_on": False}
    config = text.suggest(optuna.trial.FixedTrial(params))
    assert config["layer_units"] == [] and config["l2"] == 0.0


def test_trainable_and_handle_are_variables_only_when_several_are_listed() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        config = text.suggest(trial, handle=["h1", "h2"], trainable=[False, True])
        seen.add((config["handle"], config["trainable"]))
        assert {"handle", "trainable"} <= set(trial.params)
        study.tell(trial, 0.5)
    assert seen == {("h1", False), ("h1", True), ("h2", False), ("h2", True)}
    trial = study.ask()
    config = text.suggest(trial, handle=["h1"], trainable=[False])
    assert config["trainable"] is False and config["handle"] == "h1"
    assert "handle" not in trial.params and "trainable" not in trial.params


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"trainable": ["yes"]}, "must list booleans"),
        ({"handle": []}, "non-empty list"),
        ({"handle": [""]}, "must list handle strings"),
        ({"depth": [-1, 2]}, "must not be negative"),
        ({"learning_rate": [0.0, 0.1]}, "log-scaled"),
        ({"embedding": ["x"]}, "unknown space bound"),
    ],
)
def test_invalid_bounds_are_one_line_errors(bounds: dict, message: str) -> None:
    with pytest.raises(SearchError, match=message) as info:
        text.suggest(optuna.trial.FixedTrial(BASE), **bounds)
    assert "\n" not in str(info.value)


def test_check_loads_every_handle(tiny_text_module: Path, tmp_path: Path) -> None:
    text.check(handle=[str(tiny_text_module)])
    with pytest.raises(SearchError, match="'/no/such/module': no such folder"):
        text.check(handle=[str(tiny_text_module), "/no/such/module"])

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
            return tf.ones([tf.shape(sentences)[0], 2])

    tf.saved_model.save(Other(), str(tmp_path / "other"))
    text.check(handle=[str(tmp_path / "other")], trainable=[False])
    with pytest.raises(SearchError, match=r"can only be used frozen: set space.trainable = \[false\]"):
        text.check(handle=[str(tmp_path / "other")])


@pytest.mark.backend("tensorflow")  # TF-Hub modules run on TensorFlow only
@pytest.mark.parametrize("trainable", [False, True])
def test_build_follows_the_config(tiny_text_module: Path, trainable: bool) -> None:
    config = text.suggest(optuna.trial.FixedTrial(BASE | {"trainable": trainable}), handle=[str(tiny_text_module)])
    model = text.build(config, input_shape=(), task=Task("binary"))
    embedding = model.get_layer("embedding")
    assert isinstance(embedding, HubTextEmbedding) and embedding.trainable is trainable
    dense = [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense == [64, 32, 1]
    embedding_params = (12 + 5) * 4
    head = 4 * 64 + 64 + 64 * 32 + 32 + 32 + 1
    assert model.count_params() == embedding_params + head
    trainable_params = sum(int(tf.size(w)) for w in model.trainable_weights)
    assert trainable_params == head + (embedding_params if trainable else 0)
    assert model.predict(tf.constant(["a good film", ""]), verbose=0).shape == (2, 1)
    with pytest.raises(SearchError, match="one string per example"):
        text.build(config, input_shape=(10,), task=Task("binary"))


def test_load_space() -> None:
    assert load_space("spaces.text").space is text
