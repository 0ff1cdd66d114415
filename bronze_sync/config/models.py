"""Pydantic models of the configuration file (ARCHITECTURE §2): tables and the whole file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from bronze_sync.config.alerts import AlertSettings
from bronze_sync.config.columns import as_list, column, column_list
from bronze_sync.config.connections import (
    BronzeConfig,
    SourceConfig,
    SqlSourceConfig,
    StrictModel,
)
from bronze_sync.config.engine import NATIVE, Engine, SparkSettings, engine_problems
from bronze_sync.config.job_settings import (
    LogRetentionSettings,
    PurgeSettings,
    RollbackSettings,
    SyncSettings,
)
from bronze_sync.config.kinds import MERGED, KindSettings, kind_problems
from bronze_sync.errors import ConfigError
from bronze_sync.identifiers import (
    check_table_name,
    split_source_name,
)

MIN_VACUUM_RETENTION_HOURS = 168
# How much CPU and memory a table's step asks for when each step is its own Kubernetes pod
# (docs/scale-out.md); elsewhere it only labels the asset.
TableSize = Literal["small", "medium", "large"]
PiiPolicy = Literal["hash", "mask", "drop", "tokenize"]
MetadataColumn = Literal[
    "load_timestamp", "update_timestamp", "source_system", "batch_id", "record_hash"
]


class TableSettings(KindSettings):
    """Per-table settings; any of them may also be given under `defaults`."""

    primary_key: list[str]
    created_column: str | None = None
    modified_column: str | None = None
    track_deletes: bool = True
    enabled: bool = True
    max_delete_fraction: float = Field(0.10, ge=0.0, le=1.0)
    allow_mass_delete: bool = False
    watermark_overlap_minutes: int = Field(60, ge=0)
    batch_size: int = Field(50_000, gt=0)
    # PURGE only rows that vanish within this many days after the purge was recorded.
    purge_window_days: int | None = Field(None, ge=1)
    # Delta retention properties set on the bronze table (docs/checkpoints-and-rollback.md).
    log_retention_days: int = Field(400, ge=1)
    deleted_file_retention_days: int = Field(7, ge=0)
    # Tables that should be rolled back together with this one (rollback warns otherwise).
    related_tables: list[str] = Field(default_factory=list)
    # Days the table's Daily checkpoints are kept (None: the type's 7); PipelineConfig too.
    daily_checkpoint_retention_days: int | None = Field(None, ge=1, le=36500)
    # Foreign keys: column -> "table" or "table.key_column" (rollback's orphan checks).
    references: dict[str, str] = Field(default_factory=dict)
    # Weekly maintenance (docs/maintenance.md): VACUUM keeps removed files this long.
    vacuum_retention_hours: int = Field(MIN_VACUUM_RETENTION_HOURS, ge=0)
    allow_short_retention: bool = False
    enable_vacuum: bool = True
    enable_optimize: bool = True
    zorder_columns: list[str] = Field(default_factory=list)
    # Maintenance deletes row-history rows older than this many days (None: keep forever).
    history_retention_days: int | None = Field(None, ge=1)
    # Compare every source key at least this often; between, key checksums prove deletes
    # (docs/performance.md). 0: every sync compares every key.
    full_key_scan_every_days: int = Field(7, ge=0)
    # The `delete_spike` check warns above the deletes' mean plus this many standard deviations.
    delete_spike_sigmas: float = Field(3.0, gt=0, le=100)
    # The `fresh` check warns when the last successful sync is older than this.
    freshness_hours: float = Field(26.0, gt=0)
    # Never write a re-read row whose modified value is older than bronze's (a stale read,
    # e.g. a lagging replica). Turn off for a source that moves modified values backwards.
    skip_older_rows: bool = True
    size: TableSize = "medium"
    # Row metadata columns bronze keeps (docs/bronze-tables.md, "Row metadata columns").
    metadata_columns: list[MetadataColumn] = Field(default_factory=list)
    # What `source_system` holds (default: the source's dialect, e.g. postgresql, dataverse).
    source_system: str | None = Field(None, min_length=1, max_length=200)
    # Column -> how it is protected before anything is staged (docs/bronze-tables.md, "PII").
    pii: dict[str, PiiPolicy] = Field(default_factory=dict)
    # Who runs the sync: bronze_sync itself, or a Spark cluster via Spark Connect.
    engine: Engine = NATIVE
    spark: SparkSettings | None = None

    @field_validator("references")
    @classmethod
    def _reference_columns(cls, value: dict[str, str]) -> dict[str, str]:
        column_list(list(value), "references columns")
        for target in value.values():
            table, _, key = target.partition(".")
            if not table or (key and key != column(key)) or "." in key:
                raise ValueError(f"references target {target!r} is not `table` or `table.column`")
        return value

    @field_validator("pii")
    @classmethod
    def _pii_columns(cls, value: dict[str, str]) -> dict[str, str]:
        column_list(list(value), "pii columns")
        return value

    @field_validator("metadata_columns", mode="before")
    @classmethod
    def _metadata_as_list(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("metadata_columns")
    @classmethod
    def _metadata_once(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_as_list(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("primary_key")
    @classmethod
    def _key_columns(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one key column is required")
        return column_list(value, "key columns")

    @field_validator("created_column", "modified_column")
    @classmethod
    def _optional_column(cls, value: str | None) -> str | None:
        return None if value is None else column(value)

    @field_validator("zorder_columns", mode="before")
    @classmethod
    def _zorder_as_list(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("zorder_columns")
    @classmethod
    def _zorder_columns(cls, value: list[str]) -> list[str]:
        return column_list(value)


def pii_problems(table: TableSettings) -> list[str]:
    """Return why the table's pii policies cannot work with its keys and columns."""
    problems = []
    for name, policy in table.pii.items():
        if name in table.primary_key and policy not in ("hash", "tokenize"):
            problems.append(
                f"pii.{name}: a primary key column may only be protected with hash or "
                f"tokenize, not {policy}"
            )
        if name in (table.created_column, table.modified_column):
            problems.append(
                f"pii.{name}: the created/modified column drives delete detection and "
                "watermarks; it cannot be protected"
            )
    keyed = [k for k in table.primary_key if k in table.pii]
    if keyed and table.kind != MERGED:
        problems.append(f"pii.{keyed[0]}: a protected primary key needs kind merged")
    return problems


