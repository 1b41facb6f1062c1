"""Errors the application layer raises besides the domain's own rules."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of the application's own errors; `code` is stable and machine-readable."""

    code = "application-error"


class StoreUnavailable(ApplicationError):
    """The event store could not be reached or did not answer in time."""

    code = "store-unavailable"


class ContractNotFound(ApplicationError):
    """No such contract — or one the caller's organisation is not a party to."""

    code = "contract-not-found"


class NotInForce(ApplicationError):
    """The contract exists, but its opening had not taken effect on the date asked for."""

    code = "not-in-force"


class NotPermitted(ApplicationError):
    """The caller's role does not allow this."""

    code = "not-permitted"


class VersionMismatch(ApplicationError):
    """The caller pinned a version of the contract that is no longer the latest."""

    code = "version-mismatch"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, the contract is at version {actual}")
        self.expected = expected
        self.actual = actual


class ReferenceTaken(ApplicationError):
    code = "reference-taken"


class IdempotencyKeyReused(ApplicationError):
    """The same idempotency key came with a different command."""

    code = "idempotency-key-reused"


class TooMuchContention(ApplicationError):
    """A command lost the race for the next version too many times in a row."""

    code = "too-much-contention"


class InvalidQuery(ApplicationError):
    code = "invalid-query"


class HistoryCorrupt(ApplicationError):
    """The stored events of a contract no longer replay: someone altered the store."""

    code = "history-corrupt"


class NotStored(StoreUnavailable):
    """The store failed before the change was durable: nothing was stored, a retry is safe."""

    code = "store-unavailable"


class CommitOutcomeUnknown(StoreUnavailable):
    """The connection broke while the change was being committed and the store could not be
    asked in time whether it was stored: a retry without an Idempotency-Key may store it twice."""

    code = "commit-outcome-unknown"


class UnsafeWebhookUrl(InvalidQuery):
    """A webhook URL this service will not call: not https, or a private, loopback, link-local
    or otherwise reserved address (SSRF)."""

    code = "unsafe-webhook-url"
    field = "url"


class SubscriptionNotFound(ApplicationError):
    """No such webhook subscription — or one of another organisation."""

    code = "subscription-not-found"
