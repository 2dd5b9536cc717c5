"""Domain exceptions raised by the data-access layer."""


class StoreError(Exception):
    """Base class for data-access failures that callers handle."""


class NotFound(StoreError):
    pass


class ConcurrentUpdate(StoreError):
    """A conditional write lost a race; the caller re-reads and retries."""


class Conflict(StoreError):
    """A uniqueness rule would be broken, e.g. an email already used by another customer."""
