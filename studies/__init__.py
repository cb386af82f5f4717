"""Declarative study definitions, one ``<name>.toml`` file per study.

Read them with :func:`search.load_study_config`.
"""
