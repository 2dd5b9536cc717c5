"""k-means (Lloyd) with k-means++ seeding and restarts, the silhouette, and the choice of k, in numpy.

Vectorised over customers: one matrix product per iteration finds every customer's nearest centroid and one
``bincount`` per feature moves the centroids. The conventions follow the common reference implementation
(scikit-learn's Lloyd): greedy k-means++ with 2 + ln k local trials, convergence when no label changes or the
squared centroid shift falls below ``tol`` times the mean feature variance, the best of ``n_init`` runs by
inertia.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Below this many point-centre pairs a restart is too short for threads to pay for themselves.
_PARALLEL_WORK = 200_000


@dataclass(frozen=True)
class KMeansResult:
    centroids: np.ndarray
    labels: np.ndarray
    inertia: float
    iterations: int


def kmeans_plus_plus(data: np.ndarray, sq_norms: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++: each new centre is the best of a few candidates drawn proportionally to D(x)^2."""
    n = data.shape[0]
    trials = 2 + int(np.log(k))
    centres = np.empty((k, data.shape[1]))
    first = int(rng.integers(n))
    centres[0] = data[first]
    closest = np.maximum(sq_norms - 2 * data @ data[first] + sq_norms[first], 0.0)
    potential = closest.sum()
    for c in range(1, k):
        draws = rng.random(trials) * potential
        candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), n - 1)
        distances = sq_norms[None, :] - 2 * data[candidates] @ data.T + sq_norms[candidates][:, None]
        np.maximum(distances, 0.0, out=distances)
        np.minimum(distances, closest[None, :], out=distances)
        potentials = distances.sum(axis=1)
        best = int(np.argmin(potentials))
        closest, potential = distances[best], potentials[best]
        centres[c] = data[candidates[best]]
    return centres


def _partial_distances(data: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distances to every centre minus each row's own squared norm (which no argmin needs)."""
    partial = data @ (-2.0 * centres.T)
    partial += (centres * centres).sum(axis=1)
    return partial


def _centroids(data: np.ndarray, labels: np.ndarray, k: int, previous: np.ndarray) -> np.ndarray:
    n = len(labels)
    counts = np.bincount(labels, minlength=k)
    # Cluster sums as one sparse product (a one-hot membership matrix): one pass, much faster than a
    # bincount per feature.
    membership = sparse.csr_matrix((np.ones(n), labels, np.arange(n + 1)), shape=(n, k))
    sums = np.asarray(membership.T @ data)
    centres = sums / np.maximum(counts, 1)[:, None]
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        # An empty cluster takes the points farthest from their centres, as the reference implementation does.
        far = np.argsort(((data - previous[labels]) ** 2).sum(axis=1))[::-1][: empty.size]
        centres[empty] = data[far]
    return centres


def lloyd(
    data: np.ndarray, sq_norms: np.ndarray, centres: np.ndarray, *, max_iter: int = 300, tol: float = 0.0
) -> KMeansResult:
    k = len(centres)
    labels = np.full(len(data), -1)
    strict = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        new_labels = _partial_distances(data, centres).argmin(axis=1)
        new_centres = _centroids(data, new_labels, k, centres)
        shift = float(((new_centres - centres) ** 2).sum())
        centres = new_centres
        if np.array_equal(new_labels, labels):
            strict = True
            break
        labels = new_labels
        if shift <= tol:
            break
    partial = _partial_distances(data, centres)
    if not strict:  # labels that match the final centres
        labels = partial.argmin(axis=1)
    nearest = partial[np.arange(len(labels)), labels]
    inertia = float(np.maximum(nearest + sq_norms, 0.0).sum())
    return KMeansResult(centres, labels, inertia, iterations)


def kmeans(
    data: np.ndarray, k: int, *, n_init: int = 10, max_iter: int = 300, tol: float = 1e-4, seed: int = 0
) -> KMeansResult:
    """The best of ``n_init`` k-means++-seeded Lloyd runs (lowest inertia)."""
    if k < 1 or k > len(data):
        raise ValueError(f"k must be between 1 and the number of rows ({len(data)}), not {k}")
    mean = data.mean(axis=0)
    centred = data - mean  # better conditioned distances, as in the reference implementation
    sq_norms = (centred * centred).sum(axis=1)
    abs_tol = float(np.mean(np.var(data, axis=0))) * tol
    # Each restart draws from its own stream, fixed up front, so the result does not depend on which thread
    # ran which restart.
    streams = np.random.default_rng(seed).spawn(n_init)

    def restart(rng: np.random.Generator) -> KMeansResult:
        seeds = kmeans_plus_plus(centred, sq_norms, k, rng)
        return lloyd(centred, sq_norms, seeds, max_iter=max_iter, tol=abs_tol)

    # numpy releases the GIL in the products and reductions that dominate a restart, so restarts run in
    # parallel threads, one per core (BLAS itself is kept to one thread; see app.py).
    workers = min(n_init, os.cpu_count() or 1)
    if workers > 1 and len(data) * k >= _PARALLEL_WORK:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(restart, streams))
    else:
        results = [restart(rng) for rng in streams]
    best = min(results, key=lambda r: r.inertia)  # the first of equals: deterministic
    return KMeansResult(best.centroids + mean, best.labels, best.inertia, best.iterations)


def silhouette(
    data: np.ndarray, labels: np.ndarray, *, sample: np.ndarray | None = None, sample_size: int = 2000, seed: int = 0
) -> float:
    """Mean silhouette width; over a random sample of ``sample_size`` rows for large data (pass ``sample``
    to score several clusterings on the same rows)."""
    if sample is None:
        sample = silhouette_sample(len(data), sample_size, seed)
    points, own = data[sample], labels[sample]
    clusters, own = np.unique(own, return_inverse=True)
    if len(clusters) < 2:
        return 0.0
    sq = (points * points).sum(axis=1)
    distances = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * points @ points.T, 0.0))
    members = np.zeros((len(points), len(clusters)))
    members[np.arange(len(points)), own] = 1.0
    sums = distances @ members
    counts = members.sum(axis=0)
    rows = np.arange(len(points))
    size = counts[own]
    within = sums[rows, own] / np.maximum(size - 1, 1)
    between = sums / counts[None, :]
    between[rows, own] = np.inf
    nearest = between.min(axis=1)
    width = (nearest - within) / np.maximum(np.maximum(within, nearest), 1e-300)
    width[size == 1] = 0.0  # a singleton's silhouette is 0 by convention
    return float(width.mean())


def silhouette_sample(n: int, sample_size: int = 2000, seed: int = 0) -> np.ndarray:
    if n <= sample_size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))


@dataclass(frozen=True)
class Choice:
    result: KMeansResult
    k: int
    silhouette: float
    scores: dict[int, float]


def choose_k(data: np.ndarray, k_values: range, *, n_init: int = 10, seed: int = 0, sample_size: int = 2000) -> Choice:
    """k with the highest (sampled) silhouette; every k is scored on the same sample of rows."""
    sample = silhouette_sample(len(data), sample_size, seed)
    best: Choice | None = None
    scores: dict[int, float] = {}
    for k in k_values:
        if k >= len(data):
            break
        result = kmeans(data, k, n_init=n_init, seed=seed + k)
        score = silhouette(data, result.labels, sample=sample)
        scores[k] = score
        if best is None or score > best.silhouette:
            best = Choice(result, k, score, scores)
    if best is None:
        raise ValueError("too few rows to cluster")
    return Choice(best.result, best.k, best.silhouette, scores)
