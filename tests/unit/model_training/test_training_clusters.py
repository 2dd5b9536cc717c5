"""Clusters: labels, editable rules that the service accepts, and ids that survive a retrain."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from local_runtime.shop import generate_histories
from segmentation.features.compute import build_view
from segmentation.rules import validate_rule
from training import clusters

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def views():
    return [build_view(h, END, LONDON) for h in generate_histories(7, 400, end=END)]


def test_clusters_have_labels_rules_and_sizes(views):
    result = clusters.cluster(views, END, LONDON, None, None)
    assert result is not None
    doc = result.document
    assert doc["ids"] == [f"c{i + 1}" for i in range(doc["k"])]
    assert len(set(doc["labels"])) == doc["k"] and all(doc["labels"])
    assert all(validate_rule(rule) == [] for rule in doc["rules"])
    assert sum(doc["sizes"]) == sum(1 for v in views if v.attributes["orders_count"] >= 1)
    assert np.array(doc["centroids"]).shape == (doc["k"], len(doc["features"]))
    for quality in result.metrics["rules"].values():
        assert 0 < quality["precision"] <= 1 and 0 < quality["recall"] <= 1


def test_retraining_on_the_same_data_keeps_every_id(views):
    first = clusters.cluster(views, END, LONDON, None, None)
    previous = {**first.document}
    second = clusters.cluster(list(reversed(views)), END, LONDON, previous, "v1")
    assert sorted(second.document["ids"]) == sorted(first.document["ids"])
    drift = second.document["drift"]
    assert drift["previous_version"] == "v1" and drift["new"] == [] and drift["retired"] == []
    assert all(distance < 1e-9 for distance in drift["matched"].values())
    assert second.assignments == first.assignments


def test_a_cluster_that_moved_far_is_retired_and_the_newcomer_gets_a_fresh_id():
    centroids = np.array([[0.0, 0.0], [5.0, 5.0]])
    previous = {
        "ids": ["c1", "c7"],
        "features": ["a", "b"],
        "centroids": [[0.0, 0.0], [-5.0, -5.0]],
        "means": [0.0, 0.0],
        "stds": [1.0, 1.0],
    }
    ids, drift = clusters.stable_ids(centroids, np.zeros(2), np.ones(2), ["a", "b"], previous, "v1")
    assert ids == ["c1", "c8"]
    assert drift["matched"] == {"c1": 0.0} and drift["new"] == ["c8"] and drift["retired"] == ["c7"]


def test_labels_speak_of_what_stands_out():
    label = clusters.describe(
        np.array([1.2, 0.1, 0.9]), ["orders_count", "avg_order_value", "category_share.essential_oils"], [], []
    )
    assert label == "frequent essential oils buyers"
