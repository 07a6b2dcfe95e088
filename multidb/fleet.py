"""Fleets: one database entry standing for many targets (tenants) that share its history.

A target is a schema on one server (``by: schema``), a database named in a URL template
(``by: database``, the URL holds ``{tenant}``), or a full URL (``by: url``). The tenants come from
a list, a SQL query, or a command that prints one name per line. Tenant names are checked before
they go into any SQL identifier or URL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
import subprocess
from typing import Any

from . import engines
from .config import Database, Project
from .errors import DatabaseError, UsageError
from .schema import did_you_mean

TENANT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def select_targets(project: Project, names: tuple[str, ...] | list[str] = (), all_: bool = False) -> list[Database]:
    """The databases and fleet targets named (``entry`` or ``entry/tenant``), or all of them, in order."""
    wanted: dict[str, set[str] | None] = {}
    for name in names:
        entry, _, tenant = name.partition("/")
        if tenant:
            current = wanted.setdefault(entry, set())
            if current is not None:
                current.add(tenant)
        else:
            wanted[entry] = None
    targets = []
    for db in project.select(list(wanted), all_):
        tenants = wanted.get(db.name)
        if db.fleet is None:
            if tenants:
                raise UsageError(f"'{db.name}' is not a fleet, so '{db.name}/{sorted(tenants)[0]}' names nothing")
            targets.append(db)
            continue
        expanded = expand(project, db)
        targets.extend(_filter(db, expanded, tenants))
    return targets


def _filter(db: Database, expanded: list[Database], tenants: set[str] | None) -> list[Database]:
    if not tenants:
        return expanded
    known = {t.tenant: t for t in expanded}
    for tenant in sorted(tenants):
        if tenant not in known:
            hint = did_you_mean(tenant, known, f"{db.name}/{{}}")
            raise UsageError(f"fleet '{db.name}' has no target '{tenant}'{hint}")
    return [t for t in expanded if t.tenant in tenants]


def expand(project: Project, db: Database) -> list[Database]:
    """One Database per tenant of ``db``'s fleet."""
    assert db.fleet is not None
    names = discover(project, db)
    return [target(db, name) for name in names]


def discover(project: Project, db: Database) -> tuple[str, ...]:
    """The fleet's tenant names (or URLs for ``by: url``), discovered once per process."""
    fleet = db.fleet
    assert fleet is not None
    # asked afresh each command: a long-lived process sees tenants added meanwhile
    found = fleet.names or (_run_query(db) if fleet.query else _run_command(project, db))
    if fleet.by != "url":
        bad = [n for n in found if not TENANT_NAME.match(n)]
        if bad:
            raise DatabaseError(
                db.name,
                f"fleet target name {bad[0]!r} is not a plain identifier (letters, digits, _; at most 63)",
            )
    if len(set(found)) != len(found):
        raise DatabaseError(db.name, "the fleet lists a target twice")
    if fleet.by == "url":
        names = [_url_tenant(u) for u in found]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UsageError(
                f"{db.name}: two URLs give the same target name '{twice[0]}' (a target is named after its "
                "database); give the databases distinct names"
            )
    return tuple(found)


def _run_query(db: Database) -> tuple[str, ...]:
    from sqlalchemy import text

    assert db.fleet is not None and db.fleet.query
    source = dataclasses.replace(db, url=db.fleet.query_url or db.url, fleet=None)
    with engines.connect(source) as conn:
        try:
            rows = conn.execute(text(db.fleet.query)).all()
        except Exception as e:
            raise DatabaseError(db.name, f"the fleet query failed: {type(e).__name__}") from e
    return tuple(str(row[0]) for row in rows if row[0] is not None)


def _run_command(project: Project, db: Database) -> tuple[str, ...]:
    assert db.fleet is not None and db.fleet.command
    try:
        done = subprocess.run(
            shlex.split(db.fleet.command), cwd=project.root, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DatabaseError(db.name, f"the fleet command could not run: {e}") from e
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DatabaseError(db.name, f"the fleet command exited {done.returncode}: {tail}")
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip())


def target(db: Database, name: str) -> Database:
    """The Database of one tenant of ``db``'s fleet."""
    assert db.fleet is not None
    by = db.fleet.by
    changes: dict[str, Any] = {"fleet": None}
    if by == "url":
        changes.update(url=name, tenant=_url_tenant(name))
    elif by == "database":
        changes.update(url=db.url.replace("{tenant}", name), tenant=name)
    elif db.dialect in ("mysql", "mariadb"):  # a MySQL schema is a database
        changes.update(url=_with_database(db.url, name), tenant=name)
    else:
        changes.update(tenant=name, schema=name, version_table_schema=name)
    changes["name"] = f"{db.name}/{changes['tenant']}"
    return dataclasses.replace(db, **changes)


def _url_tenant(url: str) -> str:
    from pathlib import PurePath

    from sqlalchemy.engine import make_url

    database = make_url(url).database or "default"
    return PurePath(database).stem if "/" in database or database.endswith(".db") else database


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def in_shard(name: str, index: int, count: int) -> bool:
    """Whether target ``name`` belongs to shard ``index`` of ``count`` (1-based); stable everywhere."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count == index - 1
