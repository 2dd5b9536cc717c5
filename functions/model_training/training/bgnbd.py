"""The BG/NBD model (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after every purchase
she drops out with probability p ~ Beta(a, b). A customer is summarised by x repeat purchases, the time t_x of
the last one since the first, and her age T, all in the same time unit.

The log-likelihood is evaluated in log space (``gammaln``/``betaln``/``logaddexp``), so large x or T never
overflow, and maximised over the logarithms of the four parameters with an analytic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

PARAMETERS = ("r", "alpha", "a", "b")
# The optimiser works on log-parameters within these bounds (1e-6 .. 1e6).
_LOG_BOUND = float(np.log(1e6))


class FitError(ValueError):
    """The optimiser did not find a usable maximum; the message says why."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")
    n: int = 0
    iterations: int = 0
    standard_errors: dict[str, float | None] = field(default_factory=dict)
    # a and b at their bounds: dropout is (nearly) the same for everyone, the Beta has no spread left. The
    # likelihood is flat out there and the model is still usable; the bounded values stand in for the limit.
    at_bounds: tuple[str, ...] = ()

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def as_document(self) -> dict[str, float | int]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "loglik": self.loglik, "n": self.n}


def _terms(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-customer log-likelihood and what its gradient needs: the weights of the two likelihood branches."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    # The second branch exists only for repeat buyers (b + x - 1 > 0 there); elsewhere it contributes nothing.
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    mix = np.logaddexp(a3, a4)
    w4 = np.exp(a4 - mix)  # share of the "dropped out after the last purchase" branch
    return a1 + a2 + mix, w4, 1.0 - w4, np.array([r, alpha, a, b])


def negative_loglik(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Minus the log-likelihood and its gradient with respect to the log-parameters."""
    ll, w4, w3, (r, alpha, a, b) = _terms(log_params, x, t_x, age)
    w = np.ones_like(x) if weights is None else weights
    repeat = x > 0
    inv_b = np.zeros_like(x)
    inv_b[repeat] = 1.0 / (b + x[repeat] - 1)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + age) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + age) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(b + x) - digamma(a + b + x) - digamma(b) + digamma(a + b) - w4 * inv_b
    grad = np.array([np.sum(w * d_r) * r, np.sum(w * d_alpha) * alpha, np.sum(w * d_a) * a, np.sum(w * d_b) * b])
    # Sums rather than ``w @ ll``: BLAS dot products spin up threads, which costs more than it saves at
    # this size and stalls badly on a busy machine.
    return -float(np.sum(w * ll)), -grad


def stationary(grad: np.ndarray, n: int) -> bool:
    """The gradient vanishes relative to the size of the data (BFGS may still report "precision loss")."""
    return bool(np.all(np.isfinite(grad))) and float(np.max(np.abs(grad))) <= 1e-5 * max(n, 1)


def bounded_negative_loglik(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """``negative_loglik`` with each log-parameter held within the bounds: flat (zero gradient) beyond them.

    This lets plain BFGS (pure numpy) handle a parameter running off to infinity, where the bounded
    L-BFGS-B would do; L-BFGS-B's compiled core calls multithreaded BLAS for 4-vectors, which costs more
    than the whole fit on a busy machine.
    """
    clipped = np.clip(log_params, -_LOG_BOUND, _LOG_BOUND)
    value, grad = negative_loglik(clipped, x, t_x, age, weights)
    grad[clipped != log_params] = 0.0
    return value, grad


def fit(x: np.ndarray, t_x: np.ndarray, age: np.ndarray, *, start: np.ndarray | None = None) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters; raises ``FitError`` when the maximum is not usable."""
    if len(x) == 0 or not np.any(x > 0):
        raise FitError("no repeat purchases: BG/NBD cannot be fitted")
    # Customers with the same (x, t_x, T) contribute the same term: evaluate each once, weighted.
    rows, weights = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
    ux, ut, ua = rows[:, 0], rows[:, 1], rows[:, 2]
    w = weights.astype(np.float64)
    x0 = np.zeros(4) if start is None else np.log(start)
    iterations = 0
    for _ in range(4):
        result = minimize(
            bounded_negative_loglik, x0, args=(ux, ut, ua, w), jac=True, method="BFGS", options={"gtol": 1e-8}
        )
        iterations += int(result.nit)
        if result.success or stationary(result.jac, len(x)):
            break
        # On the flat ridge where a and b grow together BFGS's curvature estimate degrades and it stops with
        # "precision loss"; a restart from where it stopped, with a fresh estimate, finishes the job.
        x0 = result.x
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise FitError("BG/NBD likelihood diverged")
    result.x = np.clip(result.x, -_LOG_BOUND, _LOG_BOUND)
    at_bounds = [n for n, v in zip(PARAMETERS, result.x, strict=True) if abs(v) >= _LOG_BOUND * 0.999]
    if {"r", "alpha"} & set(at_bounds):
        raise FitError(f"BG/NBD purchase-rate parameters ran off to the bounds ({', '.join(at_bounds)})")
    _, grad = bounded_negative_loglik(result.x, ux, ut, ua, w)
    # BFGS reports "precision loss" on the flat ridge where a and b grow together; what matters is that the
    # gradient vanishes relative to the size of the data.
    if not result.success and float(np.max(np.abs(grad))) > 1e-5 * len(x):
        raise FitError(f"BG/NBD optimiser stopped without converging: {result.message}")
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        loglik=-float(result.fun),
        n=len(x),
        iterations=iterations,
        standard_errors=_standard_errors(result.x, ux, ut, ua, w),
        at_bounds=tuple(at_bounds),
    )


def _standard_errors(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, w: np.ndarray
) -> dict[str, float | None]:
    """Asymptotic standard errors of the parameters, from a finite-difference Hessian of the analytic gradient."""
    hessian = np.zeros((4, 4))
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-5
        hessian[:, i] = (
            negative_loglik(log_params + step, x, t_x, age, w)[1]
            - negative_loglik(log_params - step, x, t_x, age, w)[1]
        ) / 2e-5
    try:
        covariance = np.linalg.inv((hessian + hessian.T) / 2)
    except np.linalg.LinAlgError:
        return {}
    # Delta method: the optimiser works on log-parameters.
    values = np.exp(log_params)
    variances = np.diag(covariance) * values**2
    return {n: float(np.sqrt(v)) if v >= 0 else None for n, v in zip(PARAMETERS, variances, strict=True)}


def loglik(model: BgNbd, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> float:
    return -negative_loglik(np.log(model.params), x, t_x, age)[0]


def p_alive(model: BgNbd, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """P(still alive at T | x, t_x, T): 1 for customers without repeat purchases."""
    r, alpha, a, b = model.params
    out = np.ones_like(x, dtype=np.float64)
    repeat = x > 0
    xr = x[repeat]
    log_ratio = np.log(a) - np.log(b + xr - 1) + (r + xr) * (np.log(alpha + age[repeat]) - np.log(alpha + t_x[repeat]))
    out[repeat] = 1.0 / (1.0 + np.exp(log_ratio))
    return out


def expected_purchases(model: BgNbd, t: float, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10), with scipy's Gaussian hypergeometric 2F1."""
    r, alpha, a, b = model.params
    z = t / (alpha + age + t)
    head = (a + b + x - 1) / (a - 1)
    bracket = 1.0 - np.exp((r + x) * np.log((alpha + age) / (alpha + age + t))) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    repeat = (x > 0).astype(np.float64)
    safe_b = np.where(x > 0, b + x - 1, 1.0)
    denominator = 1.0 + repeat * (a / safe_b) * np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + t_x)))
    return np.asarray(head * bracket / denominator)


def expected_purchases_new(model: BgNbd, t: float) -> float:
    """E[X(t)] for a customer who just made her first purchase: the population's purchase curve."""
    r, alpha, a, b = model.params
    z = t / (alpha + t)
    return float((a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z)))
