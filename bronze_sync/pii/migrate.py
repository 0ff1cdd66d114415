"""`pii migrate`: rewrite a table's stored values under its newly configured PII policies.

Every bronze row (deleted and purged ones too) is rewritten in ONE commit, then the row
history's images in one commit of the history table, then the records: PipelineConfig's
policy, the audit row, the audited version. A run stopped after the bronze commit is
finished by the next `pii migrate` (syncs refuse the table until then). The old values stay
in both tables' earlier Delta versions until VACUUM removes them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from deltalake import DeltaTable

from bronze_sync.bronze.lease import LeaseRequest, TableLease, hold_lease
from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.rewrite import RowEdits, TableChange, rewrite_commit
from bronze_sync.bronze.row_metadata import RECORD_HASH
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import TableConfig
from bronze_sync.config.pii_key import policy_keys
from bronze_sync.errors import BronzeError, ConfigError
from bronze_sync.faults import fault_point
from bronze_sync.history.columns import HISTORY_COLUMNS
from bronze_sync.history.record import record_history
from bronze_sync.history.store import (
    Coverage,
    coverage_metadata,
    coverage_of,
    open_history,
    rewrite_history,
)
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import (
    AuditEntry,
    RunInfo,
    audited_versions,
    table_audit_rows,
    write_audit,
)
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.pii.migration_log import (
    PII_MIGRATE,
    POLICY_FROM,
    POLICY_TO,
    MigrationCommit,
    migrations_after,
)
from bronze_sync.pii.policies import TOKENIZE
from bronze_sync.pii.source import PII_POLICY, policy_text
from bronze_sync.pii.transform import CLEAR, PolicyMove, ValueRewrite, plan_moves
from bronze_sync.pii.vault import forget_column, reveal_column, store_tokens

AUDIT_OPERATION = "PiiMigrate"


@dataclass
class MigrationPlan:
    """What a migration of one table will do (the dry run prints it)."""

    table: str
    version: int
    moves: list[PolicyMove]
    rows: int = 0
    files: int = 0
    history_rows: int | None = None  # None: the table has no row history
    finishing: MigrationCommit | None = None  # a run that stopped after its bronze commit

    def lines(self) -> list[str]:
        """Return the plan as lines for the terminal (never a value)."""
        if not self.moves:
            return [f"{self.table}: bronze's values are under the configured policy already"]
        moves = "; ".join(m.describe() for m in self.moves)
        if self.finishing is not None:
            head = f"{self.table}: finish the migration committed as version "
            return [head + f"{self.finishing.version} ({moves})"]
        lines = [f"{self.table} (version {self.version}): {moves}"]
        if any(m.rewrites for m in self.moves):
            lines.append(f"  rewrite {self.rows:,} rows in {self.files:,} files in one commit")
            if self.history_rows is not None:
                lines.append(f"  rewrite the row history's {self.history_rows:,} images")
        else:
            lines.append("  no stored value changes (the next sync adds the column)")
        return lines


@dataclass
class MigrationOutcome:
    """What an executed migration wrote."""

    plan: MigrationPlan
    version: int
    history_rewritten: bool = False
    tokens_stored: int = 0
    tokens_forgotten: dict[str, int] = field(default_factory=dict)


def plan_migration(store: BronzeStore, meta: MetadataStore, table: TableConfig) -> MigrationPlan:
    """Return what migrating `table` to its configured policies involves; raise if it cannot."""
    delta = store.open(store.table_uri(table.name))
    if delta is None:
        raise BronzeError(
            "no bronze table yet: its first sync applies the policy", table=table.name
        )
    state = pipeline_config.read_state(meta, table.name) or {}
    pending = _unfinished(delta, meta, table.name, state.get("AuditedThroughVersion"))
    if pending is not None:
        if pending.after != table.pii:
            raise ConfigError(
                f"table {table.name}: a pii migrate to {json.dumps(pending.after)} stopped after "
                f"its commit (version {pending.version}); set the table's pii back to that and "
                "run it again to finish it"
            )
        moves = plan_moves(table.name, pending.before, pending.after)
        return MigrationPlan(table.name, delta.version(), moves, finishing=pending)
    stored = json.loads(str(state.get(PII_POLICY) or "{}"))
    plan = MigrationPlan(table.name, delta.version(), plan_moves(table.name, stored, table.pii))
    through = state.get("AuditedThroughVersion")
    if plan.moves and through != delta.version():
        raise BronzeError(
            f"version {delta.version()} has no metadata rows yet (a run stopped after its "
            f"commit): run `bronze-sync sync --tables {table.name}` first, which records them "
            "and then stops at the pii policy check",
            table=table.name,
        )
    plan.rows, plan.files = count_flags(delta).get("total", 0), len(delta.file_uris())
    history = open_history(store, table.name)
    if history is not None:
        plan.history_rows = history.to_pyarrow_dataset().count_rows()
    return plan


def execute_migration(
    store: BronzeStore,
    meta: MetadataStore,
    table: TableConfig,
    env: Mapping[str, str],
    run: RunInfo,
    lease_wait_seconds: float = 60.0,
) -> MigrationOutcome:
    """Migrate `table` under its lease: bronze, history, vault, then the records."""
    request = LeaseRequest(run.run_id, purpose="pii-migrate", wait_seconds=lease_wait_seconds)
    with hold_lease(store, table.name, request) as lease:
        plan = plan_migration(store, meta, table)
        outcome = MigrationOutcome(plan, plan.version)
        if not plan.moves:
            return outcome
        rewrite = _value_rewrite(meta, table, env, plan.moves)
        if plan.finishing is not None:
            outcome.version = plan.finishing.version
        elif any(m.rewrites for m in plan.moves):
            outcome.version = _commit_bronze(store, meta, table, plan, rewrite, lease, run)
            fault_point("after_pii_commit")
        else:
            outcome.version = plan.version  # no stored value changes: the records only
        outcome.history_rewritten = _rewrite_history(store, meta, table, rewrite, outcome)
        outcome.tokens_stored = len(rewrite.tokens())  # bronze's and the history's
        for move in plan.moves:
            if move.before == TOKENIZE:  # its tokens are gone from bronze and history
                outcome.tokens_forgotten[move.column] = forget_column(meta, table.name, move.column)
        _record(meta, table, run, outcome)
        return outcome


def _value_rewrite(
    meta: MetadataStore, table: TableConfig, env: Mapping[str, str], moves: list[PolicyMove]
) -> ValueRewrite:
    """Return the rewrite of the moves, with the keys and vault values it needs."""
    needed = [m.after for m in moves] + [TOKENIZE for m in moves if m.before == TOKENIZE]
    key, vault_key = policy_keys(env, table.name, needed)
    revealed = {}
    for move in moves:
        if move.before == TOKENIZE and move.rewrites and vault_key is not None:
            revealed[move.column] = reveal_column(meta, table.name, move.column, vault_key)
    managed = None  # record_hash, when bronze keeps one, follows the new values
    if RECORD_HASH in table.metadata_columns:
        managed = (*table.metadata_columns, *([table.latest_column] if table.latest_column else []))
    return ValueRewrite(moves, key, revealed, hashed_managed=managed, vault_key=vault_key)


def _commit_bronze(
    store: BronzeStore,
    meta: MetadataStore,
    table: TableConfig,
    plan: MigrationPlan,
    rewrite: ValueRewrite,
    lease: TableLease,
    run: RunInfo,
) -> int:
    """Rewrite every bronze row in one commit; return its version."""
    uri = store.table_uri(table.name)
    if open_history(store, table.name) is not None:
        # Gaps are rebuilt from the log: after this commit they would be rebuilt in clear.
        record_history(store, table.name, list(table.primary_key), plan.version)
    delta = store.open(uri)
    if delta is None or delta.version() != plan.version:
        raise BronzeError("the table changed while the migration was planned", table=table.name)
    metadata = {
        "run_id": run.run_id,
        "pipeline": run.pipeline_name,
        "history": "on",
        "mode": PII_MIGRATE,
        POLICY_FROM: policy_text(_policies_before(table, plan.moves)),
        POLICY_TO: policy_text(table.pii),
        "lease": lease.token,
    }
    vault = _vault_writer(meta, table, rewrite, lease)
    schema = rewrite.schema(delta.to_pyarrow_dataset().schema)
    result = rewrite_commit(
        delta,
        RowEdits.none(),
        table.primary_key,
        dt.datetime.now(dt.UTC),
        metadata,
        token=lease.token,
        change=TableChange(schema=schema, transform=rewrite),
        before_commit=vault,
    )
    return result.version


def _policies_before(table: TableConfig, moves: list[PolicyMove]) -> dict[str, str]:
    """Return the policies bronze's values were under before the moves."""
    before: dict[str, str] = dict(table.pii)
    for move in moves:
        before.pop(move.column, None)
        if move.before != CLEAR:
            before[move.column] = move.before
    return before


