"""Errors the application layer raises besides the domain's own rules."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of the application's own errors; `code` is stable and machine-readable."""

    code = "application-error"


class StoreUnavailable(ApplicationError):
    """The event store could not be reached or did not answer in time."""

    code = "store-unavailable"
