"""``@task.trigger_dev``: the decorated function returns the payload; the task triggers
``task_identifier``, waits for the run as :class:`TriggerTaskOperator` does and returns its output."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    Asset,
    DecoratedOperator,
    TaskDecorator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)

from airflow_provider_trigger.operators.tasks import TriggerTaskOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class _TriggerDevDecoratedOperator(DecoratedOperator, TriggerTaskOperator):
    """Calls the function for the payload, then runs :class:`TriggerTaskOperator` with it: the same
    trigger options, idempotency key, wait (worker or deferred), outlets, link and return value."""

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *TriggerTaskOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **TriggerTaskOperator.template_fields_renderers,
    }
    custom_operator_name: str = "@task.trigger_dev"
    overwrite_rtif_after_execution: bool = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if "payload" in kwargs:
            raise TypeError("@task.trigger_dev takes no payload argument: the decorated function returns it")
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)

    def execute(self, context: Context) -> Any:
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        payload = self.python_callable(*self.op_args, **kwargs)
        check_payload(payload, _arguments(self.python_callable, self.op_args, kwargs))
        self.payload = payload
        # DecoratedOperator.execute is skipped: its output handling differs between Airflow minors
        # (3.0 pushes XCom itself) and concerns Assets returned by the function, which is the payload.
        self.inlets.extend(a for a in (*self.op_args, *self.op_kwargs.values()) if isinstance(a, Asset))
        return TriggerTaskOperator.execute(self, context)


def _arguments(
    function: Callable[..., Any], args: Collection[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The function's arguments by name (positional ones included)."""
    try:
        return dict(inspect.signature(function).bind_partial(*args, **kwargs).arguments)
    except TypeError:
        return dict(kwargs)


def check_payload(payload: Any, arguments: Mapping[str, Any]) -> None:
    """Fail before any request when the payload is not JSON, naming where (and which of the function's
    arguments the offending value came from, when it is one)."""
    problem = _first_problem(payload, "payload")
    if problem is None:
        return
    path, value = problem
    source = next((f" (argument {name!r})" for name, v in arguments.items() if v is value), "")
    raise TypeError(
        f"The @task.trigger_dev function must return a JSON payload: {path}{source} is a "
        f"{type(value).__name__} ({_short(value)}), which JSON cannot carry"
    )


def _first_problem(value: Any, path: str) -> tuple[str, Any] | None:
    """The path and value of the first part of ``value`` that is not JSON, or ``None``."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := _first_problem(item, f"{path}[{i}]")) is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} key {key!r}", key
            if (found := _first_problem(item, f"{path}[{json.dumps(key)}]")) is not None:
                return found
        return None
    return path, value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def trigger_dev_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = False,
    **kwargs: Any,
) -> TaskDecorator:
    """``@task.trigger_dev(task_identifier=..., ...)``: wrap a function returning the payload of a
    Trigger.dev run into a :class:`TriggerTaskOperator` task. Takes every argument of the operator
    except ``payload``; returns the run's output (``multiple_outputs`` applies to the output, and is
    off unless asked for: the function's return annotation describes the payload).
    """
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=_TriggerDevDecoratedOperator,
        **kwargs,
    )
