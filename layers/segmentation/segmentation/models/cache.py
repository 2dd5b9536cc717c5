"""The current model, loaded from the table at most once per ``MODEL_CACHE_SECONDS`` per container.

Scoring must never break the real-time path: if the document cannot be read, the last good model is kept; if it
cannot be parsed, there is no model (the model attributes are missing, and rules treat them as such) and the
problem is logged, once per reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from segmentation.models.scoring import ScoringModel
from segmentation.observability import logger
from segmentation.store.models import StoredModel


class ModelSource(Protocol):
    def current(self) -> StoredModel | None: ...


class ModelCache:
    def __init__(
        self, source: ModelSource, ttl_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._ttl = ttl_seconds
        self._clock = clock
        self._loaded_at = float("-inf")
        self._model: ScoringModel | None = None
        self._stored: StoredModel | None = None

    def current(self) -> ScoringModel | None:
        """The scoring model, or None when no valid model has been published."""
        if self._clock() - self._loaded_at > self._ttl:
            self._reload()
        return self._model

    def stored(self) -> StoredModel | None:
        """The raw current document as last read (for the API), refreshed like :meth:`current`."""
        self.current()
        return self._stored

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def _reload(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # deferred: boto3 loads on the first AWS call

        self._loaded_at = self._clock()
        try:
            stored = self._source.current()
        except (ClientError, BotoCoreError):
            logger.exception("model document could not be read; keeping the previous model")
            return
        if stored is None:
            self._model, self._stored = None, None
            return
        if self._model is not None and self._stored is not None and stored.version == self._stored.version:
            return
        try:
            self._model = ScoringModel.from_json(stored.document)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            self._model = None
            logger.error(
                "model document is invalid; scoring is off", extra={"version": stored.version, "error": str(exc)}
            )
        self._stored = stored
