"""Schema drift: tell operators when a sync changed a bronze table's columns.

A source that gains, loses or widens columns is followed by bronze automatically (and
audited as SchemaEvolution); downstream silver jobs still need to know, so the change is
alerted too (MEDIUM, deduplicated like every alert).
"""

from __future__ import annotations

import logging

from bronze_sync.alerts import Alert, Severity
from bronze_sync.config.models import TableConfig
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)
SCHEMA_DRIFT = "SchemaDrift"


def drift_lines(result: SyncResult) -> list[str]:
    """Return one line per kind of column change the sync made (none: no drift)."""
    kinds = [
        ("added", result.columns_added),
        ("gone from the source (kept in bronze, null from now on)", result.columns_dropped),
        ("back in the source", result.columns_readded),
        ("widened", result.columns_widened),
    ]
    return [f"columns {what}: {', '.join(columns)}" for what, columns in kinds if columns]


def alert_schema_drift(job: SyncJob, table: TableConfig, result: SyncResult) -> bool:
    """Send the schema-drift alert of a sync that changed columns; return whether it did."""
    lines = drift_lines(result)
    if not lines:
        return False
    alert = Alert(
        severity=Severity.MEDIUM,
        subject=f"Schema drift in {table.name}: {'; '.join(lines)}",
        body="\n".join(
            [
                *(f"- {line}" for line in lines),
                "",
                f"Bronze followed the source in version {result.version} (audited as "
                "SchemaEvolution); check the silver jobs that read this table.",
            ]
        ),
        job=job.run.pipeline_name,
        run_id=job.run.run_id,
        tables=(table.name,),
        error_class=SCHEMA_DRIFT,
    )
    try:
        job.notifier.send(alert)
    except Exception:  # an alert problem never fails a committed sync
        log.exception("could not send the schema drift alert of %s", table.name)
        return False
    return True