def _vault_writer(
    meta: MetadataStore, table: TableConfig, rewrite: ValueRewrite, lease: TableLease | None
) -> Callable[[], None]:
    """Return the step that stores the rewrite's new tokens (then checks the lease)."""

    def before_commit() -> None:
        # Into the vault before the commit: a token in bronze is always revealable.
        tokens = rewrite.tokens()
        if tokens and rewrite.vault_key is not None:
            store_tokens(meta, table.name, tokens, rewrite.vault_key)
        if lease is not None:
            lease.before_commit()

    return before_commit


def _unfinished(
    delta: DeltaTable, meta: MetadataStore, table: str, through: object
) -> MigrationCommit | None:
    """Return the newest migration commit the audit does not name yet (a stopped run)."""
    found = migrations_after(delta, int(through) if isinstance(through, int) else None)
    if not found:
        return None
    audited = audited_versions(table_audit_rows(meta, table))
    pending = [m for m in found if m.version not in audited]
    return pending[-1] if pending else None


def _rewrite_history(
    store: BronzeStore,
    meta: MetadataStore,
    table: TableConfig,
    rewrite: ValueRewrite,
    outcome: MigrationOutcome,
) -> bool:
    """Rewrite the row history's images in one commit that covers the migration version."""
    history = open_history(store, table.name)
    coverage = coverage_of(history, store.options()) if history is not None else None
    if history is None or coverage is None or not any(m.rewrites for m in outcome.plan.moves):
        return False
    if coverage.through >= outcome.version:
        return False  # a stopped run rewrote it already
    if coverage.through < outcome.version - 1:
        raise BronzeError(
            f"the row history ends at version {coverage.through}, before the migration's "
            f"version {outcome.version}: run `bronze-sync history --backfill --tables "
            f"{table.name}` and then migrate again",
            table=table.name,
        )
    images = rewrite.sharing_tokens(HISTORY_COLUMNS)
    covered = Coverage(coverage.first, outcome.version, coverage.settled)
    metadata = coverage_metadata(covered, PII_MIGRATE)
    rewrite_history(
        store, table.name, history, images, metadata, _vault_writer(meta, table, images, None)
    )
    return True


