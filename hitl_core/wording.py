"""What the two classes are called for a workspace's dataset.

The demo and the credit-card data speak of *fraud*; the breast-cancer set of
*malignant* and *benign*; any other table uses its label column's own abnormal value
when that is a word (``"chargeback"``), and the neutral *abnormal* otherwise. Pages
and the CLI take every class word from here, so no dataset is called "fraud" by
accident.

>>> terms({"name": "demo"}).abnormal
'fraud'
>>> terms({"name": "breast_cancer", "positive": "malignant"}).normal
'benign'
>>> terms({"name": "table", "label": "y", "positive": "1"}).abnormal
'abnormal'
>>> terms({"name": "table", "label": "status", "positive": "chargeback"}).title
'Chargeback'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Datasets whose abnormal class is fraud.
FRAUD_DATASETS = ("demo", "creditcard")
#: Class names of built-in sets whose label column holds other words.
KNOWN_CLASSES = {"breast_cancer": ("benign", "malignant")}


@dataclass(frozen=True)
class Terms:
    """The words for a dataset's classes (lower case, as used mid-sentence)."""

    normal: str = "normal"
    abnormal: str = "abnormal"

    @property
    def title(self) -> str:
        """The abnormal class name starting with a capital ("Fraud flagged")."""
        return self.abnormal[:1].upper() + self.abnormal[1:]

    @property
    def normal_title(self) -> str:
        return self.normal[:1].upper() + self.normal[1:]


def _is_word(value: str | None) -> bool:
    if not value:
        return False
    try:
        float(value)
    except ValueError:
        return value.strip().lower() not in ("true", "false", "yes", "no")
    return False


def terms(dataset: dict[str, Any] | None) -> Terms:
    """The class words for a dataset, given its spec (``workspace.json``'s ``dataset``)."""
    if not dataset:
        return Terms()
    name = dataset.get("name")
    if name in FRAUD_DATASETS:
        return Terms(abnormal="fraud")
    if name in KNOWN_CLASSES:
        normal, abnormal = KNOWN_CLASSES[name]
        return Terms(normal=normal, abnormal=abnormal)
    positive = dataset.get("positive")
    if dataset.get("label") and _is_word(positive):
        return Terms(abnormal=str(positive).strip().lower())
    return Terms()
