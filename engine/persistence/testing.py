"""A throwaway PostgreSQL server for tests and benchmarks.

``ThrowawayPostgres`` runs ``initdb`` and ``pg_ctl`` in a temporary folder,
listening on a free TCP port on 127.0.0.1 (and a private Unix socket), and
removes everything on ``stop``. The server binaries are found on ``PATH``
or in Debian's ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to
run as root, so under root the server runs as the unprivileged ``postgres``
user (or ``nobody``) and the folder is handed to that user::

    with ThrowawayPostgres() as pg:
        store = open_store(pg.create_database("test_1"))
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

_SUPERUSER = "spenefett"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (``initdb``, ``pg_ctl``)."""


def find_postgres_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``; PostgresUnavailable if there is none."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent

    def version(path: str) -> tuple[int, ...]:
        numbers = re.findall(r"\d+", Path(path).parent.parent.name)
        return tuple(int(n) for n in numbers)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    candidates += glob.glob("/usr/pgsql-*/bin/initdb") + glob.glob("/usr/local/pgsql/bin/initdb")
    for initdb in candidates:
        folder = Path(initdb).parent
        if (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
                              "/usr/lib/postgresql/*/bin; install the 'postgresql' package")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _traversable(folder: Path) -> bool:
    """True if any user may pass through every folder on the way to ``folder``."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [folder, *folder.parents])


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None for ourselves, else an unprivileged account (we are root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists "
                              "to run the server as")


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary folder; ``url`` connects to its ``postgres`` DB.

    ``durable=False`` turns off fsync for speed (tests that do not crash the
    server); benchmarks keep the default, durable, settings.
    """

    def __init__(self, *, durable: bool = True, bin_dir: Path | None = None):
        self.bin_dir = bin_dir or find_postgres_bin()
        self.durable = durable
        self.port = 0
        self.folder: Path | None = None
        self._user = _server_user()

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> ThrowawayPostgres:
        base = None
        if self._user is not None and not _traversable(Path(tempfile.gettempdir())):
            base = "/tmp"  # TMPDIR is private to root; the server's user could not reach it
        self.folder = Path(tempfile.mkdtemp(prefix="spenefett-pg-", dir=base))
        data, sock = self.folder / "data", self.folder / "sock"
        sock.mkdir()
        if self._user is not None:
            for path in (self.folder, sock):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        try:
            self._run([str(self.bin_dir / "initdb"), "-D", str(data), "-U", _SUPERUSER, "--auth=trust",
                       "-E", "UTF8", "--no-locale", "--no-sync"])
            last_error = ""
            for _ in range(5):  # a free port can be taken between asking and binding
                self.port = _free_port()
                options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={sock} "
                           "-c max_connections=50 -c shared_buffers=32MB -c dynamic_shared_memory_type=mmap")
                if not self.durable:
                    options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                done = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l",
                                  str(self.folder / "server.log"), "-w", "-t", "60", "-o", options,
                                  "start"], check=False)
                if done.returncode == 0:
                    return self
                last_error = done.stdout + self._log_tail()
            raise RuntimeError(f"pg_ctl could not start the server: {last_error}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                      check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database names here are lower-case identifiers, got {name!r}")
        with psycopg.connect(self.url, autocommit=True) as conn:
            # the name was checked above: CREATE DATABASE takes no parameters
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        env = dict(os.environ, LC_ALL="C")
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.folder)
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=self.folder, timeout=120, **kwargs)
        if check and done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stdout}")
        return done

    def _log_tail(self) -> str:
        assert self.folder is not None
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text()[-2000:]
        return ""

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