class ColumnSelection(StrictModel):
    """Which of a wide entity's columns a sync reads (`$select`): include or exclude."""

    include: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else column_list(value)

    @model_validator(mode="after")
    def _one_way(self) -> ColumnSelection:
        if self.include is not None and self.exclude:
            raise ValueError("give include or exclude, not both")
        if self.include is not None and not self.include:
            raise ValueError("include is empty")
        return self


class TableConfig(TableSettings):
    """One source table synced into one bronze table."""

    name: str
    source: str
    columns: ColumnSelection | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return check_table_name(value, "name")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("name: ")) from None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        try:
            split_source_name(value, "source")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("source: ")) from None
        return value

    @model_validator(mode="after")
    def _kind_settings(self) -> TableConfig:
        problems = kind_problems(self) + pii_problems(self) + engine_problems(self)
        if problems:
            raise ValueError(f"table {self.name}: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _vacuum_retention(self) -> TableConfig:
        if self.vacuum_retention_hours < MIN_VACUUM_RETENTION_HOURS and not (
            self.allow_short_retention
        ):
            raise ValueError(
                f"table {self.name}: vacuum_retention_hours {self.vacuum_retention_hours} is "
                f"below {MIN_VACUUM_RETENTION_HOURS} (7 days); set allow_short_retention: true "
                "to accept the risk to concurrent readers"
            )
        return self

    @property
    def source_schema(self) -> str | None:
        """Return the schema part of `source`, if any."""
        return split_source_name(self.source, "source")[0]

    @property
    def source_table(self) -> str:
        """Return the table part of `source`."""
        return split_source_name(self.source, "source")[1]


class Config(StrictModel):
    """The whole configuration file."""

    source: SourceConfig
    bronze: BronzeConfig
    defaults: dict[str, Any] = Field(default_factory=dict)
    # The Spark Connect endpoint of tables with engine spark that name none of their own.
    spark: SparkSettings | None = None
    sync: SyncSettings = Field(default_factory=SyncSettings)
    rollback: RollbackSettings = Field(default_factory=RollbackSettings)
    purge: PurgeSettings = Field(default_factory=PurgeSettings)
    log_retention: LogRetentionSettings = Field(default_factory=LogRetentionSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    tables: list[TableConfig] = Field(min_length=1)

    _file: str | None = PrivateAttr(default=None)
    _env_refs: dict[str, str] = PrivateAttr(default_factory=dict)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _profile: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _column_selection_needs_dataverse(self) -> Config:
        chosen = [t.name for t in self.tables if t.columns is not None]
        if chosen and self.source.kind != "dataverse":
            raise ValueError(
                f"tables {', '.join(chosen)}: columns (a $select of some columns) needs a "
                f"Dataverse source (source.kind is {self.source.kind})"
            )
        return self

    @model_validator(mode="after")
    def _rule_tables_known(self) -> Config:
        names = {t.name for t in self.tables}
        unknown = sorted(set(self.alerts.rules.tables) - names)
        if unknown:
            raise ValueError(
                f"alerts.rules.tables.{unknown[0]}: not a configured table "
                f"(tables: {', '.join(sorted(names))})"
            )
        return self

    @model_validator(mode="after")
    def _references_known(self) -> Config:
        tables = {t.name: t for t in self.tables}
        for table in self.tables:
            for col, target in table.references.items():
                parent_name, _, key = target.partition(".")
                parent = tables.get(parent_name)
                if parent is None:
                    raise ValueError(
                        f"tables {table.name}: references.{col} names table {parent_name!r}, "
                        "which is not configured"
                    )
                if not key and len(parent.primary_key) != 1:
                    raise ValueError(
                        f"tables {table.name}: references.{col}: {parent_name} has a composite "
                        "key; name the column (table.column)"
                    )
        return self

    @model_validator(mode="after")
    def _kinds_need_sql(self) -> Config:
        if self.source.kind == "sql":
            return self
        odd = [f"{t.name} ({t.kind})" for t in self.tables if t.kind != MERGED]
        if odd:
            raise ValueError(
                f"tables {', '.join(odd)}: kinds partitioned, scd2 and static need a SQL "
                f"source (source.kind is {self.source.kind})"
            )
        return self

    @property
    def file(self) -> str | None:
        """Return the file this configuration was loaded from."""
        return self._file

    @property
    def profile(self) -> str | None:
        """Return the profile of the file's `profiles:` merged in (None: the top level as is)."""
        return self._profile

    @property
    def env_refs(self) -> dict[str, str]:
        """Return key paths whose whole value was one `${VAR}`, mapped to the variable."""
        return dict(self._env_refs)

    def raw_value(self, *path: str) -> Any:
        """Return a value as written in the file, before `${VAR}` expansion."""
        node: Any = self._raw
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def sql_source(self) -> SqlSourceConfig:
        """Return the settings of a SQL source (ConfigError when the source is another kind)."""
        if not isinstance(self.source, SqlSourceConfig):
            raise ConfigError(f"source.kind is {self.source.kind}; this needs a SQL source")
        return self.source

    def enabled_tables(self) -> list[TableConfig]:
        """Return the tables that are enabled, in file order."""
        return [t for t in self.tables if t.enabled]

    def table(self, name: str) -> TableConfig:
        """Return the table called `name` or raise a ConfigError listing the known ones."""
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise ConfigError(f"unknown table {name!r} (configured: {known})")

    def select_tables(self, names: list[str] | None) -> list[TableConfig]:
        """Return the enabled tables, or exactly `names` (each must be configured)."""
        if not names:
            return self.enabled_tables()
        return [self.table(n) for n in names]


ALL_TABLES = "All"


def parse_tables(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Return table names from a list, a comma-separated string or "All" (None: all)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(n.strip() for n in items if n and n.strip()))
    if not names or any(n.lower() == ALL_TABLES.lower() for n in names):
        return None
    return names
