"""FA, RA, TA (accuracy on D_f, D_r, D_t, in percent) and per-class FA."""

from __future__ import annotations

import json

import torch

from .base import METRICS, Column, Evaluation, Metric


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Percent of correct argmax predictions (nan on an empty set)."""
    if len(labels) == 0:
        return float("nan")
    return 100.0 * float((logits.argmax(1) == labels).float().mean())


def per_class_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float | None]:
    """Accuracy per class in percent (None where a class has no samples)."""
    correct = (logits.argmax(1) == labels).double()
    n = torch.bincount(labels, minlength=num_classes).double()
    hit = torch.bincount(labels, weights=correct, minlength=num_classes)
    return [None if n[c] == 0 else 100.0 * float(hit[c] / n[c]) for c in range(num_classes)]


@METRICS.register("accuracy")
class Accuracy(Metric):
    """FA / RA / TA and ``FA_per_class`` (a JSON list by class index)."""

    name = "accuracy"
    columns = (
        Column(
            "FA",
            "match_retrain",
            "Forget accuracy: accuracy (%) on the forget set D_f. Judged by closeness to "
            "retrain, not by how low it goes.",
            "%",
            in_gap=True,
            per_epoch=True,
        ),
        Column(
            "RA",
            "match_retrain",
            "Retain accuracy: accuracy (%) on the retain set D_r = D \\ D_f.",
            "%",
            in_gap=True,
            per_epoch=True,
        ),
        Column(
            "TA",
            "match_retrain",
            "Test accuracy: accuracy (%) on the held-out test set D_t.",
            "%",
            in_gap=True,
            per_epoch=True,
        ),
        Column(
            "FA_per_class", "info", "FA per class (JSON list by class index; null where D_f has none)", "%", kind="json"
        ),
    )

    def compute(self, model, ev: Evaluation) -> dict:
        out = {
            col: accuracy(ev.logits(model, part), ev.labels(part))
            for col, part in (("FA", "forget"), ("RA", "retain"), ("TA", "test"))
        }
        pc = per_class_accuracy(ev.logits(model, "forget"), ev.labels("forget"), ev.dataset.num_classes)
        out["FA_per_class"] = json.dumps(pc)
        return out
