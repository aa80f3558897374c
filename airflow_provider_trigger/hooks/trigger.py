"""``TriggerHook``: the Trigger.dev management API from an Airflow Connection."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_trigger.client import (
    ApiConnectionError,
    ApiError,
    AsyncTriggerClient,
    AuthenticationError,
    KeyKind,
    NotFoundError,
    PermissionDeniedError,
    RequestOptions,
    RetryOptions,
    TriggerClient,
    TriggerClientError,
)
from airflow_provider_trigger.get_provider_info import UI_FIELD_BEHAVIOUR
from airflow_provider_trigger.hooks._async_clients import shared_async_client
from airflow_provider_trigger.hooks._connection import (
    TriggerConnectionError,
    TriggerConnectionSettings,
    parse_connection,
    run_path,
)
from airflow_provider_trigger.hooks._form import connection_form_widgets
from airflow_provider_trigger.hooks._settings_cache import shared_settings

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_trigger.client._executor import Sync
    from airflow_provider_trigger.client.resources.batches import Batches
    from airflow_provider_trigger.client.resources.deployments import Deployments
    from airflow_provider_trigger.client.resources.envvars import EnvVars
    from airflow_provider_trigger.client.resources.idempotency_keys import IdempotencyKeys
    from airflow_provider_trigger.client.resources.queues import Queues
    from airflow_provider_trigger.client.resources.runs import Runs
    from airflow_provider_trigger.client.resources.schedules import Schedules
    from airflow_provider_trigger.client.resources.tasks import Tasks
    from airflow_provider_trigger.client.resources.waitpoints import Waitpoints


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


async def _amask_secret(secret: str) -> None:
    """``mask_secret`` without a blocking call to the supervisor from the event loop."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3: mask in a worker thread, where blocking is safe
        from asgiref.sync import sync_to_async

        await sync_to_async(mask_secret)(secret)
    else:
        await amask_secret(secret)


