"""A sync whose diff runs in spilled key partitions writes exactly what the in-memory diff writes."""

from __future__ import annotations

import pytest

from bronze_sync.config import parse_config
from bronze_sync.errors import ConfigError
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, PgTable, years_ago

RESULT_FIELDS = ("inserted", "updated", "deleted", "purged", "undeleted", "late_inserts")


def test_partitioned_and_in_memory_diffs_write_identical_bronze(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    account = PgTable(pg_engine, pg_schema)
    harnesses = {
        parts: harness_for(
            make_config(
                [account.config(max_delete_fraction=0.9)],
                bronze={"path": str(tmp_path / f"bronze_{parts}")},
                sync={"diff_partitions": parts, "staging_path": str(tmp_path / f"stage{parts}")},
            )
        )
        for parts in (1, 8)
    }
    old = years_ago(6)
    account.insert_ids([f"old{i:03d}" for i in range(40)], created=old)
    account.insert_ids([f"k{i:03d}" for i in range(260)])
    for h in harnesses.values():
        h.now = NOW
        h.sync()

    account.update([f"k{i:03d}" for i in range(0, 260, 13)], name="changed")
    account.delete([f"k{i:03d}" for i in range(5, 260, 17)])
    account.insert_ids([f"new{i:02d}" for i in range(10)])
    account.insert([{"id": "late", "modifiedon": old}])  # only the key scan can see it
    cutoff = years_ago(5)
    purged = account.purge_before(cutoff)
    results = {}
    for parts, h in harnesses.items():
        record_purge(h.meta, h.config.tables[0], cutoff, NOW, purged)
        results[parts] = h.sync()

    assert {f: getattr(results[8], f) for f in RESULT_FIELDS} == {
        f: getattr(results[1], f) for f in RESULT_FIELDS
    }
    assert (results[1].diff_partitions, results[8].diff_partitions) == (1, 8)
    assert (results[8].purged, results[8].late_inserts) == (40, 1)
    assert results[8].deleted == len(range(5, 260, 17))
    assert harnesses[8].bronze().to_pylist() == harnesses[1].bronze().to_pylist()

    account.insert([{"id": "k005", "modifiedon": old, "name": "back"}])  # reappears, old date
    for h in harnesses.values():
        h.sync()
    assert harnesses[8].bronze().to_pylist() == harnesses[1].bronze().to_pylist()
    # Partition files live in the run's staging folder, removed after the sync.
    assert list((tmp_path / "stage8").rglob("*.arrow")) == []


def test_diff_partitions_must_be_a_power_of_two():
    raw = "source: {kind: sql, url: 'sqlite://'}\nbronze: {path: /tmp/b}\nsync: {diff_partitions: 6}\ntables: []"
    with pytest.raises(ConfigError, match="diff_partitions must be a power of two, got 6"):
        parse_config(raw, env={})
