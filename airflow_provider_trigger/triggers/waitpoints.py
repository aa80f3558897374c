"""Waiting on a Trigger.dev waitpoint token: what a token's state means (sans-IO), the result a wait
ends in and its event codec, and the deferrable trigger (:class:`TriggerWaitpointTrigger`).

A token has no realtime feed: the wait reads it every ``poll_interval``. API trouble is handled by the
wait engine's :class:`~airflow_provider_trigger.triggers.engine.incidents.Incident` (transient errors
waited out until the deadline, permanent ones end the wait) and, in the triggerer, its shared
:class:`~airflow_provider_trigger.triggers.engine.incidents.IncidentGate`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_trigger.client.packets import parse_body
from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.hooks._async_clients import client_key
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident, incident_gates
from airflow_provider_trigger.triggers.engine.result import ERROR, SUCCESS, TIMEOUT

if TYPE_CHECKING:
    from airflow_provider_trigger.client import WaitpointToken

COMPLETED, TIMED_OUT, WAITING = "COMPLETED", "TIMED_OUT", "WAITING"
EVENT_STATUSES = frozenset({SUCCESS, TIMEOUT, ERROR})


def check_token_id(token_id: Any) -> str:
    """A ``waitpoint_…`` id, or a ``ValueError`` naming what was given."""
    if not isinstance(token_id, str) or not token_id.startswith("waitpoint_"):
        raise ValueError(
            f"token_id must be a Trigger.dev waitpoint token id ('waitpoint_…'), got {token_id!r}"
        )
    return token_id


def completion_data(token: WaitpointToken) -> Any:
    """The data a completed token holds (``None`` when completed without data), parsed by its type."""
    if token.output is None:
        return None
    return parse_body(
        token.output.encode(), token.output_type, run_id=token.id, what="completion data", host="the API"
    )


@dataclass
class TokenResult:
    """The end of a wait on one token: ``success`` (with its data), ``timeout`` (the token's own timeout
    or the wait's), or ``error`` (a permanent API error). Carried in trigger events as plain JSON."""

    status: str
    token_id: str
    message: str
    token_status: str | None = None
    data: Any = None

    @classmethod
    def of(cls, token: WaitpointToken) -> TokenResult | None:
        """The verdict a token's snapshot gives; ``None`` while it is still waiting."""
        if token.status == COMPLETED:
            return cls(
                SUCCESS, token.id, f"Waitpoint {token.id} completed", COMPLETED, completion_data(token)
            )
        if token.status == TIMED_OUT:
            when = token.timeout_at.isoformat() if token.timeout_at else "its timeout"
            return cls(TIMEOUT, token.id, f"Waitpoint {token.id} timed out at {when}", TIMED_OUT)
        return None

    def to_event(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "token_id": self.token_id,
            "token_status": self.token_status,
            "message": self.message,
            "data": self.data,
        }

    @classmethod
    def from_event(cls, event: Any, what: str) -> TokenResult:
        if (
            not isinstance(event, dict)
            or event.get("status") not in EVENT_STATUSES
            or not event.get("token_id")
        ):
            raise AirflowException(f"Unexpected event from the Trigger.dev wait on {what}: {event!r}")
        return cls(
            str(event["status"]),
            str(event["token_id"]),
            str(event.get("message") or ""),
            event.get("token_status"),
            event.get("data"),
        )


class TriggerWaitpointTrigger(BaseTrigger):
    """Wait until a waitpoint token is completed or times out, then fire one event
    (:meth:`TokenResult.to_event`: ``status``, ``token_id``, ``token_status``, ``message``, ``data``).

    :param token_id: the ``waitpoint_…`` id.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    :param poll_interval: seconds between two reads of the token.
    :param end_time: absolute deadline (epoch seconds); past it the event is ``timeout``.
    """

    def __init__(
        self,
        token_id: str,
        *,
        trigger_conn_id: str = TriggerHook.default_conn_name,
        poll_interval: float = 5.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.token_id = token_id
        self.trigger_conn_id = trigger_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_trigger.triggers.waitpoints.TriggerWaitpointTrigger",
            {
                "token_id": self.token_id,
                "trigger_conn_id": self.trigger_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            result = await self._wait()
        except TriggerWaitError as exc:
            self.log.error("%s", exc)
            result = TokenResult(ERROR, self.token_id, str(exc))
        except Exception as exc:  # reported to the task, which fails with this message
            self.log.exception("Waiting for Trigger.dev waitpoint %s failed", self.token_id)
            result = TokenResult(ERROR, self.token_id, f"{type(exc).__name__}: {exc}")
        yield TriggerEvent(result.to_event())

    async def _wait(self) -> TokenResult:
        hook = TriggerHook(trigger_conn_id=self.trigger_conn_id)
        client = await hook.get_async_client()
        gate = incident_gates.get(client_key(await hook.aget_settings()))
        incident = Incident(f"waitpoint {self.token_id}", self.log)
        deadline = self.end_time
        while True:
            entry = await gate.enter(deadline)
            if entry is None:
                break
            delay = self.poll_interval
            try:
                token = await client.waitpoints.retrieve_token(self.token_id, request_options=READ_REQUEST)
            except Exception as exc:
                gate.failed(entry, exc, self.poll_interval)
                delay = incident.failed(exc, self.poll_interval)  # raises when permanent
            else:
                gate.succeeded(entry)
                incident.recovered()
                if (result := TokenResult.of(token)) is not None:
                    return result
            if deadline is not None:
                left = deadline - time.time()
                if left <= 0:
                    break
                delay = min(delay, left)
            await asyncio.sleep(delay)
        return TokenResult(TIMEOUT, self.token_id, f"Waitpoint {self.token_id} was not completed in time")
