"""Key spills: rows split by key hash into partition files, and keys collected under a budget."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bronze_sync.diff.spill import KeyCollector, KeySpill, partition_of, partitions_for
from bronze_sync.errors import SourceDataError


def _rows(count: int) -> pa.Table:
    ids = list(range(count))
    return pa.table(
        {
            "id": pa.array([f"k{i:05d}" for i in ids]),
            "part": pa.array([i % 3 for i in ids], pa.int32()),
        }
    )


def test_every_key_lands_in_exactly_one_partition(tmp_path):
    rows = _rows(500)
    spill = KeySpill(tmp_path, "rows", ["id", "part"], 8)
    spill.add(rows.slice(0, 200))
    spill.add(rows.slice(200))
    spill.close(rows.schema)
    parts = [spill.part(p) for p in range(8)]
    assert sum(p.num_rows for p in parts) == 500 and spill.rows == 500
    assert sorted(i for p in parts for i in p.column("id").to_pylist()) == rows["id"].to_pylist()
    for index, part in enumerate(parts):
        assert set(partition_of(part, ["id", "part"], 8)) <= {index}
    assert sum(1 for p in parts if p.num_rows) > 1  # the hash really spreads keys


def test_an_empty_spill_still_yields_typed_partitions(tmp_path):
    schema = pa.schema([("id", pa.string())])
    spill = KeySpill(tmp_path, "none", ["id"], 4)
    spill.close(schema)
    assert [spill.part(p).schema for p in range(4)] == [schema] * 4


@pytest.mark.parametrize(
    ("rows", "budget_mb", "parts"),
    [
        (1_000, 2048, 1),
        (1_000_000, 2048, 1),
        (10_000_000, 2048, 4),
        (10_000_000, 512, 16),
        (10**10, 256, 256),
    ],
)
def test_partition_count_grows_with_the_table_and_shrinks_with_the_budget(rows, budget_mb, parts):
    assert partitions_for(rows, budget_mb) == parts


@pytest.mark.parametrize("memory_rows", [1_000_000, 150, 0])
def test_collector_finds_repeats_across_batches_in_memory_or_spilled(tmp_path, memory_rows):
    collector = KeyCollector(tmp_path, ["id", "part"], memory_rows, 4)
    rows = _rows(300)
    for start in range(0, 300, 100):
        collector.add(rows.slice(start, 100))
    collector.add(rows.take([5, 250, 250]))  # k00005 twice in all, k00250 three times
    assert collector.spilled == (memory_rows < 300)
    with pytest.raises(SourceDataError, match=r"2 primary key value\(s\) occur more than once"):
        collector.check_unique(rows.schema, "account", "source")


def test_collector_accepts_unique_keys_after_spilling(tmp_path):
    collector = KeyCollector(tmp_path, ["id"], 10, 8)
    rows = _rows(100).select(["id"])
    collector.add(rows.slice(0, 50))
    collector.add(rows.slice(50))
    assert collector.spilled
    collector.check_unique(rows.schema, "account", "source")  # no error: every key is unique
    assert sorted(tmp_path.glob("seen_keys.part*.arrow"))[0].stat().st_size > 0
