"""Table kinds (ARCHITECTURE §9): merged, partitioned, scd2 and static, and their settings."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bronze_sync.config.columns import as_list, column, column_list

TableKind = Literal["merged", "partitioned", "scd2", "static"]
# Final, so each name keeps its Literal type and is a valid TableKind.
MERGED: Final = "merged"
PARTITIONED: Final = "partitioned"
SCD2: Final = "scd2"
STATIC: Final = "static"
KIND_DESCRIPTIONS = {
    MERGED: "one current row per key; changed rows merged, vanished rows flagged",
    PARTITIONED: "daily slices of a partition column; new values loaded, ranges reloaded",
    SCD2: "every source version kept; exactly one latest version per business key",
    STATIC: "small reference table; read only when its content fingerprint changes",
}


class KindSettings(BaseModel):
    """The settings that shape how a table is synced (its kind and the kind's columns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TableKind = MERGED
    # partitioned: the column whose values are daily slices (integer YYYYMMDD, date, string).
    partition_column: str | None = None
    initial_partitions: int = Field(10, ge=1)  # first sync: only the newest N values
    # scd2: the entity key (part of primary_key), and the source's latest-version flag.
    business_key: list[str] = Field(default_factory=list)
    latest_column: str | None = None
    initial_load_days: int = Field(30, ge=1)  # first sync: versions this recent + every latest
    # static: replace mirrors each snapshot (vanished rows flagged); upsert never flags.
    static_mode: Literal["replace", "upsert"] = "replace"

    @field_validator("business_key", mode="before")
    @classmethod
    def _business_key_as_list(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("business_key")
    @classmethod
    def _business_key_columns(cls, value: list[str]) -> list[str]:
        return column_list(value)

    @field_validator("partition_column", "latest_column")
    @classmethod
    def _kind_column(cls, value: str | None) -> str | None:
        return None if value is None else column(value)


def kind_problems(settings: Any) -> list[str]:
    """Return what is wrong with a table's kind settings (empty when they fit together)."""
    kind, key = settings.kind, list(settings.primary_key)
    problems = []
    if kind == PARTITIONED:
        if not settings.partition_column:
            problems.append("partition_column: required for kind partitioned")
        elif settings.partition_column not in key:
            problems.append(
                f"partition_column: {settings.partition_column!r} must be part of primary_key "
                "(a row keeps its partition value)"
            )
    elif settings.partition_column:
        problems.append(f"partition_column: only for kind partitioned (this table is {kind})")
    if kind == SCD2:
        if not settings.business_key:
            problems.append("business_key: required for kind scd2")
        elif not set(settings.business_key) < set(key):
            problems.append(
                f"business_key: {settings.business_key} must be part of primary_key {key} "
                "(the key of a version adds e.g. its modified time)"
            )
        if not settings.modified_column:
            problems.append("modified_column: required for kind scd2 (the version's time)")
        elif settings.modified_column not in key:
            problems.append(
                f"modified_column: {settings.modified_column!r} must be part of primary_key "
                "(a version is its business key at a modified time)"
            )
        if not settings.latest_column:
            problems.append("latest_column: required for kind scd2 (the IsLatest flag)")
    else:
        if settings.business_key:
            problems.append(f"business_key: only for kind scd2 (this table is {kind})")
        if settings.latest_column:
            problems.append(f"latest_column: only for kind scd2 (this table is {kind})")
    return problems
