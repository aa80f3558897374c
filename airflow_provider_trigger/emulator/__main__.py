"""``python -m airflow_provider_trigger.emulator --port 8030``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from .models import TaskBehaviour
from .server import EmulatorServer
from .state import EmulatorConfig

#: The tasks the example DAGs (tests/system/example_*.py) trigger or schedule: deployed by default.
#: ``publish-report`` waits on the waitpoint token its payload names (``tokenId``) and returns its data.
EXAMPLE_TASKS: tuple[str | TaskBehaviour, ...] = (
    "hello-world",
    "ingest",
    "resize",
    "daily-digest",
    "sync-crm",
    TaskBehaviour("publish-report", wait_for_token="tokenId"),
)


def build_server(argv: list[str] | None = None) -> EmulatorServer:
    """The (not yet started) server the command line asks for."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_trigger.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8030, help="0 picks a free port")
    parser.add_argument("--duration", type=float, default=2.0, help="default seconds a run executes")
    parser.add_argument("--queue-time", type=float, default=0.5, help="default seconds a run stays QUEUED")
    parser.add_argument(
        "--realtime-hold", type=float, default=20.0, help="seconds a quiet live request is held"
    )
    parser.add_argument(
        "--electric", action="store_true", help="realtime feeds behave like Electric, not native"
    )
    parser.add_argument(
        "--live-limit", type=int, default=None, help="live realtime requests per env (Free: 10)"
    )
    parser.add_argument(
        "--task",
        action="append",
        default=None,
        metavar="ID",
        help="deploy this task id (repeatable); default: the example DAGs' tasks. Others wait in "
        "PENDING_VERSION until their TTL, as on a real server",
    )
    parser.add_argument("--queue", action="append", default=[], metavar="NAME", help="deploy a custom queue")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="kinder than production: any task id runs, no rate limits, batches processed at once",
    )
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        lenient=args.lenient,
        default_duration=args.duration,
        default_queue_time=args.queue_time,
        realtime_hold_timeout=args.realtime_hold,
        realtime_electric_mode=args.electric,
        realtime_live_limit=args.live_limit,
    )
    tasks: tuple[str | TaskBehaviour, ...] = EXAMPLE_TASKS if args.task is None else tuple(args.task)
    return EmulatorServer(
        args.host, args.port, config=config, tasks=tasks, queues=args.queue, log_level="info"
    )


def main(argv: list[str] | None = None) -> None:
    server = build_server(argv).start()
    tasks, lenient = tuple(server.state.tasks), server.state.config.lenient
    print(f"Trigger.dev emulator listening on {server.base_url}", flush=True)
    print(f"  TRIGGER_API_URL={server.base_url}")
    print(f"  project ref:       {server.project_ref}")
    for env, key in server.keys.items():
        print(f"  secret key ({env}):{' ' * (8 - len(env))}{key}")
    print(f"  personal access token: {server.pat}")
    note = " (lenient: any task runs)" if lenient else ""
    print(f"  deployed tasks: {', '.join(tasks) or '(none)'}{note}")
    print(
        "  control API: GET/POST /_emulator/... (state, requests, faults, tasks, reset); Ctrl-C stops.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
