"""The import pipeline built from the environment and the layer's services (which are cached per container)."""

from __future__ import annotations

import os

from importer.merge import Merger
from importer.pipeline import Importer
from segmentation import clock, wiring


def importer() -> Importer:
    services = wiring.services()
    merger = Merger(services.store, services.engine, wiring.suppression_list(), clock.now)
    return Importer(
        table=services.settings.table_name,
        queue_url=os.environ.get("IMPORT_QUEUE_URL", ""),
        merger=merger,
        shop_tz=services.settings.tz,
        clock=clock.now,
    )
