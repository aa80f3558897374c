"""Credential kinds and configuration read from the environment, as the TypeScript SDK does."""

from __future__ import annotations

import os
import re
from enum import StrEnum

from airflow_provider_trigger.client.errors import TriggerClientError

_SECRET_PREFIXES = ("tr_dev_", "tr_stg_", "tr_prod_", "tr_preview_")
_PAT_PREFIXES = ("tr_pat_", "tr_uat_")
_ADDITIONAL_KEY = re.compile(r"^tr_(dev|stg|prod|preview)_sk_[0-9a-zA-Z]{24}$")
ENV_SLUGS = {"dev": "dev", "staging": "staging", "stg": "stg", "prod": "prod", "preview": "preview"}


class KeyKind(StrEnum):
    """What an API key is: an environment secret key or a personal access token."""

    SECRET = "secret"
    PAT = "pat"


def key_kind(api_key: str) -> KeyKind:
    """Tell a secret key from a PAT by its prefix. Raises ``TriggerClientError`` for anything else."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise TriggerClientError("the Trigger.dev API key is empty")
    if api_key.startswith(_PAT_PREFIXES):
        return KeyKind.PAT
    if api_key.startswith(_SECRET_PREFIXES) or _ADDITIONAL_KEY.match(api_key):
        return KeyKind.SECRET
    raise TriggerClientError(
        "unrecognised Trigger.dev API key: expected a secret key (tr_dev_, tr_stg_, tr_prod_, "
        "tr_preview_) or a personal access token (tr_pat_)"
    )


def is_preview_key(api_key: str) -> bool:
    return api_key.startswith("tr_preview_")


def resolve_api_key(api_key: str | None) -> str:
    """The given key, else ``TRIGGER_SECRET_KEY``, else ``TRIGGER_ACCESS_TOKEN``."""
    key = api_key or os.environ.get("TRIGGER_SECRET_KEY") or os.environ.get("TRIGGER_ACCESS_TOKEN")
    if not key:
        raise TriggerClientError(
            "no Trigger.dev API key: pass api_key= or set TRIGGER_SECRET_KEY or TRIGGER_ACCESS_TOKEN"
        )
    return key


def resolve_base_url(base_url: str | None, default: str) -> str:
    """The given URL, else ``TRIGGER_API_URL``, else the default; without a trailing slash."""
    url = base_url or os.environ.get("TRIGGER_API_URL") or default
    if not url.startswith(("http://", "https://")):
        raise TriggerClientError(f"base_url must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def resolve_branch(preview_branch: str | None) -> str | None:
    """The given branch, else ``TRIGGER_PREVIEW_BRANCH``, ``VERCEL_GIT_COMMIT_REF``, ``TRIGGER_DEV_BRANCH``.

    The dev sentinel ``"default"`` means no branch; an explicit ``""`` means no branch and no
    environment lookup (the hook passes it so a worker's environment cannot add a branch).
    """
    if preview_branch is not None:
        return preview_branch if preview_branch and preview_branch != "default" else None
    for name in ("TRIGGER_PREVIEW_BRANCH", "VERCEL_GIT_COMMIT_REF"):
        if value := os.environ.get(name):
            return value
    dev = os.environ.get("TRIGGER_DEV_BRANCH")
    return dev if dev and dev != "default" else None


def env_slug(env: str) -> str:
    """Validate an env-var route's environment: ``dev``, ``staging``/``stg``, ``prod`` or ``preview``."""
    if env not in ENV_SLUGS:
        raise TriggerClientError(
            f"unknown environment {env!r}: expected one of dev, staging, stg, prod, preview"
        )
    return ENV_SLUGS[env]