def _record(
    meta: MetadataStore, table: TableConfig, run: RunInfo, outcome: MigrationOutcome
) -> None:
    """Write the records: policy and key state, the audit row, then the audited version.

    The audit row comes before AuditedThroughVersion, so a stop between them leaves the
    migration commit unaudited: the next migrate finishes it, and syncs refuse until then.
    """
    now = dt.datetime.now(dt.UTC)
    plan = outcome.plan
    # Key checksums were of the old key values: the next sync compares every key.
    pipeline_config.update_state(meta, table, now, PiiPolicy=policy_text(table.pii), KeyState=None)
    moves = "; ".join(m.describe() for m in plan.moves)
    notes = [moves]
    if outcome.history_rewritten:
        notes.append("row history rewritten")
    if outcome.tokens_forgotten:
        notes.append(f"vault entries removed: {sum(outcome.tokens_forgotten.values())}")
    notes.append(
        f"values under the old policy remain in the Delta versions before {outcome.version} "
        "(bronze and history) until VACUUM; no checkpoint before it can be restored"
    )
    entry = AuditEntry(
        AUDIT_OPERATION,
        table.name,
        now,
        now,
        rows_processed=plan.rows,
        delta_version=outcome.version,
        notes="; ".join(notes),
    )
    write_audit(meta, run, [entry], now)
    pipeline_config.update_state(meta, table, now, AuditedThroughVersion=outcome.version)
