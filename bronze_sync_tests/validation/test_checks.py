"""Each check passes on a healthy bronze table and fails on one corrupted with deltalake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from bronze_sync.history.record import record_history
from bronze_sync.metadata import AuditEntry, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, DATA_VALIDATION
from bronze_sync.validation import CHECKS, evaluate_table, validate_tables
from bronze_sync_tests.helpers import PgTable

UTC = dt.UTC


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account, make_config, harness_for):
    harness = harness_for(make_config([account.config(max_delete_fraction=0.5)]))
    account.insert_ids([f"k{i:02d}" for i in range(20)])
    harness.sync()
    account.delete(["k03"])
    account.update(["k05"], name="changed")
    harness.sync()
    return harness


def results_of(h, now=None):
    now = now or dt.datetime.now(UTC)
    return {r.check: r for r in evaluate_table(h.store, h.meta, h.config.tables[0], now)}


def failed(h, now=None):
    return {name for name, r in results_of(h, now).items() if not r.passed}


def corrupt(h, change: Callable[[pa.Table], pa.Table], audited: bool = True) -> None:
    """Rewrite the bronze table with deltalake after `change` (a deliberate corruption).

    `audited`: record the corrupting commit in SyncAuditLog and the row history (as the next
    sync would), so only the targeted check fails.
    """
    data = change(h.delta().to_pyarrow_table())
    write_deltalake(h.store.table_uri("account"), data, mode="overwrite")
    if audited:
        now = dt.datetime.now(UTC)
        entry = AuditEntry("ExternalCommit", "account", now, delta_version=h.delta().version())
        write_audit(h.meta, RunInfo("corruption"), [entry], now)
        record_history(h.store, "account", ["id"], h.delta().version())


def test_unaudited_commit_fails_audit_complete_until_the_next_sync(h, account):
    corrupt(h, lambda d: d, audited=False)
    result = results_of(h)["audit_complete"]
    assert not result.passed and result.figures["first_unaudited"] == h.delta().version()
    assert "the next sync of the table writes them" in result.message

    h.sync()

    assert "audit_complete" not in failed(h)
    audit = h.meta.read("SyncAuditLog").to_pylist()
    external = [r for r in audit if r["Operation"] == "ExternalCommit"]
    assert [(r["Status"], r["Recovered"]) for r in external] == [("Warning", True)]
    assert "not made by bronze_sync" not in external[0]["Notes"]
    assert "no bronze_sync commit metadata" in external[0]["Notes"]


def set_where(data: pa.Table, ids: list[str], **values) -> pa.Table:
    mask = pc.is_in(data.column("id"), pa.array(ids))
    for column, value in values.items():
        field = data.schema.field(column)
        index = data.schema.get_field_index(column)
        new = pc.if_else(mask, pa.scalar(value, field.type), data.column(column))
        data = data.set_column(index, field, new)
    return data


NOW = dt.datetime.now(UTC)


def test_healthy_table_passes_every_check(h):
    results = results_of(h)
    assert {n: r.passed for n, r in results.items()} == dict.fromkeys(CHECKS, True)
    assert results["counts_consistent"].figures["deleted"] == 1
    assert results["source_reconciled"].figures == {
        **results["source_reconciled"].figures,
        "source_rows": 19,
        "active_rows": 19,
    }
    assert results["delete_spike"].skipped  # only two syncs of history
    assert "restorable version" in results["checkpoint_recorded"].message


def test_row_both_deleted_and_purged_fails_counts_and_flags(h):
    corrupt(h, lambda d: set_where(d, ["k01"], IsDeleted=True, IsPurged=True, DeletedDate=NOW))
    bad = failed(h)
    assert {"counts_consistent", "tracking_flags_consistent"} <= bad
    assert results_of(h)["tracking_flags_consistent"].figures["deleted_and_purged"] == 1


def test_null_key_fails_primary_key_not_null(h):
    corrupt(h, lambda d: set_where(d, ["k02"], id=None))
    result = results_of(h)["primary_key_not_null"]
    assert not result.passed and result.figures["null_keys"] == 1


def test_duplicate_key_fails_primary_key_unique(h):
    corrupt(h, lambda d: pa.concat_tables([d, d.slice(0, 2)]))
    result = results_of(h)["primary_key_unique"]
    assert not result.passed
    assert (result.figures["duplicate_keys"], result.figures["extra_rows"]) == (2, 2)


def test_deleted_flag_without_date_fails_tracking_flags(h):
    corrupt(h, lambda d: set_where(d, ["k03"], DeletedDate=None))
    result = results_of(h)["tracking_flags_consistent"]
    assert not result.passed and result.figures["deleted_date_mismatch"] == 1
    assert "counts_consistent" not in failed(h)


def test_wrong_sync_operation_fails_tracking_flags(h):
    corrupt(h, lambda d: set_where(d, ["k04"], SyncOperation="DELETE"))
    assert results_of(h)["tracking_flags_consistent"].figures["operation_mismatch"] == 1


def test_purged_row_without_recorded_purge_fails_purge_rule(h):
    corrupt(
        h,
        lambda d: set_where(
            d,
            ["k03"],
            IsDeleted=False,
            DeletedDate=None,
            IsPurged=True,
            PurgedDate=NOW,
            SyncOperation="PURGE",
        ),
    )
    result = results_of(h)["purge_rule_respected"]
    assert not result.passed and result.figures["violations"] == 1
    assert "no purge is recorded" in result.message


def test_purged_row_the_source_moved_to_long_term_retention_respects_purge_rule(h):
    def retained_then_purged(data: pa.Table) -> pa.Table:
        data = data.append_column("msft_datastate", pa.array([0] * data.num_rows, pa.int32()))
        flagged = set_where(
            data, ["k03"], IsPurged=True, PurgedDate=NOW, SyncOperation="PURGE", msft_datastate=1
        )
        return set_where(flagged, ["k04"], IsPurged=True, PurgedDate=NOW, SyncOperation="PURGE")

    data = retained_then_purged(h.delta().to_pyarrow_table())
    write_deltalake(h.store.table_uri("account"), data, mode="overwrite", schema_mode="overwrite")
    result = results_of(h)["purge_rule_respected"]
    # k03 went to retention (purged whatever its age); k04 has no such excuse.
    assert result.figures["retained_purges"] == 1 and result.figures["violations"] == 1


def test_flipped_active_row_fails_source_reconciled(h):
    corrupt(
        h, lambda d: set_where(d, ["k07"], IsDeleted=True, DeletedDate=NOW, SyncOperation="DELETE")
    )
    assert failed(h) == {"source_reconciled"}
    figures = results_of(h)["source_reconciled"].figures
    assert (figures["source_rows"], figures["active_rows"]) == (19, 18)


def test_vacuumed_checkpoint_version_fails_checkpoint_recorded(h):
    corrupt(h, lambda d: d)  # a new version; the checkpointed one loses its files on vacuum
    h.delta().vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    result = results_of(h)["checkpoint_recorded"]
    assert not result.passed and "gone" in result.message


def test_deactivated_checkpoint_fails_checkpoint_recorded(h):
    rows = h.meta.rows(CHECKPOINT_HISTORY)
    h.meta.update(
        CHECKPOINT_HISTORY,
        [{**r, "IsActive": False} for r in rows],
        keys=["CheckpointId"],
        columns=["IsActive"],
    )
    assert "checkpoint_recorded" in failed(h)


def test_stale_table_fails_fresh(h):
    result = results_of(h, dt.datetime.now(UTC) + dt.timedelta(hours=30))["fresh"]
    assert not result.passed and result.figures["freshness_hours"] == 26


def audit_history(h, deletes: list[int], purges: list[int] | None = None) -> None:
    start = dt.datetime.now(UTC)
    entries = [
        AuditEntry(
            "DeleteDetection",
            "account",
            start + dt.timedelta(minutes=i),
            rows_deleted=n,
            rows_purged=(purges or [0] * len(deletes))[i],
        )
        for i, n in enumerate(deletes)
    ]
    write_audit(h.meta, RunInfo("history"), entries, start + dt.timedelta(hours=1))


def test_delete_spike_over_three_sigma_warns(h):
    audit_history(h, [2, 3, 2, 4, 3, 2, 3, 40])
    result = results_of(h)["delete_spike"]
    assert not result.passed and result.severity == "WARN"
    assert result.figures["last_deletes"] == 40 and result.figures["history_syncs"] >= 7


def test_the_spike_threshold_follows_the_table_setting(h, account, make_config, harness_for):
    audit_history(h, [2, 3, 2, 4, 3, 2, 3, 40])
    lenient = harness_for(
        make_config([account.config(max_delete_fraction=0.5, delete_spike_sigmas=50)])
    )
    result = results_of(lenient)["delete_spike"]
    assert result.passed and "+ 50 x sigma" in result.message


def test_normal_deletes_do_not_warn(h):
    audit_history(h, [2, 3, 2, 4, 3, 2, 3, 4])
    assert results_of(h)["delete_spike"].passed


def test_purges_without_recorded_purge_warn(h):
    audit_history(h, [0, 0], purges=[0, 5])
    result = results_of(h)["unexpected_purge"]
    assert not result.passed and result.figures["last_purged"] == 5


def test_every_evaluation_writes_a_data_validation_row(h):
    corrupt(h, lambda d: pa.concat_tables([d, d.slice(0, 1)]))
    results = validate_tables(h.config, run_id="run-1")
    rows = [r for r in h.meta.rows(DATA_VALIDATION) if r["PipelineRunId"] == "run-1"]
    assert {r["ValidationContext"] for r in rows} == set(CHECKS)
    by_check = {r["ValidationContext"]: r for r in rows}
    assert by_check["primary_key_unique"]["ValidationPassed"] is False
    assert '"duplicate_keys": 1' in by_check["primary_key_unique"]["Notes"]
    assert by_check["counts_consistent"]["BronzeRowCount"] == 21
    assert len(results) == len(CHECKS)


def test_missing_table_fails_table_checks(account, make_config, harness_for):
    h = harness_for(make_config([account.config()]))
    results = results_of(h)
    assert not results["counts_consistent"].passed
    assert results["counts_consistent"].message == "bronze table does not exist yet"
