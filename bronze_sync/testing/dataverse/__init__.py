"""A local HTTPS Dataverse: identity, metadata, OData queries, change tracking and faults."""

from bronze_sync.testing.dataverse.demo import DEMO_ENTITIES, load_demo
from bronze_sync.testing.dataverse.model import Attribute, Entity
from bronze_sync.testing.dataverse.server import DataverseEmulator, RequestRecord

__all__ = [
    "DEMO_ENTITIES",
    "Attribute",
    "DataverseEmulator",
    "Entity",
    "RequestRecord",
    "load_demo",
]
