"""One immutable version of the IVR: settings, catalog, prompts and calendar together.

A call takes the ``Flow`` that is current when it starts and keeps it to the end; a reload
builds a new ``Flow`` and swaps it in for the calls that start after (``FlowEngine.swap``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ivr.catalog import Catalog, load_catalog
from ivr.flow.calendar import BusinessCalendar
from ivr.flow.models import IvrSettings
from ivr.flow.nodes import Step
from ivr.intent.entities import ProductNames
from ivr.prompts import PromptStore

__all__ = ["Flow", "build_flow"]


@dataclass(frozen=True)
class Flow:
    settings: IvrSettings
    catalog: Catalog
    #: The catalog's products by name, for a product a caller names loosely.
    products: ProductNames
    prompts: PromptStore
    calendar: BusinessCalendar
    #: Absolute: Asterisk writes speech turns there, hotline reads them.
    recordings_dir: Path
    #: Short content hash: which version a call ran (in its report and the logs).
    version: str

    @property
    def entry(self) -> str:
        return self.settings.entry

    def node(self, name: str) -> Step:
        return self.settings.nodes[name]


def build_flow(settings: IvrSettings) -> Flow:
    """Reads the catalog the settings point at; ``CatalogError`` if it is refused."""
    catalog = load_catalog(settings.prompts.catalog)
    digest = hashlib.sha256(settings.model_dump_json().encode())
    digest.update(catalog.data.model_dump_json().encode())
    return Flow(
        settings=settings,
        catalog=catalog,
        products=ProductNames.of_catalog(catalog),
        prompts=PromptStore.from_settings(settings.prompts),
        calendar=BusinessCalendar.from_settings(settings.business_hours),
        recordings_dir=settings.speech.recordings_dir.resolve(),
        version=digest.hexdigest()[:12],
    )
