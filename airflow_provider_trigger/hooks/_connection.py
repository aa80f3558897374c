"""Turn an Airflow Connection's fields into checked Trigger.dev client settings.

Field mapping (see the hook's docstring for the user-facing version):

* ``password`` → API key (secret key or PAT; kind told by prefix).
* ``host`` → API URL. Empty → ``https://api.trigger.dev``. With ``http://``/``https://`` it is used as
  is; without a scheme the scheme comes from ``schema`` (``http``/``https``, the HttpHook convention,
  handy in URI form: ``trigger://:KEY@myhost:8030/http``), else ``http`` for loopback hosts
  (``localhost``, ``127.*``, ``::1``) and ``https`` otherwise. ``port`` is appended when the host has none.
* ``extra`` → ``project_ref``, ``environment``, ``preview_branch``, ``timeout``, ``retry_*``,
  ``dashboard_url``, ``poll_budget``. Empty values count as unset; legacy ``extra__trigger__<name>``
  keys are accepted.

Every problem raises :class:`TriggerConnectionError` naming the connection id and the field to fix,
before any request. No message ever contains the key.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from airflow.providers.common.compat.sdk import AirflowException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_provider_trigger.client import KeyKind, RetryOptions, TriggerClientError, key_kind

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.trigger.dev"
CLOUD_API_HOST = "api.trigger.dev"
CLOUD_DASHBOARD_URL = "https://cloud.trigger.dev"
DEFAULT_PAT_ENVIRONMENT = "dev"
_LEGACY_PREFIX = "extra__trigger__"
_KEY_ENVIRONMENTS = {"tr_dev_": "dev", "tr_stg_": "staging", "tr_prod_": "prod", "tr_preview_": "preview"}
_RETRY_FIELDS = ("max_attempts", "factor", "min_timeout", "max_timeout", "randomize")


class TriggerConnectionError(AirflowException, ValueError):
    """The Trigger.dev connection is misconfigured; the message names the connection and the field."""


class _Extras(BaseModel):
    """The connection's extra, validated. Strings from the URI form are coerced (``"30"`` → 30.0)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project_ref: str | None = Field(default=None, pattern=r"^proj_[A-Za-z0-9_-]+$")
    environment: Literal["dev", "staging", "stg", "prod", "preview"] | None = None
    preview_branch: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    retry_max_attempts: int | None = Field(default=None, ge=1)
    retry_factor: float | None = Field(default=None, gt=0)
    retry_min_timeout: float | None = Field(default=None, ge=0)
    retry_max_timeout: float | None = Field(default=None, ge=0)
    retry_randomize: bool | None = None
    dashboard_url: str | None = None
    poll_budget: float | None = Field(default=None, gt=0)


_EXTRA_NAMES = frozenset(_Extras.model_fields)
_HINTS = {"project_ref": "expected proj_… (the project ref shown in the project settings)"}


@dataclass(frozen=True)
class TriggerConnectionSettings:
    """Everything the hook needs from one connection, checked. The key never shows in ``repr``."""

    conn_id: str
    api_key: str = field(repr=False)
    key_kind: KeyKind
    base_url: str
    dashboard_url: str
    project_ref: str | None
    environment: str
    preview_branch: str | None
    timeout: float | None
    retry: RetryOptions | None
    poll_budget: float | None = None
    """Requests per second the triggerer's polling may spend for these credentials (``None``: the
    ``[trigger] poll_budget`` configuration, default 2.5)."""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``TriggerClient`` / ``AsyncTriggerClient``; unset ones are left out."""
        # "" = no branch: the connection decides, not TRIGGER_PREVIEW_BRANCH in the worker's environment.
        kwargs: dict[str, Any] = {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "preview_branch": self.preview_branch or "",
        }
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if self.retry is not None:
            kwargs["retry"] = self.retry
        return kwargs


def parse_connection(
    conn_id: str,
    *,
    password: str | None,
    host: str | None,
    login: str | None = None,
    schema: str | None = None,
    port: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> TriggerConnectionSettings:
    """Check the connection's fields and build the settings, or raise :class:`TriggerConnectionError`."""
    where = f"Trigger.dev connection {conn_id!r}"
    api_key, kind = _api_key(where, password, login)
    extras = _extras(where, extra or {})
    base_url = _base_url(where, host, schema, port)
    environment = _environment(where, api_key, kind, extras.environment)
    if api_key.startswith("tr_preview_") and not extras.preview_branch:
        raise TriggerConnectionError(
            f'{where}: a preview key (tr_preview_…) needs a branch: set "preview_branch" in the extra'
        )
    dashboard = _dashboard_url(where, extras.dashboard_url, base_url)
    return TriggerConnectionSettings(
        conn_id=conn_id,
        api_key=api_key,
        key_kind=kind,
        base_url=base_url,
        dashboard_url=dashboard,
        project_ref=extras.project_ref,
        environment=environment,
        preview_branch=extras.preview_branch or None,
        timeout=extras.timeout,
        retry=_retry(where, extras),
        poll_budget=extras.poll_budget,
    )


