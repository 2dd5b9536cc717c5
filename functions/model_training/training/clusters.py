"""Behavioural clusters of buyers: features, k by silhouette, plain-language labels, editable rules, stable ids.

Only buyers (at least one counted order) are clustered: spend per order and recency mean nothing before a first
order. Features are catalogue attributes, read from each customer's view at ``as_of`` exactly as rules see
them, so the scoring side can place a customer by reading the same attributes; a missing attribute counts as 0
(only ``category_share.*`` is ever missing for a buyer: she bought nothing in that category).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy.optimize import linear_sum_assignment

from segmentation.features.compute import CustomerView
from segmentation.rules import parse_rule, validate_rule
from training.kmeans import choose_k

BEHAVIOUR = (
    "orders_count",
    "avg_order_value",
    "avg_items_per_order",
    "days_since_last_order",
    "email_opens_30d",
    "site_visits_30d",
)
CATEGORY_PREFIX = "category_share."
MAX_CATEGORY_FEATURES = 4
MIN_CATEGORY_SHARE = 0.05  # a category enters the features when it holds at least 5% of items bought
MIN_BUYERS = 30  # below this, clusters would describe individuals rather than groups
MAX_K = 8
DISTINGUISHING_Z = 0.5  # a centroid this many standard deviations from the mean "stands out" on a feature
MILD_Z = 0.2  # for a cluster where nothing stands out, the leanings used to name it instead
LABEL_FEATURES = 3
RULE_CONDITIONS = 3
# Two centroids closer than this (Euclidean, in today's standardised units) are the same cluster across
# retrains; farther, the old cluster is retired and the new one gets a fresh id.
MATCH_DISTANCE = 1.5

_ADJECTIVE = {"orders_count": ("frequent", "one-off"), "days_since_last_order": ("lapsed", "recent")}
_PHRASE = {
    "avg_order_value": ("high spend per order", "low spend per order"),
    "avg_items_per_order": ("large baskets", "small baskets"),
    "email_opens_30d": ("open our emails", "rarely open emails"),
    "site_visits_30d": ("visit the site often", "rarely visit the site"),
}
_COUNTRY_NAMES = {"GB": "UK", "US": "US", "IE": "Ireland", "FR": "France", "DE": "Germany", "NL": "the Netherlands"}
_WHOLE_NUMBER = {"orders_count", "days_since_last_order", "email_opens_30d", "site_visits_30d"}


@dataclass(frozen=True)
class Clustering:
    document: dict[str, Any]
    metrics: dict[str, Any]
    assignments: dict[str, str] = field(default_factory=dict)  # customer id -> cluster id


def choose_features(views: Sequence[CustomerView]) -> list[str]:
    """The behavioural features, then the categories that hold a real share of what buyers bought."""
    items: Counter[str] = Counter()
    for view in views:
        for name, share in view.attributes.items():
            if name.startswith(CATEGORY_PREFIX):
                items[name] += share
    total = sum(items.values()) or 1.0
    popular = [name for name, amount in items.most_common() if amount / total >= MIN_CATEGORY_SHARE]
    return [*BEHAVIOUR, *sorted(popular[:MAX_CATEGORY_FEATURES])]


def feature_matrix(views: Sequence[CustomerView], features: Sequence[str]) -> np.ndarray:
    return np.array(
        [[float(view.attributes.get(name) or 0.0) for name in features] for view in views], dtype=np.float64
    ).reshape(len(views), len(features))


def cluster(
    views: Sequence[CustomerView],
    as_of: datetime,
    tz: ZoneInfo,
    previous: dict[str, Any] | None,
    previous_version: str | None,
    *,
    seed: int = 0,
) -> Clustering | None:
    """Cluster the buyers among ``views``; None when there are too few to say anything about groups."""
    buyers = sorted((v for v in views if (v.attributes.get("orders_count") or 0) >= 1), key=lambda v: v.customer_id)
    if len(buyers) < MIN_BUYERS:
        return None
    features = choose_features(buyers)
    raw = feature_matrix(buyers, features)
    stds = raw.std(axis=0)
    keep = stds > 0  # a constant feature separates nobody and cannot be standardised
    features = [f for f, k in zip(features, keep, strict=True) if k]
    raw, stds = raw[:, keep], stds[keep]
    means = raw.mean(axis=0)
    data = (raw - means) / stds
    max_k = min(MAX_K, max(2, len(buyers) // 25))
    choice = choose_k(data, range(2, max_k + 1), n_init=10, seed=seed)
    centroids, labels = choice.result.centroids, choice.result.labels

    ids, drift = stable_ids(centroids, means, stds, features, previous, previous_version)
    sizes = np.bincount(labels, minlength=choice.k)
    descriptions = unique_labels(
        [
            describe(centroids[c], features, [buyers[i] for i in np.flatnonzero(labels == c)], buyers)
            for c in range(choice.k)
        ],
        ids,
    )
    rules, rule_quality = [], []
    for c in range(choice.k):
        rule = approximate_rule(raw, labels == c, features)
        issues = validate_rule(rule)
        if issues:  # never publish a rule the service would reject; the thresholds come from data, so say so
            raise ValueError(f"generated rule for cluster {ids[c]} is invalid: {issues[0]}")
        rules.append(rule)
        rule_quality.append(_rule_quality(rule, buyers, labels == c, as_of, tz))
    order = np.argsort([int(i[1:]) for i in ids])  # publish in id order, so a reader finds c1 first
    document = {
        "features": features,
        "means": means.tolist(),
        "stds": stds.tolist(),
        "centroids": centroids[order].tolist(),
        "ids": [ids[c] for c in order],
        "labels": [descriptions[c] for c in order],
        "sizes": [int(sizes[c]) for c in order],
        "silhouette": choice.silhouette,
        "k": choice.k,
        "rules": [rules[c] for c in order],
        "drift": drift,
        # Additive to the contract: who was clustered, and the value used for a missing attribute.
        "population": "customers with at least one counted order",
        "missing_value": 0.0,
    }
    metrics = {
        "inertia": choice.result.inertia,
        "silhouette": choice.silhouette,
        "silhouette_by_k": {str(k): v for k, v in choice.scores.items()},
        "customers": len(buyers),
        "rules": {ids[c]: rule_quality[c] for c in order},
    }
    assignments = {view.customer_id: ids[int(label)] for view, label in zip(buyers, labels, strict=True)}
    return Clustering(document, metrics, assignments)


# ---------------------------------------------------------------- stable ids and drift


def stable_ids(
    centroids: np.ndarray,
    means: np.ndarray,
    stds: np.ndarray,
    features: list[str],
    previous: dict[str, Any] | None,
    previous_version: str | None,
) -> tuple[list[str], dict[str, Any]]:
    """Give each new centroid the id of the previous centroid it matches (Hungarian assignment on distance in
    today's standardised space, over the features both share), or a fresh id; report the drift."""
    k = len(centroids)
    if not previous or not previous.get("ids"):
        return [f"c{i + 1}" for i in range(k)], {"previous_version": None, "matched": {}, "new": [], "retired": []}
    old_ids: list[str] = list(previous["ids"])
    old_features: list[str] = list(previous["features"])
    shared = [f for f in features if f in old_features]
    new_cols = [features.index(f) for f in shared]
    old_cols = [old_features.index(f) for f in shared]
    old_raw = (
        np.asarray(previous["centroids"])[:, old_cols] * np.asarray(previous["stds"])[old_cols]
        + np.asarray(previous["means"])[old_cols]
    )
    old_z = (old_raw - means[new_cols]) / stds[new_cols]
    new_z = centroids[:, new_cols]
    cost = np.sqrt(((new_z[:, None, :] - old_z[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    ids: list[str | None] = [None] * k
    matched: dict[str, float] = {}
    for r, c in zip(rows, cols, strict=True):
        if cost[r, c] <= MATCH_DISTANCE:
            ids[r] = old_ids[c]
            matched[old_ids[c]] = round(float(cost[r, c]), 4)
    next_number = max(int(i[1:]) for i in old_ids) + 1
    new: list[str] = []
    for r in range(k):
        if ids[r] is None:
            ids[r] = f"c{next_number}"
            new.append(f"c{next_number}")
            next_number += 1
    retired = [i for i in old_ids if i not in matched]
    drift = {"previous_version": previous_version, "matched": matched, "new": new, "retired": retired}
    return [str(i) for i in ids], drift


# ---------------------------------------------------------------- labels


def _humanise(slug: str) -> str:
    return slug.replace("_", " ")


def describe(
    centroid: np.ndarray, features: list[str], members: Sequence[CustomerView], everyone: Sequence[CustomerView]
) -> str:
    """A plain-language label from the features where the centroid stands out, plus the scent and country the
    members share far more than the whole base does."""
    ranked = sorted(range(len(features)), key=lambda j: -abs(centroid[j]))
    standing = [j for j in ranked if abs(centroid[j]) >= DISTINGUISHING_Z][:LABEL_FEATURES]
    if not standing:
        # A large cluster sits near the mean on everything; name it by what leans furthest, mildly.
        standing = [j for j in ranked if abs(centroid[j]) >= MILD_Z][:2]
    adjectives: list[str] = []
    phrases: list[str] = []
    category: str | None = None
    for j in standing:
        name, high = features[j], centroid[j] > 0
        if name in _ADJECTIVE:
            adjectives.append(_ADJECTIVE[name][0 if high else 1])
        elif name.startswith(CATEGORY_PREFIX):
            if high and category is None:
                category = _humanise(name[len(CATEGORY_PREFIX) :])
        elif name in _PHRASE:
            phrases.append(_PHRASE[name][0 if high else 1])
    scent = _overrepresented(members, everyone, lambda v: v.attributes.get("purchased_scents") or [])
    country = _overrepresented(
        members, everyone, lambda v: [v.attributes.get("country")] if v.attributes.get("country") else [], minimum=0.6
    )
    subject = " ".join(
        [*adjectives, *([_humanise(scent)] if scent else []), *([category] if category else []), "buyers"]
    )
    parts = [subject, *phrases]
    if country:
        parts.append(f"mostly {_COUNTRY_NAMES.get(country.upper(), country.upper())}")
    return ", ".join(parts) if (adjectives or phrases or scent or category or country) else "typical buyers"


def _overrepresented(
    members: Sequence[CustomerView], everyone: Sequence[CustomerView], values: Any, minimum: float = 0.5
) -> str | None:
    """The value most over-represented among members: held by at least ``minimum`` of them and by at least
    15 points more of them than of everyone."""
    if not members:
        return None
    inside: Counter[str] = Counter(v for m in members for v in set(values(m)))
    overall: Counter[str] = Counter(v for m in everyone for v in set(values(m)))
    best, lift = None, 0.15
    for value, count in inside.items():
        share = count / len(members)
        gain = share - overall[value] / len(everyone)
        if share >= minimum and gain >= lift:
            best, lift = value, gain
    return best


def unique_labels(labels: list[str], ids: list[str]) -> list[str]:
    counts = Counter(labels)
    return [f"{label} ({cid})" if counts[label] > 1 else label for label, cid in zip(labels, ids, strict=True)]


# ---------------------------------------------------------------- editable rules


def _threshold_candidates(values: np.ndarray, name: str) -> np.ndarray:
    cuts = np.unique(np.quantile(values, np.linspace(0.05, 0.95, 19)))
    return np.unique(_round(cuts, name))


def _round(values: np.ndarray, name: str) -> np.ndarray:
    if name in _WHOLE_NUMBER:
        return np.floor(values)
    return np.round(values, 2)


def approximate_rule(raw: np.ndarray, members: np.ndarray, features: list[str]) -> dict[str, Any]:
    """A short conjunction of thresholds on the raw attributes that picks out the cluster, chosen greedily to
    maximise F1 against the cluster's membership. Marketers can adopt it as is, or edit it."""
    chosen: list[tuple[str, str, float]] = []
    selected = np.ones(len(raw), dtype=bool)
    best_f1 = _f1(selected, members)
    for _ in range(RULE_CONDITIONS):
        best: tuple[float, str, str, float, np.ndarray] | None = None
        for j, name in enumerate(features):
            column = raw[:, j]
            for cut in _threshold_candidates(column[members], name):
                for op, hit in (("lte", column <= cut), ("gt", column > cut)):
                    candidate = selected & hit
                    score = _f1(candidate, members)
                    if score > best_f1 + 1e-9 and (best is None or score > best[0]):
                        best = (score, name, op, float(cut), candidate)
        if best is None:
            break
        best_f1, name, op, cut, selected = best
        chosen.append((name, op, cut))
    conditions: list[dict[str, Any]] = [{"attr": "orders_count", "op": "gte", "value": 1}]
    for name, op, cut in chosen:
        value: float | int = int(cut) if name in _WHOLE_NUMBER else cut
        leaf = {"attr": name, "op": op, "value": value}
        if name.startswith(CATEGORY_PREFIX) and op == "lte":
            # A buyer who never bought in the category has no share at all: "at most x" must include her.
            conditions.append({"any": [leaf, {"attr": name, "op": "not_exists"}]})
        else:
            conditions.append(leaf)
    return {"all": conditions}


def _f1(selected: np.ndarray, members: np.ndarray) -> float:
    hits = float(np.sum(selected & members))
    if hits == 0:
        return 0.0
    return 2 * hits / (float(selected.sum()) + float(members.sum()))


def _rule_quality(
    rule: dict[str, Any], buyers: Sequence[CustomerView], members: np.ndarray, as_of: datetime, tz: ZoneInfo
) -> dict[str, float]:
    """Precision and recall of the rule against the cluster, with the service's own rule evaluator."""
    compiled = parse_rule(rule)
    matched = np.array([compiled.evaluate(view, as_of, tz) for view in buyers])
    hits = float(np.sum(matched & members))
    return {
        "precision": round(hits / max(float(matched.sum()), 1.0), 4),
        "recall": round(hits / max(float(members.sum()), 1.0), 4),
    }
