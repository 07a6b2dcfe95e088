"""Replay the old shared history and the split histories from empty and compare the schemas.

The old history runs with Alembic's own command line and the project's own ``env.py``, in a
subprocess, on a temporary copy of the ini whose URLs point at throwaway databases. The split
histories run through the written config, its ``${VAR}`` URLs pointed at other throwaway databases.
Per database and dialect, the two reflected schemas (and PostgreSQL's enum types) must be the same,
types and constraint names included (:mod:`multidb.testing.parity`).
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ..errors import MultiDBError
from .source import SourceProject, read_ini


@dataclass(frozen=True)
class Comparison:
    database: str
    dialect: str
    differences: tuple[str, ...]

    @property
    def same(self) -> bool:
        return not self.differences


class ReplayFailed(MultiDBError):
    """The old history could not be replayed from empty."""


def verify(source: SourceProject, config_path: Path, dialects: tuple[str, ...]) -> list[Comparison]:
    if source.flask:  # its env.py needs the Flask app: the CLI says so instead of a comparison
        return []
    from ..testing.dialects import Servers, ServerUnavailable, server_urls

    found = []
    with tempfile.TemporaryDirectory(prefix="multidb-verify-") as tmp:
        servers = Servers(server_urls(), Path(tmp))
        try:
            for dialect in dialects:
                with ExitStack() as stack:
                    try:
                        old = {db.name: stack.enter_context(servers.database(dialect)) for db in source.databases}
                        new = {db.name: stack.enter_context(servers.database(dialect)) for db in source.databases}
                    except ServerUnavailable as e:
                        raise MultiDBError(f"cannot verify on {dialect}: {e}") from None
                    replay_old(source, old, Path(tmp))
                    replay_new(source, config_path, new)
                    found += [
                        _compare(db.name, dialect, old[db.name], new[db.name], db.version_table or "alembic_version")
                        for db in source.databases
                    ]
        finally:
            servers.close()
    return found


def replay_old(source: SourceProject, urls: dict[str, str], tmp: Path) -> None:
    """``alembic upgrade heads`` on a copy of the ini whose URLs are ``urls`` (per engine section)."""
    # a project whose settings are all in pyproject.toml: Alembic (run from its folder) reads them there
    parser = read_ini(source.ini) if source.has_ini else configparser.ConfigParser(interpolation=None)
    main = source.databases[0].section if source.shape != "lockstep" else "alembic"
    if not parser.has_section(main):
        parser.add_section(main)
    parser.set(main, "script_location", str(source.databases[0].script_location))
    for section in parser.sections():  # no URL of the real databases goes into the copy
        parser.remove_option(section, "sqlalchemy.url")
    for db in source.databases:
        section = db.section if source.shape != "lockstep" else (db.name if parser.has_section(db.name) else main)
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, "sqlalchemy.url", urls[db.name])
    ini = tmp / "replay.ini"
    with ini.open("w", encoding="utf-8") as f:
        parser.write(f)
    sections = [None] if source.shape != "sections" else [db.section for db in source.databases]
    for section in sections:
        _alembic(source, ini, section, urls)


def _alembic(source: SourceProject, ini: Path, section: str | None, urls: dict[str, str]) -> None:
    args = [
        sys.executable,
        "-c",
        "import sys; from alembic.config import main; main(argv=sys.argv[1:])",
        "-c",
        str(ini),
    ]
    if section:
        args += ["-n", section]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source.root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([*args, "upgrade", "heads"], cwd=source.ini.parent, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        from ..redact import first_line

        secrets = [p for u in urls.values() if (p := _password(u))]
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = first_line(lines[-1] if lines else f"exit {done.returncode}", *secrets)
        raise ReplayFailed(f"the old history failed to replay from empty with alembic: {reason}")


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).password


def replay_new(source: SourceProject, config_path: Path, urls: dict[str, str]) -> None:
    from ..commands import upgrade
    from ..config import load_config

    environ = {**os.environ, **{db.url_variable: urls[db.name] for db in source.databases}}
    project = load_config(config_path, None, environ)
    for db in source.databases:  # a default profile must not point the replay at real databases
        if project.databases[db.name].url != urls[db.name]:
            raise MultiDBError(f"{config_path}: the replay needs {db.url_variable} to give '{db.name}' its URL")
    upgrade(project, (), all_=True)
    from .. import engines

    engines.close_shared()


def _compare(name: str, dialect: str, old_url: str, new_url: str, version_table: str) -> Comparison:
    import sqlalchemy as sa

    from ..environment import bookkeeping_names
    from ..testing import parity

    snaps, enums = [], []
    for url in (old_url, new_url):
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                snaps.append(parity.snapshot(conn, exclude=sorted(bookkeeping_names(version_table))))
                enums.append(_enums(conn) if dialect == "postgresql" else {})
        finally:
            engine.dispose()
    sides = parity.Sides("after the old history", "after the split history")
    lines = parity.compare(snaps[0], snaps[1], sides, exact=True)
    if enums[0] != enums[1]:
        lines.append(f"enum types differ: {enums[0]} after the old history, {enums[1]} after the split history")
    return Comparison(name, dialect, tuple(lines))


def _enums(conn: object) -> dict[str, tuple[str, ...]]:
    import sqlalchemy as sa

    return {e["name"]: tuple(e["labels"]) for e in sa.inspect(conn).get_enums()}  # type: ignore[attr-defined]
