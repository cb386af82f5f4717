"""Results: the one honest holdout evaluation, the predictor that serves its model, and reports.

Examples:
    >>> from search.results import holdout_metrics
    >>> from search.data import Task
    >>> import numpy as np
    >>> holdout_metrics(Task("binary"), np.array([0, 1, 1]), np.array([0.2, 0.9, 0.4]), ["neg", "pos"])["accuracy"]
    0.6666666666666666
"""

from search.results._holdout import evaluate_holdout, holdout_metrics
from search.results._html_report import render_report, write_report
from search.results._predictor import Predictor, load_predictor
from search.results._report import format_headline, format_holdout, format_value, list_studies, study_summary

__all__ = [
    "Predictor",
    "evaluate_holdout",
    "format_headline",
    "format_holdout",
    "format_value",
    "holdout_metrics",
    "list_studies",
    "load_predictor",
    "render_report",
    "study_summary",
    "write_report",
]
