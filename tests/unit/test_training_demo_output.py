"""The demo's description of a trained model: the RFM grid reads R5 at the top and F1 on the left."""

from __future__ import annotations

from local_runtime.training import describe


def test_rfm_grid_cells_land_under_their_scores():
    grid = [[0] * 5 for _ in range(5)]
    grid[4][0] = 11  # R5 F1: New
    grid[0][4] = 22  # R1 F5: Can't Lose Them
    document = {
        "as_of": "2026-11-20T12:00:00Z",
        "data": {"customers": 40, "buyers": 33, "repeat_buyers": 20},
        "metrics": {"rfm": {"grid": grid, "groups": {"New": 11, "Can't Lose Them": 22}}},
    }
    lines = describe(document)
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.strip().startswith("R") and "grid" not in line}
    assert rows["R5"] == ["11", "0", "0", "0", "0"]
    assert rows["R1"] == ["0", "0", "0", "0", "22"]
    assert any("New 11" in line and "Can't Lose Them 22" in line for line in lines)
