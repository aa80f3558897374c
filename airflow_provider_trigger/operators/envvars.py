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

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, Variable, mask_secret
from dotenv import dotenv_values

from airflow_provider_trigger._compat import check_variables_source
from airflow_provider_trigger.client import NotFoundError, TriggerClient
from airflow_provider_trigger.operators._base import TriggerBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_trigger.client._executor import Sync
    from airflow_provider_trigger.client.resources.envvars import EnvVars

#: The server's rule for variable names (``EnvironmentVariableKey``: ``/^\w+$/``, ASCII in JavaScript).
NAME_PATTERN = re.compile(r"^\w+$", re.ASCII)
#: Names the server silently drops from every write (``environmentVariableRules.server.ts``).
RESERVED_NAMES = frozenset({"TRIGGER_SECRET_KEY", "TRIGGER_API_URL"})
#: Accepted ``environment`` values and the slug sent in the path (``stg`` is an alias of ``staging``).
ENVIRONMENTS = {"dev": "dev", "staging": "staging", "stg": "staging", "prod": "prod", "preview": "preview"}


class EnvVarSyncError(AirflowException):
    """A sync failed part-way; the message names what was applied and what was not (never values)."""


@dataclass(frozen=True)
class CurrentVar:
    """A variable as the list endpoint returns it (``value`` is ``<redacted>`` for secrets)."""

    name: str
    value: str = field(repr=False)
    is_secret: bool


@dataclass(frozen=True)
class EnvVarPlan:
    """What a sync will do. Names only in the repr; values live in the two write maps."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    secrets_kept: tuple[str, ...]
    """Existing secrets left alone without comparing (part of ``unchanged``)."""
    plain_writes: Mapping[str, str] = field(repr=False)
    secret_writes: Mapping[str, str] = field(repr=False)

    @property
    def has_writes(self) -> bool:
        return bool(self.plain_writes or self.secret_writes or self.removed)

    def summary(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "unchanged": list(self.unchanged),
        }


def secret_matcher(secret_names: str | Sequence[str] | None) -> Callable[[str], bool]:
    """Return a predicate: is ``name`` declared secret? Each entry is an exact name or a glob (``*_KEY``)."""
    if secret_names is None:
        return lambda _name: False
    patterns = [secret_names] if isinstance(secret_names, str) else list(secret_names)
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def normalize_environment(environment: str | None) -> str:
    """Map ``environment`` to the slug the API takes; unknown values fail naming the accepted ones."""
    if not environment:
        raise ValueError("No Trigger.dev environment: pass environment= or set it in the connection's extra.")
    slug = ENVIRONMENTS.get(environment.strip().lower())
    if slug is None:
        raise ValueError(
            f"Unknown Trigger.dev environment {environment!r}: use dev, staging, prod or preview (+ branch)."
        )
    return slug


def read_env_file(path: str | PathLike[str]) -> dict[str, str | None]:
    """Parse a ``.env`` file with python-dotenv, without ``${VAR}`` expansion (as the server's parser)."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"env_file {str(file)!r} does not exist or is not a file.")
    return dict(dotenv_values(file, interpolate=False))


def read_airflow_variables(prefix: str) -> dict[str, str | None]:
    """Airflow Variables whose key starts with ``prefix``, keyed by the rest of the key.

    Only Variables stored in the metadata database are listed (``Variable.keys``, Airflow 3.3+); secrets
    backends cannot be listed.
    """
    if not prefix:
        raise ValueError("airflow_variable_prefix must not be empty (it would select every Variable).")
    check_variables_source()
    return {key[len(prefix) :]: Variable.get(key) for key in Variable.keys(prefix=prefix)}


def merge_sources(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge sources in order; a later source wins for a name present in several."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source or {})
    return merged


def validate_variables(variables: Mapping[str, Any]) -> dict[str, str]:
    """Check names against the server's rule and refuse empty values; return string values.

    Raises one ``ValueError`` that lists every problem by name (never by value).
    """
    problems: list[str] = []
    clean: dict[str, str] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append(f"{name!r}: invalid name (letters, digits and underscores only)")
        elif name in RESERVED_NAMES:
            problems.append(f"{name!r}: reserved by Trigger.dev (the server ignores it)")
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            kind = "no value" if value is None else f"a {type(value).__name__} value"
            problems.append(f"{name!r}: {kind}; give a string")
        elif not str(value).strip():
            problems.append(f"{name!r}: empty value (the server ignores empty values)")
        else:
            clean[name] = str(value)
    if problems:
        raise ValueError("Invalid environment variables: " + "; ".join(problems))
    return clean


def plan_sync(
    desired: Mapping[str, str],
    current: Iterable[CurrentVar],
    *,
    is_declared_secret: Callable[[str], bool],
    prune: bool = False,
    rewrite_secrets: bool = False,
) -> EnvVarPlan:
    """Diff ``desired`` against ``current``.

    A variable is written as secret when it is declared secret or is already secret on the server
    (a secret is never silently turned into a plain variable). Existing secrets cannot be compared
    (their values are redacted): they are kept, or with ``rewrite_secrets`` rewritten and counted as changed.
    """
    existing = {var.name: var for var in current}
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    kept: list[str] = []
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for name in sorted(desired):
        value = desired[name]
        now = existing.get(name)
        wants_secret = is_declared_secret(name) or (now is not None and now.is_secret)
        target = secret if wants_secret else plain
        if now is None:
            added.append(name)
        elif now.is_secret and not rewrite_secrets:
            unchanged.append(name)
            kept.append(name)
            continue
        elif now.is_secret or wants_secret or now.value != value:
            changed.append(name)
        else:
            unchanged.append(name)
            continue
        target[name] = value
    removed = sorted(set(existing) - set(desired)) if prune else []
    return EnvVarPlan(
        added=tuple(added),
        changed=tuple(changed),
        unchanged=tuple(unchanged),
        removed=tuple(removed),
        secrets_kept=tuple(kept),
        plain_writes=plain,
        secret_writes=secret,
    )


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
