"""Errors a source client raises. Retryable ones are retried inside the client (bounded);
everything that escapes the client names the source, the URL and what went wrong."""

from __future__ import annotations


class SourceError(Exception):
    """Base class for everything a source client raises."""


class RetryableSourceError(SourceError):
    """A failure worth retrying: 429, 5xx, timeouts, dropped connections, broken bodies."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceHTTPError(SourceError):
    """A non-retryable HTTP answer (4xx other than 429): a bad request or bad credentials."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class SourceResponseError(SourceError):
    """The source answered, but not in the shape we expect (envelope error, wrong type)."""


class SourceDeadlineError(SourceError):
    """An extract ran out of its total time (HttpOptions.extract_deadline): not retried,
    since a retry of the task starts the extract, and its deadline, afresh."""


class IncompleteFetchError(SourceError):
    """Paging ended with fewer (or more) records than the source said it has."""


class NotPublishedError(SourceError):
    """The source does not publish this at all (e.g. a half year on the reporting API):
    nothing to fetch, which is not a failure of the source."""


class SourceNotConfiguredError(SourceError, KeyError):
    """No URL or credentials for a source: a configuration error, which retrying cannot
    fix (a KeyError too, for callers that look a source up)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