class TriggerHook(BaseHook):
    """Talk to the Trigger.dev management API with the key stored in an Airflow Connection.

    Connection fields: **password** = secret key (``tr_dev_…``, ``tr_stg_…``, ``tr_prod_…``,
    ``tr_preview_…``, ``tr_<env>_sk_…``) or personal access token (``tr_pat_…``); **host** = API URL
    (empty → ``https://api.trigger.dev``); **extra** = ``project_ref``, ``environment``,
    ``preview_branch``, ``timeout``, ``retry_max_attempts``, ``retry_factor``, ``retry_min_timeout``,
    ``retry_max_timeout``, ``retry_randomize``, ``dashboard_url``, ``poll_budget``. For example
    ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_xxx@'``.

    Nothing is read in ``__init__``: the connection, its settings and the client resolve on first use.
    ``hook.client`` is one ``TriggerClient`` per hook and ``hook.runs``, ``hook.tasks``, … are its
    resources, so ``TriggerHook().runs.retrieve(run_id)`` works in a ``PythonOperator``. In a trigger
    (async code) use ``client = await hook.get_async_client()``: a client shared by every hook with the
    same credentials on the running event loop. Do not close it; see ``close_async_clients()``.

    :param trigger_conn_id: The Airflow connection id (conn type ``trigger``).
    """

    conn_name_attr = "trigger_conn_id"
    default_conn_name = "trigger_default"
    conn_type = "trigger"
    hook_name = "Trigger.dev"

    def __init__(self, trigger_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_conn_id = trigger_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(trigger_conn_id={self.trigger_conn_id!r})"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's extra fields for Airflow 3.0/3.1, which do not read ``conn-fields``."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow versions that do not read ``ui-field-behaviour``."""
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # -- connection -------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> TriggerConnectionSettings:
        """The connection's checked settings (read once; the key is masked as soon as it is read)."""
        conn = self.get_connection(self.trigger_conn_id)
        if key := (conn.password or "").strip():
            mask_secret(key)
        settings = self._parse(conn, conn.extra_dejson)
        self._log_settings(settings)
        return settings

    async def aget_settings(self) -> TriggerConnectionSettings:
        """:attr:`settings`, read without blocking the event loop (fills the same cache).

        Hooks on one event loop share the lookup of a connection for a short while
        (``hooks/_settings_cache.py``): 1,000 triggers starting together cost one lookup, not 1,000.
        """
        if "settings" not in self.__dict__:
            key = (type(self), self.trigger_conn_id)
            settings = await shared_settings(key, self._alookup)  # the lookup masked the key
            self.__dict__["settings"] = settings
            self._log_settings(settings)
        resolved: TriggerConnectionSettings = self.__dict__["settings"]
        return resolved

    async def _alookup(self) -> TriggerConnectionSettings:
        conn = await get_async_connection(self.trigger_conn_id, hook=self)
        if key := (conn.password or "").strip():
            await _amask_secret(key)
        return self._parse(conn, await get_async_extra_dejson(conn))

    def _parse(self, conn: Connection, extra: dict[str, Any]) -> TriggerConnectionSettings:
        settings = parse_connection(
            self.trigger_conn_id,
            password=conn.password,
            host=conn.host,
            login=conn.login,
            schema=conn.schema,
            port=conn.port,
            extra=extra,
        )
        return settings

    def _log_settings(self, settings: TriggerConnectionSettings) -> None:
        self.log.info(
            "Using Trigger.dev connection %r: %s key, %s, environment %s, project %s",
            self.trigger_conn_id,
            settings.key_kind.value,
            settings.base_url,
            settings.environment,
            settings.project_ref or "(not set)",
        )

    @property
    def key_kind(self) -> KeyKind:
        """``KeyKind.SECRET`` or ``KeyKind.PAT``."""
        return self.settings.key_kind

    @property
    def environment(self) -> str:
        """The secret key's environment, or the connection's ``environment`` for a PAT (default dev)."""
        return self.settings.environment

    @property
    def project_ref(self) -> str:
        """The connection's ``project_ref``; raises :class:`TriggerConnectionError` when it is not set."""
        ref = self.settings.project_ref
        if not ref:
            raise TriggerConnectionError(
                f"Trigger.dev connection {self.trigger_conn_id!r}: this call needs a project: set "
                '"project_ref" (proj_…, from the project settings) in the connection extra'
            )
        return ref

    @property
    def dashboard_url(self) -> str:
        return self.settings.dashboard_url

    def run_url(self, run: str | _HasId) -> str:
        """The dashboard link of a run (``{dashboard}/runs/{run_id}``, which redirects to its page)."""
        run_id = run if isinstance(run, str) else run.id
        return self.settings.dashboard_url + run_path(run_id)

    # -- sync client ------------------------------------------------------------------------------

    @cached_property
    def client(self) -> TriggerClient:
        """The ``TriggerClient`` of this hook, built once."""
        return TriggerClient(**self.settings.client_kwargs())

    def get_conn(self) -> TriggerClient:
        return self.client

    @property
    def runs(self) -> Runs[Sync]:
        return self.client.runs

    @property
    def tasks(self) -> Tasks[Sync]:
        return self.client.tasks

    @property
    def envvars(self) -> EnvVars[Sync]:
        return self.client.envvars

    @property
    def schedules(self) -> Schedules[Sync]:
        return self.client.schedules

    @property
    def queues(self) -> Queues[Sync]:
        return self.client.queues

    @property
    def waitpoints(self) -> Waitpoints[Sync]:
        return self.client.waitpoints

    @property
    def deployments(self) -> Deployments[Sync]:
        return self.client.deployments

    @property
    def batches(self) -> Batches[Sync]:
        return self.client.batches

    @property
    def idempotency_keys(self) -> IdempotencyKeys[Sync]:
        return self.client.idempotency_keys

    # -- async client -----------------------------------------------------------------------------

    async def get_async_client(self) -> AsyncTriggerClient:
        """The ``AsyncTriggerClient`` shared on the running loop by every hook with these credentials."""
        return await shared_async_client(await self.aget_settings())

    # -- test connection --------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call suited to the key kind; ``(ok, message)``."""
        try:
            settings = self.settings
        except TriggerConnectionError as exc:
            return False, str(exc)
        if settings.key_kind is KeyKind.PAT and not settings.project_ref:
            return False, (
                "This is a personal access token (tr_pat_…): set project_ref (proj_…) in the connection "
                "extra, or use an environment secret key (tr_dev_…, tr_prod_…)"
            )
        once = RequestOptions(retry=RetryOptions(max_attempts=1))  # a wrong host should fail fast
        where = settings.base_url
        try:
            if settings.key_kind is KeyKind.PAT:
                self.runs.list(
                    project_ref=settings.project_ref, env=settings.environment, limit=1, request_options=once
                )
                scope = f"project {settings.project_ref}, {settings.environment}"
            else:
                self.runs.list(limit=1, request_options=once)
                scope = f"{settings.environment} environment"
        except AuthenticationError as exc:
            return False, f"401: the key was rejected by {where} ({exc.message}); check the password field"
        except PermissionDeniedError as exc:
            return False, f"403: the key may not list runs ({exc.message}); use a key without scope limits"
        except NotFoundError as exc:
            return False, f"404: {exc.message}; check project_ref and the API URL ({where})"
        except ApiConnectionError as exc:
            return False, f"Cannot reach {where}: {exc.message}; check the host field"
        except (ApiError, TriggerClientError) as exc:
            return False, f"{where} answered: {exc}"
        return True, f"Connected to {where} with a {settings.key_kind.value} key ({scope})"
