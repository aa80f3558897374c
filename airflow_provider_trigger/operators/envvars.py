"""Keep a Trigger.dev environment's variables in the state a DAG declares.

``TriggerEnvVarsSyncOperator`` reads the current variables once, plans the difference and writes it with
as few requests as the API allows:

* adds and changes go through the import endpoint (``override=true``). The import's ``isSecret`` flag applies
  to the whole request, so a sync that writes both plain and secret variables sends **two** imports (plain
  first); a sync that writes only one kind sends one;
* removals (``prune=True``) are one ``DELETE`` each, sent last;
* nothing to change: no write request at all.

Secret values come back from the API as ``<redacted>``, so they cannot be compared. By default a
variable that already exists as a secret is treated as unchanged (the log lists these names, so a stale
secret is visible); ``rewrite_secrets=True`` writes every one of them again and reports them as
``changed`` (use it to push rotated values; the server keeps a value that is identical). New secrets, and
plain variables declared secret, are always written. Plain variables are compared by value, so 500
variables cost one read and one write when some changed, one read and no write when none did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from os import PathLike
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, mask_secret

from airflow_provider_trigger._compat import check_variables_source
from airflow_provider_trigger.client import NotFoundError, TriggerClient
from airflow_provider_trigger.operators._base import TriggerBaseOperator
from airflow_provider_trigger.operators._envvar_plan import (
    ENVIRONMENTS,
    NAME_PATTERN,
    RESERVED_NAMES,
    CurrentVar,
    EnvVarPlan,
    merge_sources,
    normalize_environment,
    plan_sync,
    read_airflow_variables,
    read_env_file,
    secret_matcher,
    validate_variables,
)

__all__ = [  # the plan's names stay importable from here
    "ENVIRONMENTS",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "CurrentVar",
    "EnvVarPlan",
    "EnvVarSyncError",
    "TriggerEnvVarsSyncOperator",
    "merge_sources",
    "normalize_environment",
    "plan_sync",
    "read_airflow_variables",
    "read_env_file",
    "secret_matcher",
    "validate_variables",
]

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_trigger.client._executor import Sync
    from airflow_provider_trigger.client.resources.envvars import EnvVars


class EnvVarSyncError(AirflowException):
    """A sync failed part-way; the message names what was applied and what was not (never values)."""


class TriggerEnvVarsSyncOperator(TriggerBaseOperator):
    """Make a Trigger.dev environment's variables match the declared ones.

    Sources, merged in this order (**a later source wins** for a name found in several):
    ``env_file`` (a ``.env`` file), then Airflow Variables whose key starts with
    ``airflow_variable_prefix`` (prefix stripped), then the ``variables`` dict.

    Returns ``{"added", "changed", "removed", "unchanged"}`` (sorted names only) as XCom.

    :param variables: name → value (templated).
    :param env_file: path of a ``.env`` file (templated), parsed by python-dotenv (no ``${VAR}`` expansion).
    :param airflow_variable_prefix: take Airflow Variables whose key starts with this prefix (templated).
    :param project_ref: ``proj_…``; defaults to the connection's ``project_ref``.
    :param environment: ``dev``, ``staging``, ``prod`` or ``preview``; defaults to the connection's.
    :param preview_branch: the branch of a ``preview`` environment; defaults to the connection's.
    :param secret_names: names or glob patterns (``"*_KEY"``) of variables to store as secrets.
    :param prune: delete variables of the environment that no source declares.
    :param dry_run: log the plan and write nothing.
    :param rewrite_secrets: write variables that already exist as secrets again (their values are
        redacted by the API, so they cannot be compared); by default they are left alone.
    :param trigger_conn_id: the Trigger.dev connection (a secret key of that project/env, or a PAT).
    """

    template_fields: Sequence[str] = (
        "variables",
        "env_file",
        "airflow_variable_prefix",
        "project_ref",
        "environment",
        "preview_branch",
        "secret_names",
        "trigger_conn_id",
    )
    template_fields_renderers = {"variables": "json"}
    ui_color = "#d6f5e3"

    def __init__(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        env_file: str | PathLike[str] | None = None,
        airflow_variable_prefix: str | None = None,
        project_ref: str | None = None,
        environment: str | None = None,
        preview_branch: str | None = None,
        secret_names: str | Sequence[str] | None = None,
        prune: bool = False,
        dry_run: bool = False,
        rewrite_secrets: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.variables = variables
        self.env_file = env_file
        if airflow_variable_prefix is not None:  # at parse time, not after the DAG has started
            check_variables_source()
        self.airflow_variable_prefix = airflow_variable_prefix
        self.project_ref = project_ref
        self.environment = environment
        self.preview_branch = preview_branch
        self.secret_names = secret_names
        self.prune = prune
        self.is_dry_run = dry_run  # not ``self.dry_run``: that is a BaseOperator method
        self.rewrite_secrets = rewrite_secrets

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Register secret values with the masker as soon as they are rendered (before anything logs)."""
        super().render_template_fields(context, jinja_env)
        is_secret = secret_matcher(self.secret_names)
        for name, value in (self.variables or {}).items():
            if isinstance(value, str) and is_secret(str(name)):
                mask_secret(value)

    def desired_variables(self) -> dict[str, str]:
        """Read and merge every source, then validate names and values (no request is made)."""
        if self.variables is None and self.env_file is None and self.airflow_variable_prefix is None:
            raise ValueError("Nothing to sync: give variables=, env_file= or airflow_variable_prefix=.")
        from_file = read_env_file(self.env_file) if self.env_file is not None else None
        from_airflow = (
            read_airflow_variables(self.airflow_variable_prefix)
            if self.airflow_variable_prefix is not None
            else None
        )
        return validate_variables(merge_sources(from_file, from_airflow, self.variables))

    def execute(self, context: Context) -> dict[str, list[str]]:
        desired = self.desired_variables()
        is_declared_secret = secret_matcher(self.secret_names)
        project_ref, environment = self._target()
        current = self._current(project_ref, environment)
        plan = plan_sync(
            desired,
            current,
            is_declared_secret=is_declared_secret,
            prune=self.prune,
            rewrite_secrets=self.rewrite_secrets,
        )
        for name, value in desired.items():  # every value pushed, and every secret even if not pushed
            if name in plan.plain_writes or name in plan.secret_writes or is_declared_secret(name):
                mask_secret(value)
        self._log_plan(plan, project_ref, environment)
        if self.is_dry_run or not plan.has_writes:
            return plan.summary()
        self._apply(plan, project_ref, environment)
        return plan.summary()

    def _current(self, project_ref: str, environment: str) -> list[CurrentVar]:
        """The environment's variables now (one request); an unknown environment fails clearly."""
        try:
            listed = self.envvars_api.list(project_ref, environment)
        except NotFoundError as err:
            raise ValueError(
                f"Trigger.dev has no {environment!r} environment in project {project_ref!r} "
                f"(or the branch does not exist): {err.message}"
            ) from err
        return [CurrentVar(name=v.name, value=v.value, is_secret=bool(v.is_secret)) for v in listed]

    def _target(self) -> tuple[str, str]:
        """Project and environment slug, checked against the connection before any request."""
        project_ref = self.project_ref or self.hook.project_ref
        if not project_ref:
            raise ValueError(
                "No Trigger.dev project: pass project_ref= or set project_ref in the connection."
            )
        environment = normalize_environment(self.environment or self.hook.environment)
        if str(self.hook.key_kind) == "secret" and environment != normalize_environment(
            self.hook.environment
        ):
            raise ValueError(
                f"Connection {self.trigger_conn_id!r} holds a secret key of the {self.hook.environment!r} "
                f"environment; it cannot write {environment!r}. Use that environment's key or a PAT."
            )
        if environment == "preview" and not self.branch:
            raise ValueError(
                "The preview environment needs a branch: pass preview_branch= or set it in the connection."
            )
        if self.prune and environment == "preview":
            raise ValueError(
                "prune=True is not supported for a preview branch: its variable list includes the parent "
                "environment's variables, which cannot be told apart."
            )
        return project_ref, environment

    def _log_plan(self, plan: EnvVarPlan, project_ref: str, environment: str) -> None:
        mode = "dry run, nothing written" if self.is_dry_run else "applying"
        self.log.info(
            "Env-var sync plan for %s/%s (%s): %d added, %d changed, %d removed, %d unchanged.",
            project_ref,
            environment,
            mode,
            len(plan.added),
            len(plan.changed),
            len(plan.removed),
            len(plan.unchanged),
        )
        for label, names in (("added", plan.added), ("changed", plan.changed), ("removed", plan.removed)):
            if names:
                self.log.info("  %s: %s", label, ", ".join(names))
        if plan.secret_writes:
            self.log.info("  written as secrets: %s", ", ".join(sorted(plan.secret_writes)))
        if plan.secrets_kept:
            self.log.info(
                "  existing secrets kept without comparing (the API redacts their values; "
                "rewrite_secrets=True pushes them): %s",
                ", ".join(plan.secrets_kept),
            )

    def _apply(self, plan: EnvVarPlan, project_ref: str, environment: str) -> None:
        """Imports first (plain, then secret), deletes last; a failure names what was and wasn't done."""
        api = self.envvars_api
        steps: list[tuple[str, list[str], Callable[[], object]]] = []
        for label, writes, is_secret in (
            ("import", plan.plain_writes, False),
            ("secret import", plan.secret_writes, True),
        ):
            if writes:
                upload = partial(
                    api.upload, project_ref, environment, dict(writes), override=True, is_secret=is_secret
                )
                steps.append((label, sorted(writes), upload))
        for name in plan.removed:
            steps.append(("delete", [name], partial(api.delete, project_ref, environment, name)))
        done: list[str] = []
        for index, (label, names, call) in enumerate(steps):
            try:
                call()
            except Exception as err:
                pending = names + [n for _, later, _ in steps[index + 1 :] for n in later]
                partly = " (the import may have been partly applied)" if label != "delete" else ""
                raise EnvVarSyncError(
                    f"Env-var sync of {project_ref}/{environment} failed at the {label} of "
                    f"{', '.join(names)} ({type(err).__name__}: {err}). "
                    f"Applied: {', '.join(done) or 'nothing'}. Not applied: {', '.join(pending)}{partly}."
                ) from err
            done.extend(names)
            self.log.info("%s done: %s", label.capitalize(), ", ".join(names))

    @cached_property
    def branch(self) -> str | None:
        """The preview branch: the operator's, else the connection's."""
        return self.preview_branch or self.hook.settings.preview_branch

    @cached_property
    def envvars_api(self) -> EnvVars[Sync]:
        """The client's env-var resource, on a client for :attr:`branch` when it differs from the hook's."""
        if self.branch == self.hook.settings.preview_branch:
            return self.hook.envvars
        return TriggerClient(**{**self.hook.settings.client_kwargs(), "preview_branch": self.branch}).envvars
