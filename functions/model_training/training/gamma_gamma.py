"""The Gamma-Gamma model of spend per purchase (Fader & Hardie), fitted by maximum likelihood.

A customer's purchase values are Gamma(p, nu) around her own mean, and nu ~ Gamma(q, v) across customers.
Only customers with repeat purchases whose mean value is positive are used: the model needs x >= 1 and
m_x > 0 (a mean of 0 has no likelihood under a Gamma law); how many were left out is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from training.bgnbd import FitError, stationary

PARAMETERS = ("p", "q", "v")
_LOG_BOUND = np.log(1e6)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    loglik: float = float("nan")
    n: int = 0
    excluded_non_positive: int = 0
    iterations: int = 0
    standard_errors: dict[str, float | None] = field(default_factory=dict)

    def as_document(self) -> dict[str, float | int]:
        return {"p": self.p, "q": self.q, "v": self.v, "n": self.n}


def negative_loglik(
    log_params: np.ndarray, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    p, q, v = np.exp(log_params)
    w = np.ones_like(x) if weights is None else weights
    px = p * x
    spend = v + m * x
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(spend)
    )
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - np.log(spend))
    d_q = digamma(px + q) - digamma(q) + np.log(v) - np.log(spend)
    d_v = q / v - (px + q) / spend
    grad = np.array([np.sum(w * d_p) * p, np.sum(w * d_q) * q, np.sum(w * d_v) * v])
    # Sums rather than ``w @ ll``: BLAS dot products spin up threads, which costs more than it saves at
    # this size and stalls badly on a busy machine.
    return -float(np.sum(w * ll)), -grad


def bounded(
    log_params: np.ndarray, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """``negative_loglik`` flat beyond the bounds, for plain BFGS (see ``bgnbd.bounded_negative_loglik``)."""
    clipped = np.clip(log_params, -_LOG_BOUND, _LOG_BOUND)
    value, grad = negative_loglik(clipped, x, m, weights)
    grad[clipped != log_params] = 0.0
    return value, grad


def fit(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Fit on repeat buyers: ``x`` repeat purchases with mean value ``m`` each."""
    usable = (x > 0) & (m > 0)
    excluded = int(np.sum((x > 0) & (m <= 0)))
    xs, ms = x[usable], m[usable]
    if len(xs) < 2:
        raise FitError("fewer than two repeat buyers with a positive mean spend: Gamma-Gamma cannot be fitted")
    rows, counts = np.unique(np.column_stack([xs, ms]), axis=0, return_counts=True)
    w = counts.astype(np.float64)
    # Start where the population mean spend p v / (q - 1) equals the observed one: from the origin the first
    # line search would step far into overflow, as spend is in currency units, not near 1.
    start = np.log([1.0, 2.0, float(np.average(rows[:, 1], weights=w))])
    iterations = 0
    for _ in range(4):
        result = minimize(
            bounded, start, args=(rows[:, 0], rows[:, 1], w), jac=True, method="BFGS", options={"gtol": 1e-8}
        )
        iterations += int(result.nit)
        if result.success or stationary(result.jac, len(xs)):
            break
        start = result.x  # restart with a fresh curvature estimate (see bgnbd.fit)
    if not np.all(np.isfinite(result.x)) or np.any(np.abs(result.x) >= _LOG_BOUND * 0.999):
        raise FitError("Gamma-Gamma parameters ran off to the bounds: spend varies too little or too few buyers")
    _, grad = bounded(result.x, rows[:, 0], rows[:, 1], w)
    # BFGS reports "precision loss" on the flat ridge where a and b grow together; what matters is that the
    # gradient vanishes relative to the size of the data.
    if not result.success and float(np.max(np.abs(grad))) > 1e-5 * len(xs):
        raise FitError(f"Gamma-Gamma optimiser stopped without converging: {result.message}")
    p, q, v = np.exp(result.x)
    if q <= 1:
        raise FitError(f"Gamma-Gamma q = {q:.3g} <= 1: the population mean spend is undefined")
    return GammaGamma(
        p=float(p),
        q=float(q),
        v=float(v),
        loglik=-float(result.fun),
        n=len(xs),
        excluded_non_positive=excluded,
        iterations=iterations,
        standard_errors=_standard_errors(result.x, rows[:, 0], rows[:, 1], w),
    )


def _standard_errors(log_params: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> dict[str, float | None]:
    hessian = np.zeros((3, 3))
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-5
        hessian[:, i] = (
            negative_loglik(log_params + step, x, m, w)[1] - negative_loglik(log_params - step, x, m, w)[1]
        ) / 2e-5
    try:
        covariance = np.linalg.inv((hessian + hessian.T) / 2)
    except np.linalg.LinAlgError:
        return {}
    variances = np.diag(covariance) * np.exp(log_params) ** 2
    return {n: float(np.sqrt(v)) if v >= 0 else None for n, v in zip(PARAMETERS, variances, strict=True)}


def expected_order_value(model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[mean spend per order | x repeat orders of mean m]; the population mean for x = 0."""
    p, q, v = model.p, model.q, model.v
    return np.asarray((p * (v + x * m)) / (p * x + q - 1))


def population_order_value(model: GammaGamma) -> float:
    return model.p * model.v / (model.q - 1)
