"""``client.runs`` (list, retrieve, cancel, replay, …) and ``client.runs.bulk``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, Unpack

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._keys import ENV_SLUGS
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, iso, query, segment
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.errors import TriggerClientError
from airflow_provider_trigger.client.models import (
    ApiObject,
    BulkAction,
    IdResponse,
    MetadataResponse,
    Run,
    RunResult,
)
from airflow_provider_trigger.client.models._base import parser
from airflow_provider_trigger.client.models.logs import RunEvents, RunLogLine, log_lines
from airflow_provider_trigger.client.realtime import FeedState, RealtimeBackoff, subscription
from airflow_provider_trigger.client.realtime._feeds import (
    DEFAULT_SKIP_COLUMNS,
    batch_feed,
    run_feed,
    tag_feed,
)
from airflow_provider_trigger.client.resources._filters import RunFilter, run_filter_body, run_filter_query

_run = parser(Run)
_PROJECT_ENV = {"staging": "stg"}


def _run_path(run_id: str, suffix: str = "", version: str = "v1") -> str:
    return f"/api/{version}/runs/{segment(run_id, 'run_id')}{suffix}"


class RunsBulk(Resource[M]):
    """Bulk actions over runs (``/api/v1/bulk-actions``)."""

    def _create(
        self,
        action: str,
        filter: RunFilter | None,
        run_ids: Sequence[str] | None,
        name: str | None,
        target_region: str | None,
        options: RequestOptions | None,
    ) -> ApiRequest[IdResponse]:
        if (filter is None) == (run_ids is None):
            raise TriggerClientError("pass exactly one of filter= or run_ids=")
        if run_ids is not None and not 1 <= len(run_ids) <= 500:
            raise TriggerClientError("run_ids must hold between 1 and 500 run ids")
        body = drop_unset(
            {
                "action": action,
                "filter": run_filter_body(filter) if filter is not None else None,
                "runIds": list(run_ids) if run_ids is not None else None,
                "name": name,
                "targetRegion": target_region,
            }
        )
        return ApiRequest("POST", "/api/v1/bulk-actions", parser(IdResponse), body=body, options=options)

    @endpoint
    def cancel(
        self,
        *,
        filter: RunFilter | None = None,
        run_ids: Sequence[str] | None = None,
        name: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[IdResponse]:
        """Cancel every run matching ``filter`` (same fields as ``runs.list``) or the given ``run_ids``."""
        return self._create("cancel", filter, run_ids, name, None, request_options)

    @endpoint
    def replay(
        self,
        *,
        filter: RunFilter | None = None,
        run_ids: Sequence[str] | None = None,
        name: str | None = None,
        target_region: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[IdResponse]:
        """Replay every run matching ``filter`` or the given ``run_ids``."""
        return self._create("replay", filter, run_ids, name, target_region, request_options)

    @paginated
    def list(
        self,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[BulkAction]:
        q = query(**{"page[size]": limit, "page[after]": after, "page[before]": before})
        return PageRequest(
            ApiRequest("GET", "/api/v1/bulk-actions", dict, query=q, options=request_options),
            parser(BulkAction),
        )

    @endpoint
    def retrieve(
        self, bulk_action_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[BulkAction]:
        path = f"/api/v1/bulk-actions/{segment(bulk_action_id, 'bulk_action_id')}"
        return ApiRequest("GET", path, parser(BulkAction), options=request_options)

    @endpoint
    def abort(
        self, bulk_action_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[IdResponse]:
        path = f"/api/v1/bulk-actions/{segment(bulk_action_id, 'bulk_action_id')}/abort"
        return ApiRequest("POST", path, parser(IdResponse), options=request_options)


class Runs(Resource[M]):
    @cached_property
    def bulk(self) -> RunsBulk[M]:
        return RunsBulk(self._executor)

    @paginated
    def list(
        self,
        *,
        project_ref: str | None = None,
        env: str | Sequence[str] | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        request_options: RequestOptions | None = None,
        **filters: Unpack[RunFilter],
    ) -> PageRequest[Run]:
        """List runs, newest first. With ``project_ref`` (PAT only) it lists a project's runs in ``env``.

        Filters: ``status``, ``task_identifier``, ``version``, ``tag``, ``from_``, ``to``, ``period``,
        ``is_test``, ``schedule``, ``bulk_action``, ``batch``, ``queue``, ``machine``, ``region``.
        Iterate the returned page to walk every matching run.
        """
        q = run_filter_query(filters)
        q.update(query(**{"page[size]": limit, "page[after]": after, "page[before]": before}))
        if project_ref is None:
            if env is not None:
                raise TriggerClientError("env= only applies with project_ref= (listing a project's runs)")
            request: ApiRequest[Any] = ApiRequest(
                "GET",
                "/api/v1/runs",
                dict,
                query=q,
                options=request_options,
                hint="to list runs with a personal access token pass project_ref= and env=",
            )
            return PageRequest(request, _run)
        envs = [env] if isinstance(env, str) else list(env or [])
        if not envs:
            raise TriggerClientError("listing a project's runs needs env= (dev, staging, prod or preview)")
        for name in envs:
            if name not in ENV_SLUGS:
                raise TriggerClientError(
                    f"unknown environment {name!r}: expected dev, staging, prod or preview"
                )
        q["filter[env]"] = ",".join(_PROJECT_ENV.get(name, name) for name in envs)
        path = f"/api/v1/projects/{segment(project_ref, 'project_ref')}/runs"
        return PageRequest(ApiRequest("GET", path, dict, query=q, options=request_options, auth="pat"), _run)

    @endpoint
    def retrieve(self, run_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[Run]:
        """One run, with payload and output. A 404 is retried (the server marks it retryable).

        An offloaded payload/output (``payloadPresignedUrl``/``outputPresignedUrl``) is fetched without
        credentials and parsed, so ``run.payload``/``run.output`` are the data whatever their size; a
        URL that cannot be fetched or read raises ``PacketError`` (see ``client.packets``).
        """
        return ApiRequest(
            "GET", _run_path(run_id, version="v3"), _run, options=request_options, resolve_packets=True
        )

    @endpoint
    def cancel(self, run_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[IdResponse]:
        """Cancel a run (a no-op on a finished run)."""
        return ApiRequest(
            "POST", _run_path(run_id, "/cancel", "v2"), parser(IdResponse), options=request_options
        )

    @endpoint
    def replay(self, run_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[IdResponse]:
        """Start a new run with the same task, payload and options; returns the new run's id.

        The API takes no body here: to change payload or options, trigger the task instead.
        """
        return ApiRequest("POST", _run_path(run_id, "/replay"), parser(IdResponse), options=request_options)

    @endpoint
    def reschedule(
        self, run_id: str, *, delay: str | datetime, request_options: RequestOptions | None = None
    ) -> ApiRequest[Run]:
        """Move a DELAYED run: ``delay`` is a duration (``"1h30m"``) or a datetime."""
        body = {"delay": iso(delay)}
        return ApiRequest(
            "POST",
            _run_path(run_id, "/reschedule"),
            _run,
            body=body,
            options=request_options,
            resolve_packets=True,
        )

    @endpoint
    def update_metadata(
        self,
        run_id: str,
        metadata: Mapping[str, Any],
        *,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[MetadataResponse]:
        """Replace the run's metadata (≤ 256 KB; a finished run gives 422)."""
        if not isinstance(metadata, Mapping):
            raise TriggerClientError(f"metadata must be a dict, got {type(metadata).__name__}")
        body = {"metadata": dict(metadata)}
        return ApiRequest(
            "PUT",
            _run_path(run_id, "/metadata"),
            parser(MetadataResponse),
            body=body,
            options=request_options,
        )

    @endpoint
    def retrieve_metadata(
        self, run_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[MetadataResponse]:
        """The run's stored metadata (the server returns it as a serialised string)."""
        return ApiRequest(
            "GET", _run_path(run_id, "/metadata"), parser(MetadataResponse), options=request_options
        )

    @endpoint
    def add_tags(
        self, run_id: str, tags: str | Sequence[str], *, request_options: RequestOptions | None = None
    ) -> ApiRequest[ApiObject]:
        """Add tags to a run (at most 10 per run)."""
        body = {"tags": [tags] if isinstance(tags, str) else list(tags)}
        return ApiRequest(
            "POST", _run_path(run_id, "/tags"), parser(ApiObject), body=body, options=request_options
        )

    @endpoint
    def result(
        self, run_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[RunResult | None]:
        """The execution result of a finished run; ``None`` when the run is missing or not finished."""
        return ApiRequest(
            "GET", _run_path(run_id, "/result"), parser(RunResult), none_on_404=True, options=request_options
        )

    @endpoint
    def events(self, run_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[RunEvents]:
        """Every span and log line of the run so far (the route has no cursor: each call returns all)."""
        return ApiRequest("GET", _run_path(run_id, "/events"), parser(RunEvents), options=request_options)

    @endpoint
    def logs(
        self, run_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[builtins.list[RunLogLine]]:
        """The run's log lines so far, oldest first: what the task logged (level, time, attempt,
        message) and its errors with their stack traces. One request (``/events``); each line's
        ``key`` is stable, so a poller prints only the keys it has not seen."""

        def parse(body: Any) -> builtins.list[RunLogLine]:
            return log_lines(run_id, RunEvents.model_validate(body).events)

        return ApiRequest("GET", _run_path(run_id, "/events"), parse, options=request_options)

    @endpoint
    def trace(self, run_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[ApiObject]:
        return ApiRequest("GET", _run_path(run_id, "/trace"), parser(ApiObject), options=request_options)

    @endpoint
    def retrieve_span(
        self, run_id: str, span_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[ApiObject]:
        path = _run_path(run_id, f"/spans/{segment(span_id, 'span_id')}")
        return ApiRequest("GET", path, parser(ApiObject), options=request_options)

    # -- realtime feeds (Electric shape long-poll; see client/realtime) ---------------------------

    @subscription
    def subscribe_to_run(
        self,
        run_id: str,
        *,
        skip_columns: Iterable[str] | None = DEFAULT_SKIP_COLUMNS,
        stop_on_completion: bool = True,
        read_timeout: float | None = None,
        backoff: RealtimeBackoff | None = None,
    ) -> FeedState:
        """Iterate the run's states as it changes (first: its current state); ends once it is finished.

        ``skip_columns`` (default payload and metadata) are left out of every row. Secret keys only.
        """
        return run_feed(
            run_id,
            skip_columns=skip_columns,
            stop_on_completion=stop_on_completion,
            read_timeout=read_timeout,
            backoff=backoff,
        )

    @subscription
    def subscribe_to_runs_with_tag(
        self,
        tags: str | Iterable[str],
        *,
        created_at: str | None = None,
        skip_columns: Iterable[str] | None = None,
        read_timeout: float | None = None,
        backoff: RealtimeBackoff | None = None,
        min_live_interval: float = 0.0,
    ) -> FeedState:
        """Iterate every change of the runs carrying *all* ``tags`` created within ``created_at``
        (a duration, server default ``24h``, at most 1 day). Never ends by itself.

        ``min_live_interval`` spaces live requests (changes in between arrive in one response).
        """
        return tag_feed(
            tags,
            created_at=created_at,
            skip_columns=skip_columns,
            read_timeout=read_timeout,
            backoff=backoff,
            min_live_interval=min_live_interval,
        )

    @subscription
    def subscribe_to_batch(
        self,
        batch_id: str,
        *,
        skip_columns: Iterable[str] | None = None,
        read_timeout: float | None = None,
        backoff: RealtimeBackoff | None = None,
        min_live_interval: float = 0.0,
    ) -> FeedState:
        """Iterate every change of the batch's runs (they appear as the batch is processed)."""
        return batch_feed(
            batch_id,
            skip_columns=skip_columns,
            read_timeout=read_timeout,
            backoff=backoff,
            min_live_interval=min_live_interval,
        )
