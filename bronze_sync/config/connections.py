"""The configuration's connections: the source system and the bronze storage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bronze_sync.config.storage_options import check_azure_options, is_azure


class StrictModel(BaseModel):
    """A model that rejects unknown keys and cannot be mutated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlSourceConfig(StrictModel):
    """A SQL database reached through a SQLAlchemy URL."""

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    fast_path: Literal["auto", "off"] = "auto"
    connect_timeout_seconds: int = Field(15, gt=0)
    parallel_streams: int = Field(4, ge=1, le=32)


class DataverseSourceConfig(StrictModel):
    """A Microsoft Dataverse environment reached through its Web API (see docs/dataverse.md)."""

    kind: Literal["dataverse"]
    environment_url: str = Field(min_length=1, pattern=r"^https://")
    tenant_id: str = ""
    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    certificate_path: str | None = None  # PEM file holding the private key (and certificate)
    certificate_thumbprint: str | None = None
    authority_url: str | None = None  # default https://login.microsoftonline.com/{tenant_id}
    ca_file: str | None = None  # extra CA bundle to trust (a local emulator)
    page_size: int = Field(5000, ge=1, le=5000)
    change_tracking: Literal["auto", "on", "off"] = "auto"
    max_concurrent_requests: int = Field(4, ge=1, le=52)
    # created_column ranges read at once by full reads without change tracking and key scans
    # (1: one stream; see docs/dataverse.md for when more helps).
    parallel_reads: int = Field(1, ge=1, le=52)
    retry_budget: int = Field(10, ge=0)
    retry_base_seconds: float = Field(1.0, ge=0.0)
    request_timeout_seconds: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> DataverseSourceConfig:
        if bool(self.client_secret) == bool(self.certificate_path):
            raise ValueError("give exactly one of client_secret or certificate_path")
        if self.certificate_path and not self.certificate_thumbprint:
            raise ValueError("certificate_path needs certificate_thumbprint")
        if not self.authority_url and not self.tenant_id:
            raise ValueError("give tenant_id (or authority_url)")
        return self


SourceConfig = Annotated[SqlSourceConfig | DataverseSourceConfig, Field(discriminator="kind")]


class BronzeConfig(StrictModel):
    """Where bronze Delta tables live."""

    path: str = Field(min_length=1)
    storage_options: dict[str, str] = Field(default_factory=dict)

    @field_validator("storage_options", mode="before")
    @classmethod
    def _options_as_text(cls, value: Any) -> Any:
        # deltalake takes text; YAML reads `use_emulator: true` as a boolean.
        if not isinstance(value, dict):
            return value
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            if isinstance(v, bool | int | float)
            else v
            for k, v in value.items()
        }

    @model_validator(mode="after")
    def _known_options(self) -> BronzeConfig:
        # Here, not when the resource is built: a refused option must stop every command
        # before it writes anything (metadata included).
        if is_azure(self.path):
            check_azure_options(self.path, self.storage_options)
        return self

    @property
    def is_local(self) -> bool:
        """Return True when bronze lives on a local file system."""
        return "://" not in self.path or self.path.startswith("file://")
