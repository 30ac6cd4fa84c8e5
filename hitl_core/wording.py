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

    def status(self, name: str) -> str:
        """A point status as shown: the core's ``fraud`` status in the dataset's own word.

        >>> Terms(normal="benign", abnormal="malignant").status("fraud")
        'malignant'
        """
        return {"fraud": self.abnormal, "abnormal": self.abnormal, "normal": self.normal}.get(name, name)

    def statuses(self, names) -> list[str]:
        return [self.status(n) for n in names]


def elapsed(seconds: float) -> str:
    """Seconds since the data's first row as elapsed time: ``h:mm:ss``, with days past 24 h.

    >>> elapsed(105_123), elapsed(59), elapsed(3_600 * 5 + 61)
    ('1 d 05:12:03', '0:00:59', '5:01:01')
    """
    if seconds != seconds:  # NaN
        return ""
    total = round(float(seconds))
    sign, total = ("−", -total) if total < 0 else ("", total)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


#: Tick steps for an elapsed-time axis, in seconds.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400)


def elapsed_ticks(lo: float, hi: float, count: int = 6) -> tuple[list[float], list[str]]:
    """Round tick positions between ``lo`` and ``hi`` seconds and their elapsed-time labels.

    >>> elapsed_ticks(100_000, 101_000)[1][:2]
    ['1 d 03:50:00', '1 d 03:55:00']
    """
    span = max(float(hi) - float(lo), 1.0)
    step = next((s for s in _STEPS if span / s <= count), _STEPS[-1])
    first = -(-float(lo) // step) * step
    values = [first + i * step for i in range(int((float(hi) - first) // step) + 1)]
    return values, [elapsed(v) for v in values]


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
