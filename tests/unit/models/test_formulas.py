"""The closed forms against independent computations: the published formulas evaluated with mpmath (50 digits)
and with scipy's hyp2f1, hand-computed values, and the published CDNOW worked examples."""

from __future__ import annotations

import math

import mpmath
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.models import formulas as f

R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426  # BG/NBD on CDNOW (Fader, Hardie and Lee, 2005)

mpmath.mp.dps = 50


def mp_p_alive(r, alpha, a, b, x, t_x, big_t):
    r, alpha, a, b, t_x, big_t = (mpmath.mpf(v) for v in (r, alpha, a, b, t_x, big_t))
    if x == 0:
        return mpmath.mpf(1)
    return 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))


def mp_expected(r, alpha, a, b, x, t_x, big_t, t):
    """The published conditional expectation, as printed, in 50-digit arithmetic."""
    r, alpha, a, b, t_x, big_t, t = (mpmath.mpf(v) for v in (r, alpha, a, b, t_x, big_t, t))
    z = t / (alpha + big_t + t)
    hyp = mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp)
    return head * mp_p_alive(r, alpha, a, b, x, t_x, big_t)


def scipy_expected(r, alpha, a, b, x, t_x, big_t, t):
    """The same published formula with scipy's hyp2f1, in double precision (what a numpy implementation does)."""
    z = t / (alpha + big_t + t)
    hyp = scipy.special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp)
    alive = 1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    return head * alive


# -- the published CDNOW example ----------------------------------------------------------------------


def test_cdnow_example_customer_p_alive_and_expected_purchases():
    # The worked example: 2 repeat purchases, the last at 30.43 weeks, observed for 38.86 weeks.
    alive = f.p_alive(R, ALPHA, A, B, 2, 30.43, 38.86)
    expected = f.expected_purchases(R, ALPHA, A, B, 2, 30.43, 38.86, 39)
    assert alive == pytest.approx(float(mp_p_alive(R, ALPHA, A, B, 2, 30.43, 38.86)), rel=1e-14)
    assert expected == pytest.approx(float(mp_expected(R, ALPHA, A, B, 2, 30.43, 38.86, 39)), rel=1e-12)
    # and the figures quoted for it: P(alive) about 0.73, 1.226 purchases expected in the next 39 weeks
    assert round(alive, 2) == 0.73
    assert round(expected, 3) == 1.226


def test_gamma_gamma_cdnow_population_mean_and_a_hand_computed_customer():
    # x = 0: the population mean p v / (q - 1) = 6.25 * 15.44 / 2.74 = 35.2189...
    assert f.gamma_gamma_order_value(6.25, 3.74, 15.44, 0, 0.0) == pytest.approx(96.5 / 2.74)
    # x = 2 orders averaging 35: 6.25 * (15.44 + 70) / (12.5 + 2.74) = 534.0 / 15.24
    assert f.gamma_gamma_order_value(6.25, 3.74, 15.44, 2, 35.0) == pytest.approx(534.0 / 15.24)


def test_customer_without_repeat_purchases_is_alive_by_assumption():
    assert f.p_alive(R, ALPHA, A, B, 0, 0, 52) == 1.0


# -- 2F1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "c", "z"),
    [
        (1.3, 2.2, 3.1, 0.5),
        (1.3, 2.2, 3.1, 0.95),
        (1.3, 2.2, 3.1, -0.9),
        (-3.0, 2.0, 1.5, 0.7),  # terminates: a polynomial
        (0.243, 2.426, 2.219, 0.9),  # CDNOW x = 0
        (50.243, 52.426, 52.219, 0.8),  # a heavy buyer: the raw series is huge
        (0.5, 0.5, -0.5, 0.3),  # c negative, not an integer
        (5.766890190409351, 6.228506542959929, 2.551522974809368, -0.842),  # the alternating series cancels
    ],
)
def test_hyp2f1_matches_mpmath(a, b, c, z):
    assert f.hyp2f1(a, b, c, z) == pytest.approx(float(mpmath.hyp2f1(a, b, c, z)), rel=1e-11)


def test_hyp2f1_is_undefined_at_non_positive_integer_c():
    with pytest.raises(ValueError, match="undefined"):
        f.hyp2f1(1.0, 2.0, -2.0, 0.5)


def test_series_outside_the_unit_disc_is_refused():
    with pytest.raises(f.SeriesDidNotConverge):
        f.hyp2f1(1.0, 2.0, 3.0, 1.0)


@settings(max_examples=150, deadline=None)
@given(
    a=st.floats(-4.5, 8),
    b=st.floats(-4.5, 8),
    c=st.floats(0.05, 12),
    z=st.floats(-0.9, 0.95),
)
def test_hyp2f1_agrees_with_scipy(a, b, c, z):
    ours, theirs = f.hyp2f1(a, b, c, z), scipy.special.hyp2f1(a, b, c, z)
    assert ours == pytest.approx(theirs, rel=1e-8, abs=1e-10)


# -- expected purchases --------------------------------------------------------------------------------

