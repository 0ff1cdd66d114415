"""SyncAuditLog's hash chain: linked appends, tampering found by row, concurrent writers, seal."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from hypothesis import given, settings
from hypothesis import strategies as st

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import AuditChainError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit import AuditEntry, audit_row, write_audit
from bronze_sync.metadata.audit_chain import EMPTY, GENESIS, link, row_hash
from bronze_sync.metadata.audit_verify import seal_chain, verify_chain
from bronze_sync.metadata.schemas import SCHEMAS, SYNC_AUDIT_LOG

NOW = dt.datetime(2026, 12, 6, 2, 0, 0, 123456, tzinfo=dt.UTC)
RUN = RunInfo(run_id="run-1")


def _entries(count: int, table: str = "account") -> list[AuditEntry]:
    return [
        AuditEntry(f"Op{i}", table, NOW, rows_processed=i, notes=f"note {i} é")
        for i in range(count)
    ]


def _meta(tmp_path) -> MetadataStore:
    return MetadataStore(BronzeStore(str(tmp_path)))


def _log(meta: MetadataStore) -> list[dict]:
    return sorted(meta.rows(SYNC_AUDIT_LOG), key=lambda r: r["ChainSeq"])


def _rewrite(meta: MetadataStore, rows: list[dict]) -> None:
    """Replace the log's content behind bronze_sync's back (what a tamperer would do)."""
    data = pa.Table.from_pylist(rows, schema=SCHEMAS[SYNC_AUDIT_LOG])
    write_deltalake(meta.uri(SYNC_AUDIT_LOG), data, mode="overwrite")


def test_appends_link_each_row_to_the_one_before_and_verify(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(3), NOW)
    write_audit(meta, RUN, _entries(2, "donation"), NOW)
    log = _log(meta)
    assert [r["ChainSeq"] for r in log] == [0, 1, 2, 3, 4]
    assert log[0]["PrevHash"] == GENESIS
    assert all(b["PrevHash"] == a["RowHash"] for a, b in itertools.pairwise(log))
    report = verify_chain(meta)
    assert report.ok and report.rows == 5
    assert (report.tip.seq, report.tip.row_hash) == (4, log[-1]["RowHash"])


def test_an_edited_row_is_named(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(5), NOW)
    log = _log(meta)
    log[2]["RowsProcessed"] = 999
    _rewrite(meta, log)
    report = verify_chain(meta)
    assert not report.ok and report.log_id == log[2]["LogId"]
    assert "altered" in (report.problem or "")


def test_a_removed_row_is_named_by_the_row_after_it(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(5), NOW)
    log = _log(meta)
    _rewrite(meta, log[:2] + log[3:])
    report = verify_chain(meta)
    assert not report.ok and report.log_id == log[3]["LogId"]
    assert "removed" in (report.problem or "")


def test_a_swapped_pair_is_named(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(5), NOW)
    log = _log(meta)
    log[1]["ChainSeq"], log[2]["ChainSeq"] = 2, 1
    _rewrite(meta, log)
    report = verify_chain(meta)
    assert not report.ok and report.log_id == log[2]["LogId"]  # now first in chain order


def test_rows_cut_off_the_end_are_found_from_the_recorded_tip(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(5), NOW)
    log = _log(meta)
    DeltaTable(meta.uri(SYNC_AUDIT_LOG)).delete("ChainSeq >= 3")
    report = verify_chain(meta)
    assert not report.ok and "rows after ChainSeq 2 were removed" in (report.problem or "")
    assert report.tip.row_hash == log[2]["RowHash"]


def test_a_row_inserted_with_a_reused_sequence_number_is_named(tmp_path):
    meta = _meta(tmp_path)
    write_audit(meta, RUN, _entries(3), NOW)
    log = _log(meta)
    forged = {**log[1], "LogId": "forged", "Notes": "nothing happened"}
    _rewrite(meta, [*log, forged])
    report = verify_chain(meta)
    assert not report.ok and report.log_id in {"forged", log[1]["LogId"]}


def _append_many(root: str, writer: int, appends: int) -> None:
    meta = MetadataStore(BronzeStore(root))
    for i in range(appends):
        write_audit(meta, RunInfo(run_id=f"w{writer}"), _entries(2, f"t{writer}_{i}"), NOW)


def test_several_processes_appending_at_once_keep_one_valid_chain(tmp_path):
    write_audit(_meta(tmp_path), RUN, _entries(1), NOW)  # the table exists before the race
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w, 6)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    report = verify_chain(_meta(tmp_path))
    assert report.ok, report.problem
    assert report.rows == 1 + 4 * 6 * 2
    log = _log(_meta(tmp_path))
    # Each append's rows stay together and in order.
    for a, b in zip(log[1::2], log[2::2], strict=True):
        assert (a["TableName"], a["Operation"], b["Operation"]) == (b["TableName"], "Op0", "Op1")


def test_a_log_written_before_the_chain_fails_until_sealed_once(tmp_path):
    meta = _meta(tmp_path)
    old = [audit_row(RUN, e, NOW - dt.timedelta(days=i)) for i, e in enumerate(_entries(3))]
    meta.append(SYNC_AUDIT_LOG, old)  # how releases before the chain wrote
    write_audit(meta, RUN, _entries(2, "donation"), NOW)
    report = verify_chain(meta)
    assert not report.ok and report.unsealed == 3
    assert report.log_id == old[2]["LogId"]  # the oldest unsealed row
    assert "--seal" in (report.problem or "")

    assert seal_chain(meta) == 3
    log = _log(meta)
    assert [r["LogId"] for r in log[:3]] == [old[2]["LogId"], old[1]["LogId"], old[0]["LogId"]]
    assert verify_chain(meta).ok and seal_chain(meta) == 0
    write_audit(meta, RUN, _entries(1), NOW)
    assert verify_chain(meta).rows == 6


def test_sealing_refuses_to_relink_a_tampered_chain(tmp_path):
    meta = _meta(tmp_path)
    meta.append(SYNC_AUDIT_LOG, [audit_row(RUN, _entries(1)[0], NOW)])
    write_audit(meta, RUN, _entries(2), NOW)
    log = meta.rows(SYNC_AUDIT_LOG)
    for row in log:
        if row["ChainSeq"] == 1:
            row["Notes"] = "rewritten"
    _rewrite(meta, log)
    with pytest.raises(AuditChainError, match="cannot seal"):
        seal_chain(meta)
    assert sum(r["RowHash"] is None for r in meta.rows(SYNC_AUDIT_LOG)) == 1  # nothing written


VALUES = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES), min_size=1),
    target=st.integers(min_value=0),
    replacement=st.text(min_size=1, max_size=5),
)
def test_any_single_value_change_breaks_that_rows_hash(rows, target, replacement):
    linked = link(rows, EMPTY)
    assert all(row_hash(r) == r["RowHash"] for r in linked)
    victim = dict(linked[target % len(linked)])
    before = victim.get("a")
    victim["a"] = replacement if before != replacement else replacement + "!"
    assert row_hash(victim) != victim["RowHash"]
