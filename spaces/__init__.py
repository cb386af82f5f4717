"""The search spaces shipped with the tool, each a module that satisfies :class:`search.models.Space`.

- :mod:`spaces.mlp`: a multilayer perceptron over a fixed-length feature vector.
- :mod:`spaces.bow`: the MLP over a bag of words whose representation is searched too.
- :mod:`spaces.text`: raw text through a pretrained text embedding, frozen or fine-tuned.

A study names its space by module (``[space] module = "spaces.mlp"``); a space of
one's own is any importable module (or object) with ``suggest`` and ``build``, and
:mod:`search.testing` checks it against the contract the shipped ones pass.
Spaces import only public ``search`` names.
"""
