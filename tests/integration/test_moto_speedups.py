"""The local emulator's speed-ups change no result: parallel-scan pages and item reads are what moto would return."""

from __future__ import annotations

from typing import Any

from segmentation.store.dynamo import DynamoStore


def test_parallel_scan_pages_cover_every_item_once_with_partitions_whole(stack) -> None:
    # Given 40 customer partitions of 1 to 5 items, one binary-valued (served by moto's own serialiser)
    ddb = stack.env.client("dynamodb")
    table = stack.env.physical_ids["SegmentationTable"]
    expected = set()
    for p in range(40):
        profile = {"PK": {"S": f"C#p{p:02}"}, "SK": {"S": "#P"}, "doc": {"S": f'{{"customer_id": "p{p:02}"}}'}}
        ddb.put_item(TableName=table, Item={**profile, "version": {"N": "1"}})
        expected.add((f"C#p{p:02}", "#P"))
        for s in range(p % 5):
            item: dict[str, Any] = {"PK": {"S": f"C#p{p:02}"}, "SK": {"S": f"X#{s}"}, "doc": {"S": "{}"}}
            if p == 7:
                item["blob"] = {"B": b"\x00\x01"}
            ddb.put_item(TableName=table, Item=item)
            expected.add((f"C#p{p:02}", f"X#{s}"))

    # When it is scanned in 3 segments, 4 items per page
    seen: list[tuple[str, str]] = []
    segment_of: dict[str, int] = {}
    for segment in range(3):
        kwargs: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": 3, "Limit": 4}
        page_keys: list[tuple[str, str]] = []
        while True:
            page = ddb.scan(**kwargs)
            page_keys += [(i["PK"]["S"], i["SK"]["S"]) for i in page["Items"]]
            for i in page["Items"]:
                assert segment_of.setdefault(i["PK"]["S"], segment) == segment  # a partition never spans segments
                if i["PK"]["S"] == "C#p07" and i["SK"]["S"] != "#P":
                    assert i["blob"]["B"] == b"\x00\x01"
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        assert page_keys == sorted(page_keys)  # pages continue where the last one ended, in key order
        seen += page_keys

    # Then every item came back exactly once
    assert sorted(seen) == sorted(expected)
    # And the worker's scan assembles each customer whole, however the pages fall
    store = DynamoStore(table)
    customers = [c.history.profile.customer_id for shard in range(3) for c in store.scan_shard(shard, 3, page_size=3)]
    assert sorted(customers) == [f"p{p:02}" for p in range(40)]
