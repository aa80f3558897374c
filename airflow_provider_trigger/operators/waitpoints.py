"""Waitpoint tokens from Airflow: create one (for a sensor to wait on, or a run to complete) and
complete one (so a Trigger.dev run waiting in ``wait.forToken`` continues)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_trigger.operators._base import DEFAULT_IDEMPOTENCY_KEY, TriggerBaseOperator, check_json
from airflow_provider_trigger.triggers.engine.lifecycle import clear_generation
from airflow_provider_trigger.triggers.waitpoints import COMPLETED, TIMED_OUT, check_token_id

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

TOKEN_ID_XCOM_KEY = "token_id"
TOKEN_URL_XCOM_KEY = "token_url"


def _timeout(value: str | int | float | timedelta | datetime | None) -> str | datetime | None:
    """The API's ``timeout``: a duration (``"1h"``, ``"30m"``; seconds or a timedelta become ``"<n>s"``)
    or an absolute date."""
    if value is None or isinstance(value, str | datetime):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {seconds:g}")
    return f"{max(1, round(seconds))}s"


class TriggerCreateWaitpointOperator(TriggerBaseOperator):
    """Create a waitpoint token; its id is the return value (XCom ``token_id`` too) and its callback URL
    goes to XCom ``token_url`` (a POST of JSON to it completes the token, no key needed: treat it as a
    secret).

    Retries are safe: the default ``idempotency_key`` (DAG, task, DAG run, map index; a clear adds
    ``/clear-<n>``) makes a retry get the token the first try created. ``None`` creates a new token
    on every try.

    :param timeout: when the token times out if nobody completed it: a duration (``"1h"``, seconds, a
        timedelta) or a datetime. ``None``: never. Templated.
    :param tags: up to 10 tags. Templated.
    :param idempotency_key: see above. Templated.
    :param idempotency_key_ttl: how long the key holds, e.g. ``"1h"`` (server default 30 days).
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    """

    template_fields: Sequence[str] = (
        "timeout",
        "tags",
        "idempotency_key",
        "idempotency_key_ttl",
        "trigger_conn_id",
    )
    ui_color = "#c8f7c5"

    def __init__(
        self,
        *,
        timeout: str | int | float | timedelta | datetime | None = None,
        tags: str | list[str] | None = None,
        idempotency_key: str | None = DEFAULT_IDEMPOTENCY_KEY,
        idempotency_key_ttl: str | None = None,
        **kwargs: Any,
    ) -> None:
        # ``timeout`` here is the token's; Airflow's own task timeout stays ``execution_timeout``.
        super().__init__(**kwargs)
        self.timeout = timeout  # type: ignore[assignment]
        self.tags = tags
        self.idempotency_key = idempotency_key
        self.idempotency_key_ttl = idempotency_key_ttl
        self._default_key = idempotency_key == DEFAULT_IDEMPOTENCY_KEY

    def _key(self, context: Context) -> str | None:
        key = self.idempotency_key
        if key is not None and not str(key).strip():
            raise ValueError("idempotency_key rendered to an empty string; pass None to disable it")
        if key is None or not self._default_key:
            return key
        generation = clear_generation(context)
        return key if generation == 1 else f"{key}/clear-{generation}"

    def execute(self, context: Context) -> str:
        tags = [self.tags] if isinstance(self.tags, str) else list(self.tags or [])
        if len(tags) > 10:
            raise ValueError(f"a waitpoint token takes at most 10 tags, got {len(tags)}")
        created = self.hook.waitpoints.create_token(
            idempotency_key=self._key(context),
            idempotency_key_ttl=self.idempotency_key_ttl,
            timeout=_timeout(self.timeout),  # type: ignore[arg-type]
            tags=tags or None,
        )
        if created.url is None:
            raise AirflowException(f"Trigger.dev created waitpoint {created.id} without a callback URL")
        how = "re-used (same idempotency key)" if created.is_cached else "created"
        self.log.info("Waitpoint token %s %s", created.id, how)
        ti = context["ti"]
        ti.xcom_push(key=TOKEN_ID_XCOM_KEY, value=created.id)
        ti.xcom_push(key=TOKEN_URL_XCOM_KEY, value=created.url)
        return created.id


class TriggerCompleteWaitpointOperator(TriggerBaseOperator):
    """Complete a waitpoint token with ``data``: a Trigger.dev run waiting on it (``wait.forToken``)
    continues with that data. Returns the token id.

    Idempotent: completing a token that is already completed succeeds (the server answers ``success``
    and keeps the first data), so a retry after a lost response is safe. A token that had already
    timed out fails the task (the data reached nobody) unless ``fail_if_timed_out=False``.

    :param token_id: the ``waitpoint_…`` id. Templated.
    :param data: any JSON value (checked before sending). Templated (rendered as JSON in the UI).
    :param fail_if_timed_out: fail when the token had timed out before this completion.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    """

    template_fields: Sequence[str] = ("token_id", "data", "trigger_conn_id")
    template_fields_renderers = {"data": "json"}
    ui_color = "#c8f7c5"

    def __init__(
        self, *, token_id: str, data: Any = None, fail_if_timed_out: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.token_id = token_id
        self.data = data
        self.fail_if_timed_out = fail_if_timed_out

    def execute(self, context: Context) -> str:
        token_id = check_token_id(self.token_id)
        check_json(self.data, "data")
        self.hook.waitpoints.complete_token(token_id, self.data)
        token = self.hook.waitpoints.retrieve_token(token_id)
        if token.status == TIMED_OUT:
            message = f"Waitpoint {token_id} had timed out before it was completed; the data reached nobody"
            if self.fail_if_timed_out:
                raise AirflowException(message)
            self.log.warning("%s", message)
        elif token.status != COMPLETED:
            raise AirflowException(f"Waitpoint {token_id} is {token.status} after completing it")
        else:
            self.log.info("Completed waitpoint token %s", token_id)
        return token_id
