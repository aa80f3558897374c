"""Declare Trigger.dev schedules from a DAG: upsert one, sync a declared set, delete one.

Schedules are upserted through ``schedules.create`` with a ``deduplication_key`` (the server updates the
schedule that already carries the key). Cron, timezone and window are checked locally with the server's
rules before any write; an unknown task is only known to the server, which answers 422.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_trigger.client import ApiError, NotFoundError, UnprocessableEntityError
from airflow_provider_trigger.operators._base import TriggerBaseOperator
from airflow_provider_trigger.operators._schedule_rules import (
    ScheduleSpec,
    local_timezones,
    schedule_view,
    validate_timezone,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class _ScheduleOperator(TriggerBaseOperator):
    """Timezone checking shared by the schedule operators."""

    def known_timezones(self) -> frozenset[str]:
        """Timezones the server accepts (its unauthenticated endpoint), else this machine's IANA list."""
        try:
            return frozenset(self.hook.schedules.timezones())
        except ApiError as err:
            self.log.warning(
                "Could not list Trigger.dev timezones (%s); checking against local IANA data.", err
            )
            return local_timezones()

    def check_timezones(self, specs: Sequence[ScheduleSpec]) -> None:
        if any(spec.timezone not in (None, "UTC") for spec in specs):
            known = self.known_timezones()
            for spec in specs:
                try:
                    validate_timezone(spec.timezone, known)
                except ValueError as err:
                    raise ValueError(f"Schedule {spec.deduplication_key!r}: {err}") from None

    def upsert(self, spec: ScheduleSpec) -> dict[str, Any]:
        """Create or update by deduplication key, then (de)activate if needed. Returns the schedule.

        An update replaces cron, timezone, external id and window, but the server never changes the
        task of an existing schedule: a key moved to another task is deleted and created again.
        """
        schedule = self._create(spec)
        if schedule["task"] != spec.task:
            self.log.info("Schedule %s moves to task %s: replacing it.", spec.deduplication_key, spec.task)
            self.hook.schedules.delete(schedule["id"])
            schedule = self._create(spec)
        if bool(schedule["active"]) != spec.active:
            toggle = self.hook.schedules.activate if spec.active else self.hook.schedules.deactivate
            schedule = schedule_view(toggle(schedule["id"]))
        return schedule

    def _create(self, spec: ScheduleSpec) -> dict[str, Any]:
        try:
            return schedule_view(
                self.hook.schedules.create(
                    task=spec.task,
                    cron=spec.cron,
                    deduplication_key=spec.deduplication_key,
                    timezone=spec.timezone,  # unset ones are not sent; the server resets them on update
                    external_id=spec.external_id,
                    window=spec.window,
                )
            )
        except UnprocessableEntityError as err:
            raise AirflowException(
                f"Trigger.dev rejected schedule {spec.deduplication_key!r} (task {spec.task!r}): "
                f"{err.message}. Check that the task exists in this environment's current deployment "
                "and is a schedules.task()."
            ) from err


