"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temp folder.

Uses the server binaries on PATH or Debian's ``/usr/lib/postgresql/*/bin`` (``apt-get
install postgresql``). It listens on 127.0.0.1 at a free port, its socket in the temp
folder, with fsync off (data is thrown away). PostgreSQL refuses to run as root, so as
root it runs as the ``postgres`` user (``runuser``). ``Cluster.start()`` raises
``Unavailable`` with the reason when it cannot.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "faq"


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One running server; ``url(db)`` for a database, ``new_database()`` for a fresh one."""

    def __init__(self, folder: Path, port: int, bin_dir: Path, run_as: list[str]) -> None:
        self.folder, self.port, self.bin_dir, self._run_as = folder, port, bin_dir, run_as

    @classmethod
    def start(cls) -> Cluster:
        """Initialise and start a server in a new temp folder.

        Raises:
            Unavailable: no binaries, no unprivileged user to run them as, or they failed.
        """
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise Unavailable(
                "PostgreSQL server binaries not found (pg_ctl on PATH or "
                "/usr/lib/postgresql/*/bin; Debian: apt-get install postgresql)"
            )
        run_as: list[str] = []
        folder = Path(tempfile.mkdtemp(prefix="faqkb-pg-"))
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            try:
                import pwd

                account = pwd.getpwnam("postgres")
            except KeyError:
                account = None
            if runuser is None or account is None:
                shutil.rmtree(folder, ignore_errors=True)
                raise Unavailable("running as root without a 'postgres' user and runuser")
            os.chown(folder, account.pw_uid, account.pw_gid)
            run_as = [runuser, "-u", "postgres", "--"]
        cluster = cls(folder, _free_port(), bin_dir, run_as)
        try:
            cluster._run(
                "initdb", "-D", str(folder / "data"), "-U", USER, "-A", "trust", "-E", "UTF8",
                "--no-sync", "--no-instructions",
            )  # fmt: skip
            cluster.resume()
        except Unavailable:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cluster

    def resume(self) -> None:
        """Start the server (again)."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
            "-o", options, "-w", "-t", "30", "start",
        )  # fmt: skip

    def pause(self) -> None:
        """Stop the server at once, keeping its data (``resume`` starts it again)."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._run_as, str(self.bin_dir / tool), *args]
        try:
            subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=60, cwd=self.folder
            )
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            log = self.folder / "server.log"
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            raise Unavailable(f"{tool} failed: {detail.strip()}") from None

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` (TCP on loopback)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        with contextlib.suppress(Unavailable):
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
