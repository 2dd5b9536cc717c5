"""Closed-form scoring formulas of the BG/NBD and Gamma-Gamma models, in pure Python.

BG/NBD (Fader, Hardie and Lee, 2005): a customer buys at rate lambda ~ Gamma(r, alpha) while alive and drops out
after each purchase with probability p ~ Beta(a, b). For a customer with ``x`` repeat purchases, the last at
``t_x`` and observed for ``T`` (all in the model's time unit, from the first purchase):

    P(alive)  = 1 / (1 + [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    E[Y(t)]   = P(alive) * (a + b + x - 1) / (a - 1)
                * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z)),
                z = t / (alpha + T + t)

The second line as published divides by ``a - 1`` and subtracts two nearly equal numbers when ``a`` is close to
1, and its 2F1 grows like ``(1 - z) ** -(r + x)`` for heavy buyers. We evaluate it instead after Euler's
transformation, ``2F1(A, B; C; z) = (1 - z) ** (C - A - B) * 2F1(C - A, C - B; C; z)``, which turns the product
into ``(1 - z) ** (a - 1) * 2F1(a + b - 1 - r, a - 1; C; z)``. Every term of that series after the first carries
the factor ``a - 1``, so it cancels exactly:

    E[Y(t) | alive] = C * (1 - (1 - z) ** (a - 1)) / (a - 1) - (1 - z) ** (a - 1) * C * H,   C = a + b + x - 1
    C * H = sum_{k >= 1} (a + b - 1 - r)_k (a)_{k-1} / ((C + 1)_{k-1} k!) * z ** k

with ``(1 - (1 - z) ** e) / e = -expm1(e * log1p(-z)) / e`` (its limit, ``-log1p(-z)``, at e = 0). The series has
small, mostly same-signed terms whatever ``x`` is, and P(alive) is computed from its log-odds, so nothing
overflows for customers with hundreds of purchases.

Gamma-Gamma (Fader, Hardie and Lee, 2005b): the expected value of a customer's orders given ``x`` orders with
mean value ``m`` is ``p * (v + x * m) / (p * x + q - 1)``.
"""

from __future__ import annotations

import math
from bisect import bisect_left

# The series stops when the bound on what is left falls below this share of the sum (or below ABS_TOL).
REL_TOL = 1e-13
ABS_TOL = 1e-300
MAX_TERMS = 200_000


class SeriesDidNotConverge(ArithmeticError):
    """The hypergeometric series was asked for ``|z| >= 1`` or ran out of terms."""


