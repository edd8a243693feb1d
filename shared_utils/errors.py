"""Domain errors. Each carries a stable `code`; the API maps them to HTTP in one place."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


@dataclass
class DomainError(Exception):
    message: str
    details: list[FieldIssue] = field(default_factory=list)
    code: str = "DOMAIN_ERROR"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass
class NotFoundError(DomainError):
    """Missing, or owned by someone else: the two are indistinguishable on purpose."""

    code: str = "NOT_FOUND"


@dataclass
class ConflictError(DomainError):
    """A conditional write lost: stale `version`, or the item already exists."""

    code: str = "VERSION_CONFLICT"


@dataclass
class AlreadyExistsError(ConflictError):
    code: str = "ALREADY_EXISTS"


@dataclass
class LimitExceededError(ConflictError):
    """A per-container limit (10 strategies per basket, ...) would be exceeded."""

    code: str = "LIMIT_EXCEEDED"


@dataclass
class InvalidInputError(DomainError):
    """Input that passed schema validation but breaks a domain rule (HTTP 422)."""

    code: str = "VALIDATION_ERROR"


@dataclass
class BadRequestError(DomainError):
    """Input that cannot even be interpreted: tampered cursor, malformed JSON (HTTP 400)."""

    code: str = "BAD_REQUEST"


@dataclass
class ForbiddenError(DomainError):
    code: str = "FORBIDDEN"


@dataclass
class MarketDataUnavailableError(DomainError):
    code: str = "MARKET_DATA_UNAVAILABLE"


@dataclass
class NoFreshQuoteError(MarketDataUnavailableError):
    """The cache holds no quote fresh enough to price from (the source is down or slow)."""

    code: str = "NO_FRESH_QUOTE"


@dataclass
class ConfigurationError(DomainError):
    """Missing or invalid configuration (environment, data files, unsupported year or index)."""

    code: str = "CONFIGURATION_ERROR"


@dataclass
class CalendarUnavailableError(ConfigurationError):
    """The market calendar cannot be read or does not cover the day: nothing may run on a guess.
    The master timer fails its execution on it (an alarm), instead of skipping ticks quietly."""

    code: str = "CALENDAR_UNAVAILABLE"


@dataclass
class StrategyBusyError(ConflictError):
    """Another run of the same strategy holds its single-writer lease: this one did nothing and
    may be tried again (the minute's sweep, the next check, a redelivery)."""

    code: str = "STRATEGY_BUSY"


class RunsNotQueuedError(DomainError):
    """The run queue did not take some strategy runs (SQS refused them after retries): whatever
    decided them must not report them as handed over."""

    def __init__(self, failed: int, detail: str, message: str | None = None) -> None:
        super().__init__(
            message=message or f"{failed} strategy run(s) not queued: {detail}", code="RUNS_NOT_QUEUED"
        )
        self.failed = failed
