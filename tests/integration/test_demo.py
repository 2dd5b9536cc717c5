"""`make demo`, shrunk: the whole story runs and tells it (sizes, reasons, sync, the dead-lettered event)."""

from __future__ import annotations

import re

from local_runtime.cli import main


def test_demo_runs_end_to_end_on_a_small_shop(capsys, monkeypatch):
    monkeypatch.delenv("SEGMENTATION_FROZEN_NOW", raising=False)
    assert main(["demo", "--customers", "60"]) == 0
    out = capsys.readouterr().out
    table = out.split("segment sizes")[1].split("why they are in")[0]
    sizes = {sid: int(n) for n, sid in re.findall(r"^\s+.+?\s+(\d+)\s+(\w+)$", table, flags=re.M)}
    assert set(sizes) >= {"dormant_90", "high_value", "lavender_lovers", "uk_customers", "high_engagement"}
    assert len(sizes) == 9
    assert sizes["dormant_90"] > 0 and sizes["uk_customers"] > 0
    assert "why they are in" in out and "-> actual" in out
    delivered = int(re.search(r"webhook deliveries: (\d+), rejected signatures: (\d+)", out).group(1))
    assert delivered > 0 and "rejected signatures: 0" in out
    assert "dead-lettered event, reason: placed_at: Field required" in out
    # freshness: an impact preview, the edit's refresh run, and an exact-time entry by the boundary schedule
    fresh = out.split("\nfreshness")[1]
    assert re.search(r"impact preview, high_value at 400 instead of 500: \d+ would enter", fresh)
    assert re.search(r"refresh run \S+ \(updated\): succeeded, 16/16 shards, \d+ customers evaluated", fresh)
    assert "c-day-90 in dormant_90: True" in fresh and "minutes after her day 90" in fresh
    platforms = out.split("what each marketing platform received")[1]
    for channel in ("mailchimp", "hubspot", "klaviyo"):
        assert f"  {channel}: " in platforms
    # Every list holds exactly the consented members the reconciliation wanted there.
    lists = re.findall(r"holds\s+(\d+)\s+\(wanted (\d+), .* pending 0, failures 0\)", platforms)
    assert len(lists) == 9 and all(held == wanted for held, wanted in lists)
    assert sum(int(held) for held, _ in lists) > 0
    # the models are trained on the replayed history and described
    models = out.split("training the AI segment models")[1]
    assert "clusters (k=" in models or "customers" in models
    assert "RFM grid" in models and "Champions" in models
    assert re.search(r"model \S+ stored at s3://\S+/models/\S+/model\.json", models)
    # the import part: both Shopify exports imported, their bad rows reported, and where the report is
    imports = out.split("importing a Shopify customers export")[1]
    assert re.search(r"customers_export\.csv: \d+ rows, preset shopify_customers, completed", imports)
    assert re.search(r"orders_export\.csv: \d+ rows, preset shopify_orders, completed", imports)
    assert re.search(r"rejected 3, suppressed 0", imports)
    assert "reject report: s3://" in imports and "Lineitem quantity: not a whole number" in imports
