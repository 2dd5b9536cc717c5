"""k-means++ / Lloyd with restarts, the silhouette, and choosing k."""

from __future__ import annotations

import numpy as np
import pytest

from training.kmeans import choose_k, kmeans, silhouette


def blobs(seed: int = 1, per: int = 200, centres: tuple = ((0, 0), (8, 0), (0, 8))) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = np.vstack([rng.normal(c, 1.0, size=(per, 2)) for c in centres])
    truth = np.repeat(np.arange(len(centres)), per)
    return data, truth


def brute_force_silhouette(data: np.ndarray, labels: np.ndarray) -> float:
    widths = []
    for i in range(len(data)):
        d = np.sqrt(((data - data[i]) ** 2).sum(axis=1))
        own = labels == labels[i]
        if own.sum() == 1:
            widths.append(0.0)
            continue
        a = d[own].sum() / (own.sum() - 1)
        b = min(d[labels == c].mean() for c in set(labels.tolist()) if c != labels[i])
        widths.append((b - a) / max(a, b))
    return float(np.mean(widths))


def test_kmeans_recovers_separated_groups():
    data, truth = blobs()
    result = kmeans(data, 3, n_init=5, seed=0)
    # every true group lands in exactly one cluster
    for group in range(3):
        assert len(set(result.labels[truth == group].tolist())) == 1
    assert len(set(result.labels.tolist())) == 3
    expected = sum(((data[truth == g] - data[truth == g].mean(axis=0)) ** 2).sum() for g in range(3))
    assert result.inertia == pytest.approx(expected, rel=1e-9)


def test_kmeans_is_deterministic_for_a_seed_and_restarts_never_worsen_inertia():
    data, _ = blobs(seed=3, centres=((0, 0), (3, 0), (0, 3), (3, 3), (1.5, 1.5)))
    assert np.array_equal(kmeans(data, 5, seed=4).labels, kmeans(data, 5, seed=4).labels)
    single = kmeans(data, 5, n_init=1, seed=4).inertia
    assert kmeans(data, 5, n_init=10, seed=4).inertia <= single


def test_silhouette_matches_its_definition():
    data, truth = blobs(per=30, centres=((0, 0), (2, 0), (0, 2)))
    assert silhouette(data, truth) == pytest.approx(brute_force_silhouette(data, truth), rel=1e-9)


def test_choose_k_picks_the_number_of_groups_by_silhouette():
    data, _ = blobs(centres=((0, 0), (10, 0), (0, 10), (10, 10)))
    choice = choose_k(data, range(2, 7), n_init=3)
    assert choice.k == 4
    assert choice.silhouette == max(choice.scores.values())
