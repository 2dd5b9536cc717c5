"""Fitting BG/NBD + Gamma-Gamma on CDNOW, against the ``lifetimes`` library fitting the same data.

Both sides get the same summary of the 2,357-customer CDNOW sample (39-week calibration, weeks, same-day
purchases combined) and fit both models; each round times one full fit per side, interleaved. The parameters
of both are printed, and a second figure counts the parameters on which the two disagree at three significant
figures (goal: none). Skips with a message when ``lifetimes`` or the data set is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import date
from pathlib import Path

from benchmarks import ROOT
from benchmarks.core import Result, interleaved, median, section, table, timed

FUNCTION_DIR = ROOT / "functions" / "model_training"
GOAL = 0.5


def _cdnow_sample() -> Path | None:
    if os.environ.get("CDNOW_DIR"):
        candidate = Path(os.environ["CDNOW_DIR"]) / "CDNOW_sample.txt"
        return candidate if candidate.exists() else None
    for folder in ROOT.parents:
        candidate = folder / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
        if candidate.exists():
            return candidate
    return None


def run(args: argparse.Namespace) -> list[Result]:
    section("model_fit: BG/NBD + Gamma-Gamma on CDNOW, ours vs lifetimes")
    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError as exc:
        print(f"skipped: the lifetimes library is not installed ({exc}); `pip install -e '.[bench]'`")
        return []
    sample = _cdnow_sample()
    if sample is None:
        print("skipped: CDNOW_sample.txt not found (set CDNOW_DIR or keep shared/data/cdnow beside the checkout)")
        return []
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    from training import bgnbd, gamma_gamma
    from training.transactions import day_number, read_cdnow, summarise

    summary = summarise(read_cdnow(sample), day_number(date(1997, 9, 30)), unit_days=7.0)
    frame = pd.DataFrame({"frequency": summary.x, "recency": summary.t_x, "T": summary.T, "monetary": summary.monetary})
    repeat = frame[frame["frequency"] > 0]

    def ours() -> tuple[tuple[float, ...], tuple[float, ...]]:
        b = bgnbd.fit(summary.x, summary.t_x, summary.T)
        g = gamma_gamma.fit(summary.x, summary.monetary)
        return (b.r, b.alpha, b.a, b.b), (g.p, g.q, g.v)

    def theirs() -> tuple[tuple[float, ...], tuple[float, ...]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
            g = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary"])
        pb, pg = b.params_, g.params_
        return (pb["r"], pb["alpha"], pb["a"], pb["b"]), (pg["p"], pg["q"], pg["v"])

    found: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {"ours": ours(), "lifetimes": theirs()}

    def timer(name: str, fn):
        def measure() -> float:
            elapsed, value = timed(fn)
            found[name] = value
            return elapsed

        return measure

    times = interleaved({"ours": timer("ours", ours), "lifetimes": timer("lifetimes", theirs)}, max(args.repeats, 5))
    names = ["r", "alpha", "a", "b", "p", "q", "v"]
    rows = [
        [side, *(f"{v:.4g}" for v in (*found[side][0], *found[side][1])), f"{median(times[side]) * 1000:.1f}"]
        for side in ("ours", "lifetimes")
    ]
    rows.append(["published", "0.243", "4.414", "0.793", "2.426", "6.25", "3.74", "15.44", "-"])
    print(table(["fit", *names, "median ms"], rows, right=set(range(1, 9))))
    ours_flat = [*found["ours"][0], *found["ours"][1]]
    theirs_flat = [*found["lifetimes"][0], *found["lifetimes"][1]]
    disagree = [n for n, a, b in zip(names, ours_flat, theirs_flat, strict=True) if f"{a:.3g}" != f"{b:.3g}"]
    if disagree:
        print(f"parameters that differ at 3 significant figures: {', '.join(disagree)}")
    ours_s, theirs_s = median(times["ours"]), median(times["lifetimes"])
    return [
        Result(
            "model_fit.time",
            ours_s * 1000,
            "ms",
            GOAL,
            baseline=theirs_s * 1000,
            ratio=ours_s / theirs_s,
            details={"ours": ours_flat, "lifetimes": theirs_flat},
        ),
        Result("model_fit.parameters_differing", float(len(disagree)), "params", 0, details={"differ": disagree}),
    ]
