"""The env-var sync's plan: sources read and merged, names and values checked, the diff against the
environment (sans-IO apart from reading a ``.env`` file and Airflow Variables)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import Variable
from dotenv import dotenv_values

from airflow_provider_trigger._compat import check_variables_source

#: The server's rule for variable names (``EnvironmentVariableKey``: ``/^\w+$/``, ASCII in JavaScript).
NAME_PATTERN = re.compile(r"^\w+$", re.ASCII)
#: Names the server silently drops from every write (``environmentVariableRules.server.ts``).
RESERVED_NAMES = frozenset({"TRIGGER_SECRET_KEY", "TRIGGER_API_URL"})
#: Accepted ``environment`` values and the slug sent in the path (``stg`` is an alias of ``staging``).
ENVIRONMENTS = {"dev": "dev", "staging": "staging", "stg": "staging", "prod": "prod", "preview": "preview"}


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