params = st.fixed_dictionaries(
    {
        "r": st.floats(0.05, 5),
        "alpha": st.floats(0.5, 50),
        # the printed formula divides by a - 1: keep scipy's side away from where it is ill-conditioned
        "a": st.floats(0.1, 5).filter(lambda a: abs(a - 1) > 0.05),
        "b": st.floats(0.1, 10),
        "x": st.integers(0, 40),
        "big_t": st.floats(0.1, 100),
        "share": st.floats(0, 1),
        "t": st.floats(0.1, 60),
    }
)


@settings(max_examples=200, deadline=None)
@given(p=params)
def test_expected_purchases_agrees_with_the_scipy_formula(p):
    t_x = p["share"] * p["big_t"] if p["x"] else 0.0
    args = (p["r"], p["alpha"], p["a"], p["b"], p["x"], t_x, p["big_t"], p["t"])
    theirs = scipy_expected(*args)
    if not math.isfinite(theirs):
        return  # scipy's double-precision 2F1 overflows for heavy buyers: covered against mpmath below
    assert f.expected_purchases(*args) == pytest.approx(theirs, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    ("r", "alpha", "a", "b", "x", "t_x", "big_t", "t"),
    [
        (R, ALPHA, A, B, 0, 0, 0.5, 52),  # a customer seen yesterday, a year ahead: z near 1
        (R, ALPHA, A, B, 5, 30, 60, 52),
        (R, ALPHA, A, B, 400, 70, 78, 52),  # a heavy buyer: the printed form's 2F1 is astronomically large
        (2.0, 10.0, 3.5, 1.5, 3, 20, 26, 13),
        (0.5, 8.0, 1.0 + 1e-9, 3.0, 2, 10, 40, 26),  # a at 1: the printed form cancels catastrophically
    ],
)
def test_expected_purchases_matches_mpmath(r, alpha, a, b, x, t_x, big_t, t):
    ours = f.expected_purchases(r, alpha, a, b, x, t_x, big_t, t)
    assert ours == pytest.approx(float(mp_expected(r, alpha, a, b, x, t_x, big_t, t)), rel=1e-9)


def test_expected_purchases_is_continuous_through_a_equal_one():
    at_one = f.expected_purchases(0.5, 8.0, 1.0, 3.0, 2, 10, 40, 26)
    assert at_one == pytest.approx(float(mp_expected(0.5, 8.0, 1 + mpmath.mpf(10) ** -30, 3.0, 2, 10, 40, 26)))


def test_heavy_buyer_does_not_overflow():
    alive = f.p_alive(R, ALPHA, A, B, 2000, 10, 200)  # last bought long ago, after 2000 repeats
    assert 0.0 <= alive < 1e-100
    assert f.expected_purchases(R, ALPHA, A, B, 2000, 10, 200, 52) >= 0.0


def test_time_to_one_purchase_solves_the_expectation():
    t = f.time_to_one_purchase(R, ALPHA, A, B, 2, 38.86, limit=520, tolerance=1e-6)
    assert t is not None
    assert f.expected_purchases_if_alive(R, ALPHA, A, B, 2, 38.86, t) == pytest.approx(1.0, abs=1e-5)
    assert f.expected_purchases_if_alive(R, ALPHA, A, B, 2, 38.86, t * 0.9) < 1.0


def test_time_to_one_purchase_beyond_the_limit_is_none():
    assert f.time_to_one_purchase(R, ALPHA, A, B, 0, 100, limit=1.0, tolerance=0.01) is None


def test_monthly_discount_compounds_to_the_annual_rate():
    factors = f.monthly_discount_factors(24, 0.10)
    assert factors[11] == pytest.approx(1 / 1.1)
    assert factors[23] == pytest.approx(1 / 1.21)
    assert factors[0] == pytest.approx(1.1 ** (-1 / 12))


def test_time_to_one_purchase_from_known_points_finds_the_same_root():
    known = {t: f.expected_purchases_if_alive(R, ALPHA, A, B, 2, 38.86, t) for t in (4.0, 13.0, 26.0, 52.0)}
    alone = f.time_to_one_purchase(R, ALPHA, A, B, 2, 38.86, limit=520, tolerance=1e-6)
    helped = f.time_to_one_purchase(R, ALPHA, A, B, 2, 38.86, limit=520, tolerance=1e-6, known=known)
    assert helped == pytest.approx(alone, abs=1e-5)
    beyond = {t: v for t, v in known.items() if v < 1.0}  # the root is past every known point
    assert f.time_to_one_purchase(R, ALPHA, A, B, 2, 38.86, limit=520, tolerance=1e-6, known=beyond) == pytest.approx(
        alone, abs=1e-5
    )


def test_age_at_p_alive_is_where_p_alive_crosses_the_threshold():
    big_t = f.age_at_p_alive(R, ALPHA, A, B, 2, 30.43, 0.4)
    assert big_t is not None and big_t > 38.86  # the example customer is at 0.73 now: later
    assert f.p_alive(R, ALPHA, A, B, 2, 30.43, big_t) == pytest.approx(0.4)
    assert f.age_at_p_alive(R, ALPHA, A, B, 0, 0, 0.4) is None  # one purchase: P(alive) stays 1
    assert f.age_at_p_alive(R, ALPHA, A, B, 2, 30.43, 0.99) == 30.43  # already below right after the last purchase
