"""BG/NBD and Gamma-Gamma reproduce the published CDNOW fits; the 39-week holdout report.

Fader, Hardie & Lee (2005) on the 2,357-customer sample, 39-week calibration, weeks, same-day purchases
combined: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4. Fader & Hardie's Gamma-Gamma note on
the 946 repeat buyers of the same calibration period: p = 6.25, q = 3.74, v = 15.44.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from training import bgnbd, gamma_gamma, holdout
from training.transactions import day_number, read_cdnow, summarise

CALIBRATION_END = day_number(date(1997, 9, 30))
HOLDOUT_END = day_number(date(1998, 6, 30))


def sig3(value: float) -> str:
    return f"{value:.3g}"


@pytest.fixture(scope="module")
def summary(cdnow_sample):
    return summarise(read_cdnow(cdnow_sample), CALIBRATION_END, unit_days=7.0, holdout_end=HOLDOUT_END)


def test_cdnow_summary_follows_the_published_protocol(summary):
    assert len(summary.x) == 2357
    assert int(np.sum(summary.x > 0)) == 946
    assert summary.T.max() == pytest.approx(272 / 7)  # first purchases on 1 January, calibration to 30 September


def test_bgnbd_reproduces_the_published_cdnow_parameters(summary):
    model = bgnbd.fit(summary.x, summary.t_x, summary.T)
    assert [sig3(v) for v in (model.r, model.alpha, model.a, model.b)] == ["0.243", "4.41", "0.793", "2.43"]
    assert round(model.alpha, 3) == 4.414 and round(model.b, 3) == 2.426
    assert model.loglik == pytest.approx(-9582.43, abs=0.01)
    assert model.at_bounds == ()


def test_gamma_gamma_reproduces_the_published_cdnow_parameters(summary):
    model = gamma_gamma.fit(summary.x, summary.monetary)
    assert [sig3(v) for v in (model.p, model.q, model.v)] == ["6.25", "3.74", "15.4"]
    assert round(model.v, 2) == 15.44
    assert model.n == 946 and model.excluded_non_positive == 0


def test_bgnbd_gradient_matches_finite_differences(summary):
    point = np.log([0.3, 5.0, 0.8, 2.0])
    _, grad = bgnbd.negative_loglik(point, summary.x, summary.t_x, summary.T)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        up = bgnbd.negative_loglik(point + step, summary.x, summary.t_x, summary.T)[0]
        down = bgnbd.negative_loglik(point - step, summary.x, summary.t_x, summary.T)[0]
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-5)


def test_conditional_expectation_of_a_brand_new_customer_is_the_population_curve(summary):
    model = bgnbd.fit(summary.x, summary.t_x, summary.T)
    zero = np.zeros(1)
    assert bgnbd.expected_purchases(model, 39, zero, zero, zero)[0] == pytest.approx(
        bgnbd.expected_purchases_new(model, 39), rel=1e-9
    )
    # and P(alive) falls as the silence since the last purchase grows
    x, t_x = np.array([3.0, 3.0]), np.array([30.0, 10.0])
    alive = bgnbd.p_alive(model, x, t_x, np.array([38.0, 38.0]))
    assert 1 > alive[0] > alive[1] > 0


def test_cdnow_holdout_report_tracks_the_39_week_holdout(summary):
    model = bgnbd.fit(summary.x, summary.t_x, summary.T)
    predicted = bgnbd.expected_purchases(model, 39, summary.x, summary.t_x, summary.T)
    report = holdout.report(
        summary.x,
        predicted,
        summary.holdout,
        model="bgnbd",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
        holdout_days=273,
    )
    assert report["customers"] == 2357
    assert sum(row["customers"] for row in report["buckets"]) == 2357
    assert report["actual"] == 1882  # purchase days in weeks 40-78
    assert sum(row["predicted"] for row in report["buckets"]) == pytest.approx(report["predicted"], abs=0.01)
    # The model explains the holdout: within 15% in total, and per bucket the ordering of customers holds.
    assert abs(report["error_pct"]) < 15
    means = [row["predicted_mean"] for row in report["buckets"]]
    assert means == sorted(means)
    assert report["mae_per_customer"] < 1.0
    assert holdout.to_csv(report).splitlines()[-1].startswith("total,2357,1882")