class TriggerScheduleOperator(_ScheduleOperator):
    """Declare one imperative schedule and make it so (create or update by ``deduplication_key``).

    Returns the schedule: ``{"id", "task", "cron", "timezone", "active", "deduplication_key",
    "external_id", "next_run"}``.

    :param task: the scheduled task's identifier.
    :param cron: five-field cron expression (or ``@daily``-style alias), evaluated in ``timezone``.
    :param deduplication_key: what makes this an upsert: the same key updates the same schedule.
    :param timezone: IANA timezone (default UTC).
    :param external_id: your own id, passed to each run (e.g. a user id).
    :param window: spread runs over a window (``"30m"``, ``"2h"``, ``"30%"``).
    :param active: ``False`` deactivates the schedule (it is kept).
    """

    template_fields: Sequence[str] = (
        "task",
        "cron",
        "deduplication_key",
        "timezone",
        "external_id",
        "window",
        "trigger_conn_id",
    )

    def __init__(
        self,
        *,
        task: str,
        cron: str,
        deduplication_key: str,
        timezone: str | None = None,
        external_id: str | None = None,
        window: str | None = None,
        active: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.cron = cron
        self.deduplication_key = deduplication_key
        self.timezone = timezone
        self.external_id = external_id
        self.window = window
        self.active = active

    def execute(self, context: Context) -> dict[str, Any]:
        spec = ScheduleSpec.parse(
            {
                "task": self.task,
                "cron": self.cron,
                "deduplication_key": self.deduplication_key,
                "timezone": self.timezone,
                "external_id": self.external_id,
                "window": self.window,
                "active": self.active,
            }
        )
        self.check_timezones([spec])
        schedule = self.upsert(spec)
        self.log.info(
            "Schedule %s (%s) for task %s: %s %s, active=%s, next run %s",
            schedule["id"],
            spec.deduplication_key,
            spec.task,
            spec.cron,
            schedule["timezone"],
            schedule["active"],
            schedule["next_run"],
        )
        return schedule


class TriggerSchedulesSyncOperator(_ScheduleOperator):
    """Make the environment's managed schedules exactly the declared list.

    Managed schedules are the IMPERATIVE ones whose deduplication key starts with ``key_prefix``; every
    declared key must start with it. Declared schedules are created or updated (an unchanged one costs
    no write); with ``prune=True`` managed schedules that are no longer declared are deleted. DECLARATIVE
    schedules (``cron`` in task code) and keys outside the prefix are never touched.

    Deduplication keys are unique per *project*: upserting a key from another environment's key moves
    the schedule there. When several environments are synced, put the environment in ``key_prefix``.

    Returns ``{"created", "updated", "unchanged", "deleted"}`` as lists of deduplication keys.

    :param schedules: list of mappings with ``task``, ``cron``, ``deduplication_key`` and optionally
        ``timezone``, ``external_id``, ``window``, ``active`` (templated).
    :param key_prefix: the namespace this operator manages, e.g. ``"airflow/billing/"``.
    :param prune: delete managed schedules that are not declared.
    :param dry_run: log the plan and change nothing.
    """

    template_fields: Sequence[str] = ("schedules", "key_prefix", "trigger_conn_id")
    template_fields_renderers = {"schedules": "json"}

    def __init__(
        self,
        *,
        schedules: Sequence[Mapping[str, Any]],
        key_prefix: str,
        prune: bool = True,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schedules = schedules
        self.key_prefix = key_prefix
        self.prune = prune
        self.is_dry_run = dry_run  # not ``self.dry_run``: that is a BaseOperator method

    def declared(self) -> list[ScheduleSpec]:
        if not isinstance(self.key_prefix, str) or not self.key_prefix.strip():
            raise ValueError("key_prefix is required: the deduplication-key namespace this operator manages.")
        if isinstance(self.schedules, str | bytes) or not isinstance(self.schedules, Sequence):
            raise ValueError("schedules must be a list of mappings.")
        specs = [ScheduleSpec.parse(raw) for raw in self.schedules]
        keys = [spec.deduplication_key for spec in specs]
        if duplicates := sorted({key for key in keys if keys.count(key) > 1}):
            raise ValueError(f"Duplicate deduplication_key(s) in schedules: {duplicates}.")
        if outside := [key for key in keys if not key.startswith(self.key_prefix)]:
            raise ValueError(
                f"deduplication_key(s) {outside} do not start with key_prefix {self.key_prefix!r}; "
                "only keys under the prefix are managed (and pruned) by this operator."
            )
        return specs

    def execute(self, context: Context) -> dict[str, list[str]]:
        specs = self.declared()
        self.check_timezones(specs)
        managed = {
            key: schedule
            for schedule in map(schedule_view, self.hook.schedules.list(per_page=100))
            if schedule["type"] == "IMPERATIVE"
            and isinstance(key := schedule["deduplication_key"], str)
            and key.startswith(self.key_prefix)
        }
        result: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
        writes: list[ScheduleSpec] = []
        for spec in specs:
            current = managed.get(spec.deduplication_key)
            if current is None:
                result["created"].append(spec.deduplication_key)
            elif spec.matches(current):
                result["unchanged"].append(spec.deduplication_key)
                continue
            else:
                result["updated"].append(spec.deduplication_key)
            writes.append(spec)
        declared_keys = {spec.deduplication_key for spec in specs}
        if self.prune:
            result["deleted"] = sorted(key for key in managed if key not in declared_keys)
        self.log.info(
            "Schedule sync under %r%s: %s",
            self.key_prefix,
            " (dry run, nothing written)" if self.is_dry_run else "",
            ", ".join(f"{len(v)} {k}" for k, v in result.items()),
        )
        for label, keys in result.items():
            if keys and label != "unchanged":
                self.log.info("  %s: %s", label, ", ".join(keys))
        if self.is_dry_run:
            return result
        done: list[str] = []
        try:
            for spec in writes:
                self.upsert(spec)
                done.append(spec.deduplication_key)
            for key in result["deleted"]:
                self.hook.schedules.delete(managed[key]["id"])
                done.append(key)
        except Exception as err:
            pending = [s.deduplication_key for s in writes] + result["deleted"]
            raise AirflowException(
                f"Schedule sync failed part-way ({err}). Applied: {', '.join(done) or 'nothing'}. "
                f"Not applied: {', '.join(k for k in pending if k not in done)}."
            ) from err
        return result


class TriggerDeleteScheduleOperator(_ScheduleOperator):
    """Delete one imperative schedule, by id or by deduplication key. Returns the deleted id (or None).

    :param schedule_id: ``sched_…`` (templated).
    :param deduplication_key: find the schedule by its key instead (templated).
    :param missing_ok: succeed (returning None) when there is no such schedule.
    """

    template_fields: Sequence[str] = ("schedule_id", "deduplication_key", "trigger_conn_id")

    def __init__(
        self,
        *,
        schedule_id: str | None = None,
        deduplication_key: str | None = None,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schedule_id = schedule_id
        self.deduplication_key = deduplication_key
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> str | None:
        if bool(self.schedule_id) == bool(self.deduplication_key):
            raise ValueError("Give exactly one of schedule_id= or deduplication_key=.")
        schedule_id = self.schedule_id or self._find(self.deduplication_key or "")
        if schedule_id is None:
            self._missing(f"no schedule has deduplication key {self.deduplication_key!r}")
            return None
        try:
            self.hook.schedules.delete(schedule_id)
        except NotFoundError:
            self._missing(f"schedule {schedule_id} does not exist")
            return None
        self.log.info("Deleted Trigger.dev schedule %s", schedule_id)
        return schedule_id

    def _find(self, key: str) -> str | None:
        for schedule in map(schedule_view, self.hook.schedules.list(per_page=100)):
            if schedule["deduplication_key"] == key:
                if schedule["type"] == "DECLARATIVE":
                    raise ValueError(f"Schedule {schedule['id']} is DECLARATIVE (defined in task code).")
                return str(schedule["id"])
        return None

    def _missing(self, reason: str) -> None:
        if not self.missing_ok:
            raise AirflowException(f"Cannot delete: {reason} (set missing_ok=True to allow this).")
        self.log.info("Nothing to delete: %s.", reason)
