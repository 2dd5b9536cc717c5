"""k-means on 100,000 customers x 8 features, against scikit-learn's KMeans with the same k and restarts.

The data is a seeded mixture of six Gaussian groups of unequal size and spread in 8 dimensions, standardised as
the training function standardises its features. Both sides run k-means++ seeding with ``n_init`` restarts and
Lloyd iterations with the same tolerance; rounds are interleaved. Our restarts run in one thread per core
with single-threaded BLAS; scikit-learn runs its OpenMP threads (one per core). scikit-learn limited to one
thread is timed too and printed for reference. The second figure is the gap between the two
inertias in percent (goal: at most 1%). Skips with a message when scikit-learn is missing.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks import ROOT
from benchmarks.core import Result, interleaved, median, section, table, timed

FUNCTION_DIR = ROOT / "functions" / "model_training"
ROWS, FEATURES, K, N_INIT = 100_000, 8, 6, 10
GOAL = 1.0


def synthetic(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = np.array([0.35, 0.25, 0.15, 0.12, 0.08, 0.05])
    sizes = np.floor(weights * ROWS).astype(int)
    sizes[0] += ROWS - sizes.sum()
    centres = rng.normal(0, 2.5, size=(K, FEATURES))
    spreads = rng.uniform(0.6, 1.6, size=K)
    data = np.vstack([rng.normal(c, s, size=(n, FEATURES)) for c, s, n in zip(centres, spreads, sizes, strict=True)])
    return (data - data.mean(axis=0)) / data.std(axis=0)


def run(args: argparse.Namespace) -> list[Result]:
    section(f"clustering: k-means, {ROWS:,} x {FEATURES}, k={K}, n_init={N_INIT}, ours vs scikit-learn")
    try:
        from sklearn.cluster import KMeans
    except ImportError as exc:
        print(f"skipped: scikit-learn is not installed ({exc}); `pip install -e '.[bench]'`")
        return []
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    from training.kmeans import kmeans

    data = synthetic()
    inertia: dict[str, list[float]] = {"ours": [], "scikit-learn": []}
    seeds = iter(range(10_000))

    def ours() -> float:
        elapsed, result = timed(lambda: kmeans(data, K, n_init=N_INIT, seed=next(seeds)))
        inertia["ours"].append(result.inertia)
        return elapsed

    def theirs() -> float:
        model = KMeans(n_clusters=K, n_init=N_INIT, random_state=next(seeds))
        elapsed, fitted = timed(lambda: model.fit(data))
        inertia["scikit-learn"].append(float(fitted.inertia_))
        return elapsed

    def theirs_one_thread() -> float:
        # Not the goal's baseline: shown because scikit-learn's OpenMP threads suffer most on a shared CPU.
        from threadpoolctl import threadpool_limits

        model = KMeans(n_clusters=K, n_init=N_INIT, random_state=next(seeds))
        with threadpool_limits(limits=1, user_api="openmp"):
            elapsed, fitted = timed(lambda: model.fit(data))
        inertia["scikit-learn, 1 thread"].append(float(fitted.inertia_))
        return elapsed

    inertia["scikit-learn, 1 thread"] = []
    candidates = {"ours": ours, "scikit-learn": theirs, "scikit-learn, 1 thread": theirs_one_thread}
    times = interleaved(candidates, max(args.repeats, 3))
    rows = [
        [side, f"{median(times[side]) * 1000:.0f}", f"{median(inertia[side]):,.1f}", f"{min(inertia[side]):,.1f}"]
        for side in candidates
    ]
    print(table(["k-means", "median ms", "median inertia", "best inertia"], rows, right={1, 2, 3}))
    ours_s, theirs_s = median(times["ours"]), median(times["scikit-learn"])
    single = median(times["scikit-learn, 1 thread"])
    print(f"ours / scikit-learn on one thread: {ours_s / single:.2f} (for reference; the goal is against the default)")
    gap = 100 * abs(median(inertia["ours"]) - median(inertia["scikit-learn"])) / median(inertia["scikit-learn"])
    return [
        Result(
            "clustering.time",
            ours_s * 1000,
            "ms",
            GOAL,
            baseline=theirs_s * 1000,
            ratio=ours_s / theirs_s,
            details={"ratio_to_one_thread": ours_s / single},
        ),
        Result("clustering.inertia_gap", gap, "%", 1.0),
    ]
