"""The runs' own log lines in the Airflow task log: streamed while waiting, and when the wait ends.

Read from the run events route (``client.runs.logs``), which has no cursor: every read returns every
line so far, and a line is printed once by its stable ``key`` (a span id), whatever the number of
polls. Streaming costs one request per poll (one run per poll, in turn, for a batch). Each printed
line goes through Airflow's ``redact`` (values registered with ``mask_secret``: the connection's key,
secret env-var values the provider synced, the user's own) and a pattern for Trigger.dev keys, on top
of the masking Airflow applies to the task log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import redact

from airflow_provider_trigger.client import RequestOptions, RetryOptions
from airflow_provider_trigger.triggers.engine.result import FAILED, SUCCESS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_trigger.client import RunLogLine
    from airflow_provider_trigger.triggers.engine.result import WaitResult

LOG_REQUEST = RequestOptions(retry=RetryOptions(max_attempts=2, max_timeout=1.0), timeout=30.0)
"""Log reads: one quick retry (a 404 right after the trigger is marked retryable); then give up."""
KEY_PATTERN = re.compile(r"\btr_(?:dev|stg|prod|preview|pat|uat|oat)_[A-Za-z0-9_]+")
"""Trigger.dev secret keys and tokens, masked wherever they appear in a run's log line."""
MASK = "***"


@dataclass(frozen=True)
class LogSettings:
    """What an operator prints: ``stream`` while waiting; at the end the last ``on_success`` lines of
    a run that succeeded (0: none) and up to ``on_failure`` lines of one that did not (0: none)."""

    stream: bool = False
    on_success: int = 20
    on_failure: int = 500

    def __post_init__(self) -> None:
        for name in ("on_success", "on_failure"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"log_lines_{name} must be an integer >= 0, got {value!r}")

    @property
    def enabled(self) -> bool:
        return self.stream or self.on_success > 0 or self.on_failure > 0


def mask(text: str) -> str:
    """``text`` with every secret Airflow knows, and every Trigger.dev key, replaced by ``***``."""
    redacted = redact(text)
    return KEY_PATTERN.sub(MASK, redacted if isinstance(redacted, str) else text)


@dataclass
class RunLogPrinter:
    """Prints the log lines of the runs of one wait, each once, under a heading per run."""

    logs: Callable[..., list[RunLogLine]]
    """``client.runs.logs``."""
    log: Any
    settings: LogSettings = field(default_factory=LogSettings)
    url: Callable[[str], str] | None = None
    printed: dict[str, set[str]] = field(default_factory=dict)
    requests: int = 0
    fetched: int = 0
    _turn: int = 0
    _warned: bool = False

    # -- while waiting ----------------------------------------------------------------------------

    def poll(self, pending: Sequence[str]) -> None:
        """While waiting, with ``stream``: one request, for one of the ``pending`` runs in turn."""
        if not (self.settings.stream and pending):
            return
        run_id = pending[self._turn % len(pending)]
        self._turn += 1
        lines = self._read(run_id)
        if lines:
            self._print(run_id, [line for line in lines if line.key not in self.printed.get(run_id, ())])

    # -- when the wait ends -----------------------------------------------------------------------

    def finish(self, result: WaitResult) -> None:
        """The lines not printed yet: every run that failed (up to ``on_failure``), and for a single
        run that succeeded its last ``on_success`` (everything left when streaming)."""
        if not self.settings.enabled or result.status not in (SUCCESS, FAILED):
            return
        for run_id in result.run_ids:
            failed = run_id in result.failed
            if failed:
                limit = self.settings.on_failure
            elif len(result.run_ids) == 1 or run_id in self.printed:
                limit = self.settings.on_failure if self.settings.stream else self.settings.on_success
            else:
                continue  # a batch's successful runs stay out of the log unless they were streamed
            if limit == 0:
                continue
            lines = self._read(run_id)
            if lines is None:
                continue
            new = [line for line in lines if line.key not in self.printed.get(run_id, ())]
            self._print(run_id, new, limit=limit, final=True)

    # -- I/O and printing -------------------------------------------------------------------------

    def _read(self, run_id: str) -> list[RunLogLine] | None:
        self.requests += 1
        try:
            lines = self.logs(run_id, request_options=LOG_REQUEST)
        except Exception as exc:  # logs are a courtesy: the wait's verdict never depends on them
            if not self._warned:
                self.log.warning("Could not read the logs of Trigger.dev run %s: %s", run_id, mask(str(exc)))
                self._warned = True
            return None
        self.fetched += len(lines)
        return lines

    def _print(
        self, run_id: str, lines: list[RunLogLine], *, limit: int | None = None, final: bool = False
    ) -> None:
        seen = self.printed.get(run_id)
        if not lines and not (final and seen):
            return
        if seen is None:
            seen = self.printed[run_id] = set()
            self.log.info("---- Trigger.dev run %s logs ----", run_id)
        skipped = 0
        if limit is not None and len(lines) > limit:
            errors = [line for line in lines[:-limit] if line.stack_trace]  # errors always shown
            skipped = len(lines) - limit - len(errors)
            lines = errors + lines[-limit:]
            lines.sort(key=lambda line: line.time)
        if skipped:
            where = f" (all of them: {self.url(run_id)})" if self.url else ""
            self.log.info("... %d earlier lines of run %s not shown%s", skipped, run_id, where)
        for line in lines:
            seen.add(line.key)
            text = mask(line.format())
            if line.level == "ERROR":
                self.log.error("%s", text)
            elif line.level == "WARN":
                self.log.warning("%s", text)
            else:
                self.log.info("%s", text)
        if final:
            self.log.info("---- end of Trigger.dev run %s logs ----", run_id)
