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
    assert re.search(r"refresh run \S+ \(updated\): succeeded, 16/16 shards, 60 customers evaluated", fresh)
    assert "c-day-90 in dormant_90: True" in fresh and "minutes after her day 90" in fresh
