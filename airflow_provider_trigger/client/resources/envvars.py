"""``client.envvars``: environment variables of a project environment (secret key or PAT)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_trigger.client._executor import M, Resource, endpoint
from airflow_provider_trigger.client._keys import env_slug
from airflow_provider_trigger.client._request import ApiRequest, segment
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.errors import TriggerClientError
from airflow_provider_trigger.client.models import EnvVar, Success
from airflow_provider_trigger.client.models._base import list_parser, parser


def _base(project_ref: str, env: str) -> str:
    return f"/api/v1/projects/{segment(project_ref, 'project_ref')}/envvars/{segment(env_slug(env), 'env')}"


def _variables(variables: Mapping[str, Any] | None, what: str) -> dict[str, str] | None:
    if variables is None:
        return None
    if not isinstance(variables, Mapping):
        raise TriggerClientError(f"{what} must be a dict of name → value")
    for name, value in variables.items():
        if not isinstance(name, str) or not name:
            raise TriggerClientError(f"{what}: every variable name must be a non-empty string")
        if not isinstance(value, str):
            raise TriggerClientError(f"{what}: the value of {name} must be a string")
    return dict(variables)


class EnvVars(Resource[M]):
    @endpoint
    def list(
        self, project_ref: str, env: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[list[EnvVar]]:
        """Every variable of ``env`` (``dev``, ``staging``, ``prod``, ``preview``); secret values redacted."""
        return ApiRequest(
            "GET", _base(project_ref, env), list_parser(EnvVar), auth="any", options=request_options
        )

    @endpoint
    def create(
        self,
        project_ref: str,
        env: str,
        name: str,
        value: str,
        *,
        is_secret: bool = False,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Success]:
        """Create (or overwrite: the server upserts) one variable."""
        _variables({name: value}, "create")
        body = drop_unset({"name": name, "value": value, "isSecret": is_secret or None})
        return ApiRequest(
            "POST", _base(project_ref, env), parser(Success), body=body, auth="any", options=request_options
        )

    @endpoint
    def retrieve(
        self, project_ref: str, env: str, name: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[EnvVar]:
        path = f"{_base(project_ref, env)}/{segment(name, 'name')}"
        return ApiRequest("GET", path, parser(EnvVar), auth="any", options=request_options)

    @endpoint
    def update(
        self,
        project_ref: str,
        env: str,
        name: str,
        value: str,
        *,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Success]:
        """Change the value of an existing variable (404 if it does not exist)."""
        _variables({name: value}, "update")
        path = f"{_base(project_ref, env)}/{segment(name, 'name')}"
        return ApiRequest(
            "PUT", path, parser(Success), body={"value": value}, auth="any", options=request_options
        )

    @endpoint
    def delete(
        self, project_ref: str, env: str, name: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Success]:
        path = f"{_base(project_ref, env)}/{segment(name, 'name')}"
        return ApiRequest("DELETE", path, parser(Success), auth="any", options=request_options)

    @endpoint
    def upload(
        self,
        project_ref: str,
        env: str,
        variables: Mapping[str, str],
        *,
        override: bool = False,
        is_secret: bool | None = None,
        parent_variables: Mapping[str, str] | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Success]:
        """Import many variables at once; existing ones are kept unless ``override``."""
        body = drop_unset(
            {
                "variables": _variables(variables, "variables"),
                "parentVariables": _variables(parent_variables, "parent_variables"),
                "override": override,
                "isSecret": is_secret,
            }
        )
        path = f"{_base(project_ref, env)}/import"
        return ApiRequest("POST", path, parser(Success), body=body, auth="any", options=request_options)
