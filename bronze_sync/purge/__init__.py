"""Recording source purges: validation, impact report, pre-purge checkpoint, post-purge summary."""

from bronze_sync.purge.impact import ImpactReport, TableImpact, compute_impact
from bronze_sync.purge.record import (
    PurgeOutcome,
    PurgePlan,
    apply_purge,
    log_validation,
    prepare_purge,
    run_purge,
)
from bronze_sync.purge.request import (
    PurgeRequest,
    PurgeValidationError,
    parse_purge_date,
)
from bronze_sync.purge.summary import PurgeSummary, summarize_after_sync

__all__ = [
    "ImpactReport",
    "PurgeOutcome",
    "PurgePlan",
    "PurgeRequest",
    "PurgeSummary",
    "PurgeValidationError",
    "TableImpact",
    "apply_purge",
    "compute_impact",
    "log_validation",
    "parse_purge_date",
    "prepare_purge",
    "run_purge",
    "summarize_after_sync",
]
