"""The Keras layers the shipped spaces build with: importing this module imports Keras.

:class:`Dropout`, :class:`InputDropout` and :class:`Dense` can keep their dropout
rates and L1/L2 strengths as values of the model (``traced=True``) instead of
constants of its compiled program, so that trials that differ only in them run one
program; :func:`plain_model` turns them back into constants, as models are saved.
"""

from search.models._layers import Dense, Dropout, GlorotUniform, InputDropout, ScaledDense, plain_model

__all__ = ["Dense", "Dropout", "GlorotUniform", "InputDropout", "ScaledDense", "plain_model"]
