"""Safe type widenings (int -> bigint, decimal(10,2) -> decimal(14,2)): one rewrite commit.

The source's values no longer fit bronze's type, but every value bronze holds fits the new
one. Bronze follows: a PreSchemaChange checkpoint pins the version before, every data file is
rewritten with the wider type in one commit (audited at once), and the sync then goes on
against the widened table. Narrowing or incompatible changes stay refused (bronze.schema).
"""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.lease import TableLease
from bronze_sync.bronze.rewrite import RowEdits, TableChange, rewrite_commit
from bronze_sync.bronze.schema import SchemaPlan
from bronze_sync.checkpoints import CheckpointType, create_checkpoint
from bronze_sync.checkpoints.model import pre_schema_change_name
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeError
from bronze_sync.metadata.audit import AuditEntry, write_audit
from bronze_sync.sync.job import PhaseTimer, SyncJob

WIDEN = "widen"


def widen_columns(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    schema_plan: SchemaPlan,
    lease: TableLease,
    timer: PhaseTimer,
) -> DeltaTable:
    """Rewrite bronze with the plan's wider column types; return the table after the commit."""
    changes = [w.describe() for w in schema_plan.widened]
    before, now = delta.version(), job.clock()
    job.progress(table.name, "commit", f"widening {'; '.join(changes)}")
    checkpoint = create_checkpoint(
        job.meta,
        pre_schema_change_name(table.name, now),
        CheckpointType.PRE_SCHEMA_CHANGE,
        {table.name: before},
        now,
        job.created_by,
        notes=f"taken before widening {'; '.join(changes)}",
    )
    wider = {w.name: w.new for w in schema_plan.widened}
    current = delta.to_pyarrow_dataset().schema
    schema = pa.schema([pa.field(f.name, wider.get(f.name, f.type)) for f in current])
    metadata = {
        **job.commit_identity(),
        "mode": WIDEN,
        "columns_widened": changes,
        "checkpoint": checkpoint.name,
    }

    with timer("commit"):
        outcome = rewrite_commit(
            delta,
            RowEdits.none(),
            table.primary_key,
            now,
            metadata,
            token=lease.token,
            change=TableChange(schema=schema),
            before_commit=lease.before_commit,
        )
    entry = AuditEntry(
        "SchemaEvolution",
        table.name,
        now,
        job.clock(),
        rows_processed=outcome.files_rewritten,
        delta_version=outcome.version,
        notes=f"widened {'; '.join(changes)}; checkpoint {checkpoint.name} pins v{before}",
    )
    write_audit(job.meta, job.run, [entry], job.clock())
    widened = job.store.open(job.store.table_uri(table.name), outcome.version)
    if widened is None:
        raise BronzeError("the widened table cannot be opened", table=table.name)
    return widened