def _api_key(where: str, password: str | None, login: str | None) -> tuple[str, KeyKind]:
    api_key = (password or "").strip()
    if not api_key:
        hint = (
            " (the value is in login: in URI form put it after a colon, trigger://:KEY@)"
            if (login or "").strip()
            else ""
        )
        raise TriggerConnectionError(
            f"{where}: the password field is empty; set it to a Trigger.dev secret key (tr_dev_…) "
            f"or personal access token (tr_pat_…){hint}"
        )
    try:
        return api_key, key_kind(api_key)
    except TriggerClientError:
        raise TriggerConnectionError(
            f"{where}: the password field does not hold a Trigger.dev key; expected a secret key "
            "(tr_dev_…, tr_stg_…, tr_prod_…, tr_preview_…, tr_<env>_sk_…) or a personal access token "
            "(tr_pat_…)"
        ) from None


def _extras(where: str, raw: Mapping[str, Any]) -> _Extras:
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = name.removeprefix(_LEGACY_PREFIX)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key not in _EXTRA_NAMES:
            raise TriggerConnectionError(
                f"{where}: unknown extra field {name!r}; known fields: {', '.join(sorted(_EXTRA_NAMES))}"
            )
        values[key] = value
    try:
        return _Extras.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        name = str(error["loc"][0]) if error["loc"] else "extra"
        detail = _HINTS.get(name, error["msg"])
        raise TriggerConnectionError(f'{where}: extra field "{name}" is invalid: {detail}') from None


def _base_url(where: str, host: str | None, schema: str | None, port: int | None) -> str:
    host = (host or "").strip()
    schema = (schema or "").strip().lower()
    if schema not in ("", "http", "https"):
        raise TriggerConnectionError(
            f'{where}: schema {schema!r} is not used; leave it empty (or "http"/"https" for the API '
            "URL's scheme) and put the full API URL in host"
        )
    if not host:
        if port:
            raise TriggerConnectionError(f"{where}: port is set but host is empty; set host to the API URL")
        return DEFAULT_API_URL
    if "://" in host:
        scheme, _, rest = host.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise TriggerConnectionError(
                f"{where}: host must be an http:// or https:// URL (got scheme {scheme!r})"
            )
        if schema and schema != scheme:
            raise TriggerConnectionError(
                f"{where}: host says {scheme}:// but schema says {schema!r}; clear schema"
            )
    else:
        rest = host
        scheme = schema or ("http" if _is_loopback(urlsplit(f"//{_bracket(host)}").hostname) else "https")
    parts = urlsplit(f"{scheme}://{_bracket(rest)}")
    try:
        url_port = parts.port
    except ValueError:
        raise TriggerConnectionError(f"{where}: host has an invalid port: {host!r}") from None
    if not parts.hostname or parts.username is not None or parts.query or parts.fragment or " " in rest:
        raise TriggerConnectionError(
            f"{where}: host is not a valid API URL; expected e.g. https://api.trigger.dev or "
            "http://localhost:8030 (no user, query or fragment)"
        )
    netloc = parts.netloc
    if port:
        if url_port is not None and url_port != port:
            raise TriggerConnectionError(f"{where}: host has port {url_port} but port says {port}")
        if url_port is None:
            netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path}".rstrip("/")


def _bracket(host: str) -> str:
    """Wrap a bare IPv6 literal (``::1``, as the URI form leaves it) in brackets."""
    head = host.split("/", 1)[0]
    if head.count(":") > 1 and not head.startswith("["):
        return f"[{head}]{host[len(head) :]}"
    return host


def _is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _environment(where: str, api_key: str, kind: KeyKind, configured: str | None) -> str:
    configured = "staging" if configured == "stg" else configured
    if kind is KeyKind.PAT:
        return configured or DEFAULT_PAT_ENVIRONMENT
    key_env = next((env for prefix, env in _KEY_ENVIRONMENTS.items() if api_key.startswith(prefix)), None)
    if key_env is None:  # a secret key kind with a prefix we do not map: trust the connection
        return configured or DEFAULT_PAT_ENVIRONMENT
    if configured and configured != key_env:
        raise TriggerConnectionError(
            f'{where}: extra field "environment" is {configured!r} but the secret key belongs to '
            f"{key_env!r}; remove environment or use a {configured} key"
        )
    return key_env


def _dashboard_url(where: str, configured: str | None, base_url: str) -> str:
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TriggerConnectionError(
                f'{where}: extra field "dashboard_url" must be an http(s) URL, e.g. https://cloud.trigger.dev'
            )
        return configured.rstrip("/")
    parts = urlsplit(base_url)
    if parts.hostname == CLOUD_API_HOST:
        return CLOUD_DASHBOARD_URL
    return f"{parts.scheme}://{parts.netloc}"


def _retry(where: str, extras: _Extras) -> RetryOptions | None:
    given = {name: getattr(extras, f"retry_{name}") for name in _RETRY_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    if not given:
        return None
    try:
        return RetryOptions(**given)
    except ValueError as exc:
        raise TriggerConnectionError(f"{where}: the retry_* extra fields are invalid: {exc}") from None


def run_path(run_id: str) -> str:
    """The dashboard path that redirects a signed-in member to a run's page."""
    return f"/runs/{quote(run_id, safe='')}"