class PowerSeries:
    """``sum_k c_k z**k`` with ``c_0 = first`` and ``c_{k+1} / c_k = (a + k)(b + k) / ((c + k)(d + k))``.

    The coefficients do not depend on ``z``, so they are computed once and reused for every ``z`` (a customer's
    horizons, the steps of a root search, and every customer with the same number of repeat purchases); each
    evaluation is then a Horner pass over as many coefficients as that ``z`` needs.

    How many is decided by summing forwards at ``z`` until the geometric bound on the rest, ``|t| rho / (1 - rho)``
    with ``rho`` the larger of the current term ratio and its limit ``|z|``, is negligible. That bound holds once
    the ratio is monotone in ``k``: from the start when the numerator parameters are both at most (or both at
    least) the denominator ones, as in the BG/NBD series, where ``c`` is large for heavy buyers; otherwise once
    ``k`` exceeds every parameter.
    """

    __slots__ = ("_a", "_b", "_c", "_coeffs", "_counts", "_d", "_done", "_failed", "_reach", "_settle")

    def __init__(self, first: float, a: float, b: float, c: float, d: float) -> None:
        self._a, self._b, self._c, self._d = a, b, c, d
        self._coeffs = [first]
        self._done = first == 0.0  # a zero coefficient ends the series: it is a polynomial
        (n1, n2), (d1, d2) = sorted((a, b)), sorted((c, d))
        monotone = (n1 <= d1 and n2 <= d2) or (n1 >= d1 and n2 >= d2)
        self._settle = max(0.0, -a, -b, -c, -d) + 1.0 + (0.0 if monotone else max(abs(a), abs(b), abs(c), abs(d)))
        # Coefficients needed up to each |z| (both ascending; a new entry only when more are needed), so the
        # lookup stays short however many different z a container evaluates.
        self._reach: list[float] = []
        self._counts: list[int] = []
        self._failed = 1.0  # the smallest |z| known to need more than MAX_TERMS: fail fast from there on

    def _extend(self) -> None:
        k = len(self._coeffs) - 1
        ratio = (self._a + k) * (self._b + k) / ((self._c + k) * (self._d + k))
        nxt = self._coeffs[-1] * ratio
        self._coeffs.append(nxt)
        if nxt == 0.0:
            self._done = True

    def _terms_for(self, z: float) -> int:
        az = abs(z)
        if not az < self._failed:
            raise SeriesDidNotConverge(f"the series needs |z| < {self._failed}, got {z}")
        index = bisect_left(self._reach, az)
        if index < len(self._reach):
            return self._counts[index]
        coeffs = self._coeffs
        total = term = coeffs[0]
        zk, k = 1.0, 0
        while not (self._done and k + 1 >= len(coeffs)):
            k += 1
            if k >= MAX_TERMS:
                self._failed = az
                del coeffs[self._counts[-1] if self._counts else 1 :]  # keep memory bounded
                raise SeriesDidNotConverge(f"no convergence in {MAX_TERMS} terms (z={z})")
            if k >= len(coeffs):
                self._extend()
            previous = term
            zk *= z
            term = coeffs[k] * zk
            total += term
            if term == 0.0:
                break
            if k >= self._settle:
                ratio = term / previous
                rho = ratio if ratio >= az else (-ratio if -ratio >= az else az)
                size = term if term > 0 else -term
                scale = total if total > 0 else -total
                if rho < 1.0 and size * rho <= (1.0 - rho) * max(REL_TOL * scale, ABS_TOL):
                    break
        count = k + 1
        if self._counts and count <= self._counts[-1]:
            self._reach[-1] = az  # what was enough for a smaller z is kept for this one: never fewer terms
            return self._counts[-1]
        self._reach.append(az)
        self._counts.append(count)
        return count

    def __call__(self, z: float) -> float:
        count = self._terms_for(z)
        coeffs = self._coeffs
        total = 0.0
        for index in range(count - 1, -1, -1):
            total = total * z + coeffs[index]
        return total


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's hypergeometric function 2F1(a, b; c; z) by its power series, for -1 < z < 1.

    ``c`` must not be zero or a negative integer (the series is undefined there).
    """
    if c <= 0 and c == int(c):
        raise ValueError(f"2F1 is undefined for c = {c}")
    if z < 0:
        # Pfaff: 2F1(a, b; c; z) = (1 - z)**-a 2F1(a, c - b; c; z / (z - 1)). The alternating series for negative
        # z cancels badly; the transformed one has an argument in (0, 1/2).
        return (1.0 - z) ** -a * PowerSeries(1.0, a, c - b, c, 1.0)(z / (z - 1.0))
    return PowerSeries(1.0, a, b, c, 1.0)(z)


def _expm1_ratio(e: float, log_base: float) -> float:
    """``(1 - exp(e * log_base)) / e``, continuous at ``e = 0`` (where it is ``-log_base``)."""
    if e == 0.0:
        return -log_base
    return -math.expm1(e * log_base) / e


def p_alive(r: float, alpha: float, a: float, b: float, x: float, t_x: float, big_t: float) -> float:
    """BG/NBD probability that a customer with ``x`` repeat purchases, the last at ``t_x``, age ``T``, is alive.

    A customer without repeat purchases is alive by the model's assumption (drop-out happens only right after a
    purchase), so the answer is 1 for ``x == 0``.
    """
    if x <= 0:
        return 1.0
    log_odds = math.log(a) - math.log(b + x - 1) + (r + x) * (math.log(alpha + big_t) - math.log(alpha + t_x))
    # 1 / (1 + e**L) without overflow for large L.
    if log_odds > 0:
        e = math.exp(-log_odds)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(log_odds))


def age_at_p_alive(r: float, alpha: float, a: float, b: float, x: float, t_x: float, p: float) -> float | None:
    """The age ``T`` at which P(alive) falls to ``p``, if the customer buys nothing more: when a churn band
    changes, for whoever schedules re-evaluations. None when it never does (``x == 0``: P(alive) stays 1).

    From the log-odds being linear in ``log(alpha + T)``: ``T = (alpha + t_x) * ((1/p - 1) / K) ** (1/(r + x))
    - alpha`` with ``K = a / (b + x - 1)``; never before ``t_x``.
    """
    if x <= 0 or not 0.0 < p < 1.0:
        return None
    odds = (1.0 / p - 1.0) * (b + x - 1.0) / a
    big_t = (alpha + t_x) * math.exp(math.log(odds) / (r + x)) - alpha
    return max(big_t, t_x)


def repeat_series(r: float, a: float, b: float, x: float) -> PowerSeries:
    """The series ``S`` with ``C * H = A * z * S(z)``: it depends on the customer only through ``x``, so it can be
    shared by every customer with the same number of repeat purchases. No division by ``C``, which is 0 when
    ``x = 0`` and ``a + b = 1``; ``C + 1 = a + b + x`` is always positive."""
    big_c = a + b + x - 1.0
    big_a = a + b - 1.0 - r
    return PowerSeries(big_a, big_a + 1.0, a, big_c + 1.0, 2.0)


def expected_purchases_if_alive(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: float,
    big_t: float,
    t: float,
    series: PowerSeries | None = None,
) -> float:
    """E[purchases in (T, T + t] | alive at T, x, T] (``t_x`` only matters through P(alive)).

    ``series`` is :func:`repeat_series` for these parameters and ``x``, if the caller keeps one.
    """
    if t <= 0:
        return 0.0
    if series is None:
        series = repeat_series(r, a, b, x)
    z = t / (alpha + big_t + t)
    log_1mz = math.log(alpha + big_t) - math.log(alpha + big_t + t)  # log(1 - z), exact for z near 1
    e = a - 1.0
    value = (a + b + x - 1.0) * _expm1_ratio(e, log_1mz) - math.exp(e * log_1mz) * z * series(z)
    return max(value, 0.0)


def expected_purchases(
    r: float, alpha: float, a: float, b: float, x: float, t_x: float, big_t: float, t: float
) -> float:
    """BG/NBD E[purchases in the next ``t`` time units | x, t_x, T]."""
    return p_alive(r, alpha, a, b, x, t_x, big_t) * expected_purchases_if_alive(r, alpha, a, b, x, big_t, t)


def time_to_one_purchase(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: float,
    big_t: float,
    *,
    limit: float,
    tolerance: float,
    series: PowerSeries | None = None,
    known: dict[float, float] | None = None,
) -> float | None:
    """The ``t`` at which E[purchases in (T, T + t] | alive] reaches 1, or None if beyond ``limit``.

    The expectation grows with ``t`` (to ``C / (a - 1) > 1`` when a > 1, without bound otherwise), so the root is
    unique: bracketed by doubling from the posterior mean gap ``(alpha + T) / (r + x)`` (or between the values
    already ``known``, ``t -> E[...| alive]``), then found by the Illinois variant of false position to within
    ``tolerance``.
    """

    if series is None:
        series = repeat_series(r, a, b, x)

    def f(t: float) -> float:
        return expected_purchases_if_alive(r, alpha, a, b, x, big_t, t, series) - 1.0

    # f is increasing: every known point below the root is left of every known point above it.
    points = sorted((t, value - 1.0) for t, value in (known or {}).items() if 0.0 < t <= limit)
    left = [p for p in points if p[1] < 0.0]
    right = [p for p in points if p[1] >= 0.0]
    lo, f_lo = left[-1] if left else (0.0, -1.0)
    if right:
        hi, f_hi = right[0]
    else:
        hi = max(min((alpha + big_t) / (r + x), limit), min(lo * 2.0, limit))
        f_hi = f(hi)
    while f_hi < 0.0:
        if hi >= limit:
            return None
        lo, f_lo = hi, f_hi
        hi = min(hi * 2.0, limit)
        f_hi = f(hi)
    side = 0
    for _ in range(100):
        if hi - lo <= tolerance:
            break
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < mid < hi:
            mid = (lo + hi) / 2.0
        f_mid = f(mid)
        if f_mid == 0.0:
            return mid
        if f_mid < 0.0:
            lo, f_lo = mid, f_mid
            if side == -1:
                f_hi /= 2.0  # Illinois: halve the stale end so the bracket shrinks from both sides
            side = -1
        else:
            hi, f_hi = mid, f_mid
            if side == 1:
                f_lo /= 2.0
            side = 1
    return (lo + hi) / 2.0


def gamma_gamma_order_value(p: float, q: float, v: float, x: float, mean_value: float) -> float:
    """Gamma-Gamma expected value of an order, given ``x`` orders with mean value ``mean_value`` (q > 1)."""
    return p * (v + x * mean_value) / (p * x + q - 1.0)


def monthly_discount_factors(months: int, annual_rate: float) -> list[float]:
    """``1 / (1 + d) ** i`` for months ``i = 1..months``, with the monthly rate ``d = (1 + annual) ** (1/12) - 1``."""
    monthly = (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0
    return [(1.0 + monthly) ** -i for i in range(1, months + 1)]
