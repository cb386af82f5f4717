"""The sparse path of bag-of-words inputs: batches cut on the JAX device, sparse models, the imdb-bow setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from search import InputError, Task
from search.data import load_search_data
from search.models import GlorotUniform, load_space
from search.models._training import _DeviceCSR, is_sparse, padded_size
from spaces import mlp

pytest.importorskip("jax")

CONFIG = {
    "layer_units": [8],
    "input_dropout": 0.0,
    "dropout": 0.0,
    "l1": 0.0,
    "l2": 0.0,
    "activation": "relu",
    "batch_size": 16,
    "learning_rate": 1e-2,
}


def _rows(seed: int = 0) -> sp.csr_matrix:
    x = sp.random(200, 50, density=0.1, format="lil", dtype=np.float32, random_state=seed)
    x[3] = 0  # an empty row among the others
    return x.tocsr()


def test_device_batches_hold_exactly_the_rows_asked_for() -> None:
    x = _rows()
    device = _DeviceCSR(x)
    rng = np.random.default_rng(0)
    batches = np.stack([rng.permutation(200)[:16] for _ in range(5)])
    batches[0, 0] = 3
    size = device.padded_size(batches)
    assert size == padded_size(max(int(x[b].nnz) for b in batches))
    for rows in batches:
        cut = device.rows(rows, size=size)
        assert cut.data.shape == (size,)  # one stored size for all the batches: one compiled step
        np.testing.assert_array_equal(np.asarray(cut.todense()), x[rows].toarray())


def test_a_space_without_a_sparse_option_is_refused_sparse_data() -> None:
    class DenseOnly:
        def suggest(self, trial: object, **bounds: object) -> dict:
            return {}

        def build(self, config: dict, *, input_shape: tuple, task: Task) -> object:
            raise AssertionError("not reached")

    space = load_space(DenseOnly())
    with pytest.raises(InputError, match="cannot take sparse inputs"):  # before the study is written
        space.check_data(_rows(), {})
    space.check_data(_rows().toarray(), {})
    with pytest.raises(InputError, match="cannot take sparse inputs"):
        space.build({}, input_shape=(5,), task=Task("binary"), sparse=True)
    assert load_space("spaces.mlp").takes_sparse and load_space("spaces.bow").takes_sparse


def test_the_mlp_on_sparse_rows_computes_what_it_computes_on_dense_ones() -> None:
    x = _rows()
    sparse_model = mlp.build(CONFIG, input_shape=(50,), task=Task("binary"), sparse=True)
    dense_model = mlp.build(CONFIG, input_shape=(50,), task=Task("binary"))
    assert sparse_model.inputs[0].sparse and not dense_model.inputs[0].sparse
    dense_model.set_weights(sparse_model.get_weights())
    np.testing.assert_allclose(
        sparse_model.predict(x, verbose=0), dense_model.predict(x.toarray(), verbose=0), rtol=1e-5, atol=1e-6
    )


def test_numpy_glorot_weights_follow_the_seed_and_the_glorot_bound() -> None:
    import keras

    keras.utils.set_random_seed(7)
    first = np.asarray(GlorotUniform()((300, 20)))
    keras.utils.set_random_seed(7)
    again = np.asarray(GlorotUniform()((300, 20)))
    np.testing.assert_array_equal(first, again)
    limit = np.sqrt(6 / 320)
    assert np.abs(first).max() <= limit and np.abs(first).max() > 0.9 * limit  # uniform up to the bound


def test_imdb_bow_rows_are_sparse_unless_the_study_asks_for_dense_ones(imdb_available: Path) -> None:
    settings = {"kind": "imdb-bow", "validation_size": 200, "subset": 1000}
    sparse = load_search_data(settings, seed=0)
    dense = load_search_data({**settings, "sparse": False}, seed=0)
    assert is_sparse(sparse.x_train) and not is_sparse(dense.x_train)
    np.testing.assert_array_equal(sparse.x_train.toarray(), dense.x_train)
    with pytest.raises(InputError, match="sparse must be true or false"):
        load_search_data({**settings, "sparse": "yes"}, seed=0)
