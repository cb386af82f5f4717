"""What optuna-dashboard shows of a holdout: the study's (or a chosen trial's) note and its confusion-matrix picture.

Written once per holdout evaluation through optuna-dashboard's public API
(``save_note``, ``get_note``, ``artifact.get_artifact_path``) and Optuna's
artifacts. The writers never raise: a failed dashboard write is logged as a
warning, and the holdout's result stands.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import name_key
from search.engine import OpenedStudy
from search.results._stored import HoldoutResult
from search.results._view import HoldoutView

if TYPE_CHECKING:
    pass

__all__ = ["confusion_matrix_png", "publish_holdout_note", "upload_confusion_matrix"]

logger = logging.getLogger("search")


def confusion_matrix_png(result: HoldoutResult, *, title: str = "") -> bytes:
    """The confusion matrix of a holdout result as a PNG, drawn with matplotlib.

    Examples:
        >>> result = HoldoutResult.model_validate({"confusion_matrix": [[5, 1], [2, 4]], "class_names": ["a", "b"]})
        >>> confusion_matrix_png(result)[1:4]
        b'PNG'
    """
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: no backend or global state involved

    matrix = np.asarray(result.confusion_matrix or [])
    names = HoldoutView(result).class_names
    size = 1.6 + 0.9 * len(names)
    fig = Figure(figsize=(size + 1.2, size), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix (test split)", fontsize=10)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, f"{count:,}", ha="center", va="center", color="white" if count > threshold else "black")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def upload_confusion_matrix(opened: OpenedStudy, result: HoldoutResult, *, part: str = "") -> dict[str, str]:
    """Draw a holdout result's confusion matrix and attach the PNG to the study; never raises.

    The picture is an Optuna artifact of the study (what optuna-dashboard lists and
    the note shows inline); the holdout of a chosen trial (``holdout --trial N``) or
    of an ensemble names its own (``trial-N``, ``ensemble-K``).

    Returns:
        ``confusion_matrix_png`` (where the picture is) and ``confusion_matrix_artifact_id``,
        or nothing for a regression result or when drawing or uploading failed (logged).
    """
    if not result.confusion_matrix:
        return {}
    try:
        import tempfile

        of = f" {part.replace('-', ' ')}" if part else ""
        picture = confusion_matrix_png(result, title=f"{opened.name}{of}: confusion matrix (test split)")
        folder = f"reports/{name_key(opened.name)}" + (f"/{part}" if part else "")
        with tempfile.TemporaryDirectory(prefix="search-picture-") as scratch:
            path = Path(scratch) / "confusion_matrix.png"
            path.write_bytes(picture)
            kept = opened.upload(path, f"{folder}/confusion_matrix.png", mimetype="image/png")
    except Exception as exc:
        logger.warning("could not draw or upload the confusion-matrix picture of study %r: %s", opened.name, exc)
        return {}
    return {"confusion_matrix_png": kept["model_path"], "confusion_matrix_artifact_id": kept["artifact_id"]}


def _without_section(note: str, heading: str) -> str:
    """``note`` without the section under ``heading`` (up to the next ``## `` heading); other text kept.

    Examples:
        >>> note = "Mine.\\n\\n## Holdout evaluation\\n\\nold\\n## Later\\nkept"
        >>> print(_without_section(note, "## Holdout evaluation"))
        Mine.
        <BLANKLINE>
        ## Later
        kept
    """
    lines = note.splitlines()
    if heading not in lines:
        return note.rstrip()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + lines[end:]).rstrip()


def publish_holdout_note(
    opened: OpenedStudy, result: HoldoutResult, *, metric: str = "", trial: int | None = None
) -> bool:
    """Write the holdout report into the study's optuna-dashboard note (or ``trial``'s); never raises.

    Text the note already has before the holdout heading (a user's own notes) is
    kept; an earlier holdout section is replaced. The confusion-matrix picture and
    the model are linked through their artifact paths.

    Returns:
        Whether the note was written; a failure is logged as a warning.

    Examples:
        >>> import optuna, tempfile
        >>> from optuna_dashboard import get_note, save_note
        >>> from search.engine import open_existing
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> study = optuna.create_study(study_name="demo", direction="maximize", storage=url)
        >>> save_note(study, "My own notes.")
        >>> held = HoldoutResult.model_validate({"accuracy": 0.9, "trial": 2, "epochs": 3})
        >>> publish_holdout_note(open_existing("demo", storage=url), held, metric="val_accuracy")
        True
        >>> print(get_note(study))  # doctest: +ELLIPSIS
        My own notes.
        <BLANKLINE>
        ## Holdout evaluation
        ...
    """
    study = opened.study
    try:
        from optuna_dashboard import get_note, save_note
        from optuna_dashboard.artifact import get_artifact_path

        view = HoldoutView(result)
        image, model = result.confusion_matrix_artifact_id, result.artifact_id
        body = view.markdown(
            metric=metric,
            image_url=get_artifact_path(study, image) if image else None,
            model_url=get_artifact_path(study, model) if model else None,
        )
        target: Any = study if trial is None else opened.trial(trial)
        kept = _without_section(get_note(target), view.heading)
        save_note(target, f"{kept}\n\n{body}" if kept else body)
    except Exception as exc:
        logger.warning("could not write the holdout note of study %r: %s", study.study_name, exc)
        return False
    return True
