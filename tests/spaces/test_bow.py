"""The bag-of-words space: representation variables with FixedTrial, features, sparse model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
import scipy.sparse as sp

from search import SearchError, Task
from search.data import Dataset, NgramRows
from search.models import load_space, train
from spaces import bow
from tests._helpers import binary_dataset

PARAMS = {
    "vocab_size": 3,
    "ngrams": 2,
    "mode": "tf-idf",
    "depth": 1,
    "units": 16,
    "input_dropout": 0.5,
    "dropout": 0.0,
    "l1_on": False,
    "l2_on": False,
    "batch_size": 32,
    "learning_rate": 1e-2,
}


def represent(
    config: dict, fit_rows: NgramRows, *other_rows: NgramRows, fit_labels: object = None
) -> tuple[sp.csr_matrix, ...]:
    return fit_rows.represent(config, *other_rows, fit_labels=fit_labels)


def _rows() -> NgramRows:
    words = np.array([[3, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]], dtype=np.float32)
    bigrams = np.array([[1, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], dtype=np.float32)
    return NgramRows({1: sp.csr_matrix(words), 2: sp.csr_matrix(bigrams)})


def test_fixed_trial_gives_the_representation_and_the_mlp() -> None:
    config = bow.suggest(optuna.trial.FixedTrial(PARAMS), vocab_size=[3, 4])
    assert (config["vocab_size"], config["ngrams"], config["mode"]) == (3, 2, "tf-idf")
    assert config["layer_units"] == [16]
    assert config["input_dropout"] == 0.5


def test_representation_outside_the_bounds_is_refused() -> None:
    with pytest.raises(ValueError):  # FixedTrial refuses a value outside the choices
        bow.suggest(optuna.trial.FixedTrial(PARAMS | {"vocab_size": 5000, "mode": "binary"}))
    with pytest.raises(SearchError, match="mode"):
        bow.check(mode=["binary"])
    for bad in ([0, 10], [5000], [50000, 5000], [5000.0, 50000]):
        with pytest.raises(SearchError, match="'vocab_size' must be \\[low, high\\]"):
            bow.check(vocab_size=bad)


def test_vocabulary_size_is_an_ordered_log_scaled_integer() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    sizes = []
    for _ in range(200):
        trial = study.ask()
        sizes.append(bow.suggest(trial)["vocab_size"])
    dist = trial.distributions["vocab_size"]
    assert isinstance(dist, optuna.distributions.IntDistribution) and dist.log
    assert (dist.low, dist.high) == (5000, 50000)
    # log-uniform: about half the draws below the geometric midpoint (~15,811)
    assert 70 < sum(s < 15811 for s in sizes) < 130
    assert min(sizes) >= 5000 and max(sizes) <= 50000


def test_bounds_beyond_the_prepared_data_are_refused() -> None:
    bow.check_data(_rows(), vocab_size=[2, 4], ngrams=[1, 2])
    with pytest.raises(SearchError, match="vocab_size bound 5 is larger than the 4 n-grams prepared"):
        bow.check_data(_rows(), vocab_size=[2, 5])
    with pytest.raises(SearchError, match=r"n-grams up to 3 were not prepared \(prepared: \[1, 2\]"):
        bow.check_data(_rows(), vocab_size=[2, 4], ngrams=[1, 3])


def test_a_vocabulary_larger_than_every_ngram_there_is_takes_them_all() -> None:
    rows = _rows()
    complete = NgramRows(rows.counts, complete=frozenset({1}))  # the words were all there were; the bigrams not
    bow.check_data(complete[np.array([0, 2])], vocab_size=[2, 9], ngrams=[1])
    with pytest.raises(SearchError, match="vocab_size bound 9 is larger than the 4 n-grams prepared"):
        bow.check_data(complete, vocab_size=[2, 9], ngrams=[2])
    x_fit, x_other = bow.features({**PARAMS, "vocab_size": 9, "ngrams": 1, "mode": "count"}, complete, complete[[1]])
    assert x_fit.shape == (3, 4) and x_other.shape == (1, 4)
    assert (x_fit != rows.counts[1]).nnz == 0


def test_features_slice_the_vocabulary_and_weight_by_mode() -> None:
    rows = _rows()
    (hot,) = represent({"vocab_size": 2, "ngrams": 1, "mode": "multi-hot"}, rows)
    assert hot.toarray().tolist() == [[1, 0], [0, 1], [1, 1]]
    (count,) = represent({"vocab_size": 4, "ngrams": 1, "mode": "count"}, rows)
    assert count.toarray()[0].tolist() == [3, 0, 1, 0]
    (bigrams,) = represent({"vocab_size": 4, "ngrams": 2, "mode": "multi-hot"}, rows)
    assert bigrams.toarray()[2].tolist() == [0, 0, 1, 1]
    assert all(sp.issparse(m) and m.dtype == np.float32 for m in (hot, count, bigrams))
    with pytest.raises(SearchError, match="vocab_size 5 is larger than the 4"):
        represent({"vocab_size": 5, "ngrams": 1, "mode": "count"}, rows)
    with pytest.raises(SearchError, match="n-grams up to 3"):
        represent({"vocab_size": 2, "ngrams": 3, "mode": "count"}, rows)


def test_tf_idf_learns_document_frequencies_from_the_fit_rows_only() -> None:
    rows = _rows()
    config = {"vocab_size": 4, "ngrams": 1, "mode": "tf-idf"}
    fit_a, other_a = represent(config, rows[np.array([0, 1])], rows[np.array([2])])
    _, other_b = represent(config, rows[np.array([0, 2])], rows[np.array([2])])
    # The same row, transformed with statistics from two different fit sets, differs.
    assert not np.allclose(other_a.toarray(), other_b.toarray())
    assert np.allclose(np.linalg.norm(fit_a.toarray(), axis=1), 1.0)


def test_naive_bayes_weighting_learns_its_ratios_from_the_fit_rows_and_their_labels_only() -> None:
    rows = _rows()  # word 0 is in rows 0 and 2, word 1 in rows 1 and 2, word 2 in row 0, word 3 in row 1
    config = {"vocab_size": 4, "ngrams": 1, "mode": "nb-multi-hot"}
    fit, other = represent(config, rows[np.array([0, 1])], rows[np.array([2])], fit_labels=[1, 0])
    # Learnt on rows 0 (positive) and 1 (negative): words 0 and 2 lean positive, 1 and 3 negative, by log 2.
    assert np.allclose(fit.toarray(), [[np.log(2), 0, np.log(2), 0], [0, -np.log(2), 0, -np.log(2)]])
    assert np.allclose(other.toarray(), [[np.log(2), -np.log(2), 0, 0]])
    flipped = represent(config, rows[np.array([0, 1])], rows[np.array([2])], fit_labels=[0, 1])[1]
    assert np.allclose(flipped.toarray(), -other.toarray())
    # nb-tf-idf: the TF-IDF rows scaled column by column by the same ratios.
    tfidf = represent({**config, "mode": "tf-idf"}, rows[np.array([0, 1])], rows[np.array([2])])[1]
    nb_tfidf = represent(
        {**config, "mode": "nb-tf-idf"}, rows[np.array([0, 1])], rows[np.array([2])], fit_labels=[1, 0]
    )
    assert np.allclose(nb_tfidf[1].toarray(), tfidf.toarray() * [np.log(2), -np.log(2), 0, 0])
    assert all(sp.issparse(m) and m.dtype == np.float32 for m in (fit, other, *nb_tfidf))
    with pytest.raises(SearchError, match="'nb-multi-hot' weighs n-grams by their classes: it needs the labels"):
        represent(config, rows)
    for labels in ([1, 0], [0, 1, 2], [1, 1, 1]):  # too few, three classes, one class
        with pytest.raises(SearchError, match="needs the 0/1 labels of a binary task"):
            represent(config, rows, fit_labels=labels)
    bow.check(mode=["nb-multi-hot", "nb-tf-idf"])


def _ngram_reviews(settings: dict, seed: int) -> Dataset:
    """Counts of 40 words in which word 0 leans positive and word 1 negative."""
    rng = np.random.default_rng(seed)

    def sample(n: int) -> tuple[NgramRows, np.ndarray]:
        y = np.arange(n) % 2
        counts = rng.poisson(0.3, size=(n, 40)).astype(np.float32)
        counts[:, 0] += y * rng.poisson(1.5, n)
        counts[:, 1] += (1 - y) * rng.poisson(1.5, n)
        return NgramRows({1: sp.csr_matrix(counts)}), y.astype(np.float32)

    return binary_dataset(*sample(400), *sample(200))


def test_a_study_of_naive_bayes_weightings_trains_and_tests_with_the_training_labels(tmp_path: Path) -> None:
    from search import evaluate_holdout, register_loader, run_study

    register_loader("ngram-reviews", _ngram_reviews)
    definition = tmp_path / "nb.toml"
    definition.write_text(
        textwrap.dedent(
            """
            name = "nb"
            metric = "val_accuracy"
            direction = "maximize"
            seed = 3

            [data]
            kind = "ngram-reviews"
            validation_size = 0.25

            [space]
            module = "spaces.bow"
            vocab_size = [20, 40]
            ngrams = [1]
            mode = ["nb-multi-hot", "nb-tf-idf"]
            units = [4, 16]
            batch_size = [32, 64]
            learning_rate = [0.01, 0.03]

            [pruner]
            name = "NopPruner"

            [budget]
            trials = 2
            max_epochs = 8
            patience = 3
            """
        )
    )
    storage = f"sqlite:///{tmp_path / 'nb.db'}"
    study = run_study(definition, storage=storage, show_progress=False)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert {t.params["mode"] for t in study.trials} <= {"nb-multi-hot", "nb-tf-idf"}
    assert study.best_value > 0.75
    assert evaluate_holdout("nb", storage=storage, show_progress=False)["accuracy"] > 0.75


def test_space_features_pass_the_fit_labels_only_to_hooks_that_declare_them() -> None:
    seen = []

    class Space:
        suggest, build = bow.suggest, bow.build

        @staticmethod
        def features(config: dict, fit_rows: object, *other_rows: object, fit_labels: object = None) -> tuple:
            seen.append(fit_labels)
            return (fit_rows, *other_rows)

    load_space(Space()).features({}, "fit", "validation", fit_labels="fit labels")
    assert seen == ["fit labels"]
    x = np.zeros((2, 3), np.float32)
    assert load_space("spaces.mlp").features({}, x, fit_labels=[0, 1])[0] is x
    labelled = load_space(bow).features(
        {"vocab_size": 2, "ngrams": 1, "mode": "nb-multi-hot"}, _rows(), fit_labels=[1, 0, 1]
    )
    assert labelled[0].shape == (3, 2)


def test_space_features_leaves_rows_alone_for_spaces_without_features() -> None:
    x = np.zeros((2, 3), np.float32)
    assert load_space("spaces.mlp").features({}, x)[0] is x
    assert load_space(bow).features({"vocab_size": 2, "ngrams": 1, "mode": "count"}, _rows())[0].shape == (3, 2)


@pytest.mark.backend("tensorflow")  # builds the sparse tensor with TensorFlow
def test_sparse_dropout_drops_stored_values_only_while_training() -> None:
    import tensorflow as tf

    from search.models._layers import SparseDropout

    x = sp.random(64, 1000, density=0.05, format="coo", dtype=np.float32, random_state=0)
    x.data[:] = 1.0
    tensor = tf.sparse.reorder(tf.SparseTensor(np.stack([x.row, x.col], 1).astype(np.int64), x.data, x.shape))
    layer = SparseDropout(0.5, seed=1)
    assert layer(tensor, training=False) is tensor
    dropped = layer(tensor, training=True)
    assert isinstance(dropped, tf.SparseTensor)
    values = dropped.values.numpy()
    assert len(values) == x.nnz  # same stored positions, some of them zeroed
    assert set(np.unique(values)) <= {0.0, 2.0}  # kept values scaled by 1 / (1 - rate)
    assert 0.4 < np.mean(values == 0.0) < 0.6


def test_sparse_model_trains_saves_and_reloads(tmp_path) -> None:
    import keras

    x = sp.random(400, 300, density=0.05, format="csr", dtype=np.float32, random_state=1)
    x.data[:] = 1.0
    y = (np.asarray(x[:, :20].sum(axis=1)).ravel() > 0).astype(np.float32)
    config = bow.suggest(optuna.trial.FixedTrial(PARAMS | {"vocab_size": 5000}))
    model = bow.build(config, input_shape=(300,), task=Task("binary"))
    # What trials train with: compiled epochs of padded sparse batches on JAX, model.fit otherwise.
    history = train(model, x, y, epochs=15, batch_size=32, seed=0)
    assert history.history["accuracy"][-1] > 0.8  # a learnable rule on 20 of 300 words
    path = tmp_path / "bow.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert np.allclose(model.predict(x, verbose=0), again.predict(x, verbose=0), atol=1e-6)
