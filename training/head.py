"""The new head on frozen features: multinomial logistic regression fitted to convergence
(L-BFGS), its L2 strength chosen on the validation images, then refitted on training and
validation images together (a small folder cannot spare a tenth of its photos)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Inverse L2 strengths tried, weakest regularisation last (features are standardised).
STRENGTHS = tuple(float(c) for c in 10.0 ** np.arange(-3.0, 2.01, 0.5))
MAX_ITERATIONS = 2000


@dataclass(frozen=True)
class FittedHead:
    layer: nn.Linear  # standardisation folded in: reads the backbone's pooled features as they are
    strength: float  # the chosen C
    val_loss: float  # of the head fitted on training images alone, with that C
    val_accuracy: float
    converged: bool


def fit_head(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, classes: int
) -> FittedHead:
    """train_x: (N, features), every view of every training image; val_x: the service's
    view of each validation image."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    standard = (train_x - mean) / scale
    val_standard = (val_x - mean) / scale
    scores = []
    for strength in STRENGTHS:
        model = _fit(LogisticRegression(C=strength, max_iter=MAX_ITERATIONS), standard, train_y)
        scores.append((_log_loss(model.predict_proba(val_standard), val_y, classes), strength, model))
    val_loss, strength, chosen = min(scores, key=lambda s: (s[0], s[1]))
    val_accuracy = float((chosen.predict(val_standard) == val_y).mean())
    everything_x = np.concatenate([train_x, val_x])
    mean, scale = everything_x.mean(axis=0), everything_x.std(axis=0) + 1e-6
    final = _fit(
        LogisticRegression(C=strength, max_iter=MAX_ITERATIONS),
        (everything_x - mean) / scale,
        np.concatenate([train_y, val_y]),
    )
    return FittedHead(
        _folded(final.coef_, final.intercept_, mean, scale, classes),
        strength,
        val_loss,
        val_accuracy,
        bool(final.n_iter_.max() < MAX_ITERATIONS),
    )


def _fit(model, x: np.ndarray, y: np.ndarray):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported as FittedHead.converged
        return model.fit(x, y)


def _log_loss(probabilities: np.ndarray, labels: np.ndarray, classes: int) -> float:
    full = np.zeros((len(labels), classes))
    full[:, : probabilities.shape[1]] = probabilities
    return float(-np.log(np.clip(full[np.arange(len(labels)), labels], 1e-12, None)).mean())


def _folded(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, scale: np.ndarray, classes: int) -> nn.Linear:
    """A linear layer on raw features equal to the classifier on standardised ones."""
    if coef.shape[0] == 1:  # scikit-learn keeps one row for two classes: logit(1) - logit(0)
        coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = coef / scale
    layer = nn.Linear(coef.shape[1], classes)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(intercept - weight @ mean))
    return layer
