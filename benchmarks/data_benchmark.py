"""Benchmark ``multidb.data.update_in_batches`` against a single UPDATE and an ORM loop.

    python benchmarks/data_benchmark.py [--rows 1000000] [--orm-rows 200000] [--dialects sqlite,postgresql]
                                        [--repeat 3] [--json results.json]

The same change, ``qty = qty + 1, status = 'migrated'`` on every row of a table
``bench_items(id PK, name, qty, status)``, three ways:

1. ``helper``: ``data.update_in_batches(items, {...}, bind=connection)``, default batch size, in one
   transaction (as in a revision);
2. ``update``: one set-based ``UPDATE bench_items SET ...`` in one transaction (the speed limit);
3. ``orm``: ``for obj in session.query(Item).all(): obj.qty = ...`` then ``session.commit()``.

Every measurement runs in a fresh Python process on a freshly filled table (PostgreSQL: vacuumed,
analysed and checkpointed first), so the peak RSS it reports (``ru_maxrss`` after the run minus
``ru_maxrss`` once imports, engine and connection are ready) belongs to that method alone. The
helper runs at ``--rows`` and at a quarter of it, to show its peak memory does not grow with the
table. The ORM loop needs ~3 GiB and 1-2 minutes per million rows, so it runs on ``--orm-rows``
and its time for ``--rows`` is extrapolated linearly from its measured rows/s (optimistic: the
ORM's per-row cost rises with the size of the session); the output says which figures are
extrapolated. PostgreSQL gets a throwaway database on the server at ``--pg-url`` (127.0.0.1 by
default), dropped at the end. Numbers depend on the machine and on what else it is running: the
load average is printed with them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TABLE = "bench_items"
PG_ADMIN = os.environ.get("MULTIDB_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"
METHODS = {
    "helper": "update_in_batches",
    "update": "single UPDATE",
    "orm": "ORM loop",
}


# --- the worker: one method, one process ---------------------------------------------------------


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def worker(method: str, url: str) -> dict[str, Any]:
    """Run ``method`` once against the filled table at ``url``; timings and peak RSS growth."""
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Session
    from sqlalchemy.pool import NullPool

    from multidb import data

    os.environ["MULTIDB_QUIET"] = "1"
    items = sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20)),
    )

    class Base(DeclarativeBase):
        pass

    class Item(Base):  # the model an application would have
        __table__ = items

    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:  # warm up: driver loaded, dialect initialised
        conn.execute(sa.text("SELECT 1"))
    baseline = _maxrss_bytes()

    start = time.perf_counter()
    if method == "helper":
        with engine.begin() as conn:
            rows = data.update_in_batches(items, {"qty": items.c.qty + 1, "status": "migrated"}, bind=conn)
    elif method == "update":
        with engine.begin() as conn:
            rows = conn.execute(sa.update(items).values(qty=items.c.qty + 1, status="migrated")).rowcount
    elif method == "orm":
        rows = 0
        with Session(engine) as session:
            for obj in session.query(Item).all():
                obj.qty = obj.qty + 1
                obj.status = "migrated"
                rows += 1
            session.commit()
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - start
    peak = _maxrss_bytes()
    engine.dispose()
    return {"method": method, "rows": rows, "seconds": seconds, "rss_baseline": baseline, "rss_peak": peak}


# --- the parent: tables, processes, report --------------------------------------------------------


class Target:
    """One dialect: where the table lives, how to fill it and how to clean up."""

    def __init__(self, dialect: str, workdir: Path, pg_admin: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.sa, self.dialect, self.admin = sa, dialect, None
        if dialect == "sqlite":
            self.path = workdir / "bench.db"
            self.url = f"sqlite:///{self.path}"
        elif dialect == "postgresql":
            admin = make_url(pg_admin).set(drivername="postgresql+psycopg2")
            self.admin = sa.create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            self.name = f"multidb_bench_data_{uuid.uuid4().hex[:8]}"
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = admin.set(database=self.name).render_as_string(hide_password=False)
        elif dialect == "mariadb":
            self.admin = sa.create_engine(MARIADB_ADMIN, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            self.name = f"multidb_bench_data_{uuid.uuid4().hex[:8]}"
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE `{self.name}`")
            self.url = f"{MARIADB_ADMIN}{self.name}"
        else:
            raise SystemExit(f"unknown dialect {dialect}")

    def server_version(self) -> str:
        engine = self.sa.create_engine(self.url, poolclass=self.sa.pool.NullPool)
        with engine.connect() as conn:
            info = conn.dialect.server_version_info
        engine.dispose()
        return ".".join(str(p) for p in info or ())

    def fill(self, rows: int) -> float:
        """A fresh table of ``rows`` rows (ids 1..rows); returns the seconds it took."""
        sa = self.sa
        start = time.perf_counter()
        if self.dialect == "sqlite":
            for suffix in ("", "-journal", "-wal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        recursive = f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
        select = {
            "sqlite": recursive + "SELECT x, 'item-' || x, x % 100, NULL FROM c",
            "mariadb": recursive + "SELECT x, CONCAT('item-', x), x %% 100, NULL FROM c",  # %% for the driver
            "postgresql": f"SELECT g, 'item-' || g, g %% 100, NULL FROM generate_series(1, {rows}) AS g",
        }[self.dialect]
        options = " WITH (autovacuum_enabled = false)" if self.dialect == "postgresql" else ""
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
            conn.exec_driver_sql(
                f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, "
                f"qty INTEGER NOT NULL, status VARCHAR(20)){options}"
            )
            if self.dialect == "mariadb":
                conn.exec_driver_sql("SET SESSION max_recursive_iterations = 100000000")
            conn.exec_driver_sql(f"INSERT INTO {TABLE} (id, name, qty, status) {select}")
        if self.dialect == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
                conn.exec_driver_sql("CHECKPOINT")
        engine.dispose()
        return time.perf_counter() - start

    def migrated(self) -> int:
        engine = self.sa.create_engine(self.url, poolclass=self.sa.pool.NullPool)
        with engine.connect() as conn:
            count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {TABLE} WHERE status = 'migrated'").scalar()
        engine.dispose()
        return int(count or 0)

    def close(self) -> None:
        if self.admin is not None:
            quote = '"' if self.dialect == "postgresql" else "`"
            force = " WITH (FORCE)" if self.dialect == "postgresql" else ""
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{self.name}{quote}{force}")
            self.admin.dispose()


def measure(target: Target, method: str, rows: int) -> dict[str, Any]:
    """Fill a fresh table, run ``method`` in a fresh process, check every row changed."""
    target.fill(rows)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", method, "--url", target.url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{target.dialect} {method} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    changed = target.migrated()
    if changed != rows or result["rows"] != rows:
        raise SystemExit(
            f"{target.dialect} {method}: {changed} rows migrated, {result['rows']} reported, {rows} expected"
        )
    result["rows_per_s"] = rows / result["seconds"]
    result["rss_delta"] = max(0, result["rss_peak"] - result["rss_baseline"])
    print(
        f"  {target.dialect:<10} {METHODS[method]:<18} {rows:>10,} rows {result['seconds']:8.2f} s "
        f"{result['rows_per_s']:>11,.0f} rows/s  peak RSS +{mib(result['rss_delta']):.1f} MiB",
        flush=True,
    )
    return result


def mib(n: float) -> float:
    return n / 2**20


def run_dialect(dialect: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    target = Target(dialect, workdir, args.pg_url)
    try:
        version = target.server_version() if dialect != "sqlite" else __import__("sqlite3").sqlite_version
        print(f"{dialect} {version}: measuring (each line: a fresh table and a fresh process)", flush=True)
        helper, update = [], []
        for _ in range(args.repeat):  # interleaved, so a burst of load elsewhere hits both
            helper.append(measure(target, "helper", args.rows))
            update.append(measure(target, "update", args.rows))
        small = measure(target, "helper", args.rows // 4)
        orm = measure(target, "orm", args.orm_rows)
    finally:
        target.close()
    helper_rate = statistics.median(r["rows_per_s"] for r in helper)
    update_rate = statistics.median(r["rows_per_s"] for r in update)
    return {
        "dialect": dialect,
        "version": version,
        "rows": args.rows,
        "helper": helper,
        "update": update,
        "helper_small": small,
        "orm": orm,
        "helper_rows_per_s": helper_rate,
        "update_rows_per_s": update_rate,
        "orm_rows_per_s": orm["rows_per_s"],
        "helper_vs_update": helper_rate / update_rate,
        "helper_vs_orm": helper_rate / orm["rows_per_s"],
    }


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print(f"Summary ({args.rows:,} rows; median of {args.repeat} for the helper and the UPDATE)")
    header = f"{'dialect':<11}{'method':<34}{'rows/s':>12}{'time for ' + format(args.rows, ',') + ' rows':>30}"
    print(header + f"{'peak RSS growth':>26}")
    for r in results:
        n = r["rows"]
        helper_peak = max(x["rss_delta"] for x in r["helper"])
        update_peak = max(x["rss_delta"] for x in r["update"])
        orm = r["orm"]
        lines = [
            (
                "update_in_batches (default)" if r["dialect"] == "sqlite" else "update_in_batches (10,000/batch)",
                r["helper_rows_per_s"],
                n / r["helper_rows_per_s"],
                "",
                helper_peak,
                "",
            ),
            ("single UPDATE", r["update_rows_per_s"], n / r["update_rows_per_s"], "", update_peak, ""),
            (
                f"ORM loop (measured on {orm['rows']:,})",
                orm["rows_per_s"],
                n / orm["rows_per_s"],
                " (extrapolated)" if orm["rows"] != n else "",
                orm["rss_delta"],
                f" at {orm['rows']:,}" if orm["rows"] != n else "",
            ),
        ]
        for label, rate, seconds, note, peak, where in lines:
            print(
                f"{r['dialect']:<11}{label:<34}{rate:>12,.0f}{f'{seconds:,.1f} s{note}':>30}"
                f"{f'{mib(peak):,.1f} MiB{where}':>26}"
            )
        verdict = "ok" if r["helper_vs_update"] >= 0.8 else "BELOW TARGET"
        print(f"{'':<11}helper / UPDATE rows/s = {r['helper_vs_update']:.2f} (target >= 0.8: {verdict})")
        verdict = "ok" if r["helper_vs_orm"] >= 25 else "BELOW TARGET"
        print(f"{'':<11}helper / ORM rows/s    = {r['helper_vs_orm']:.1f} (target >= 25: {verdict})")
        small = r["helper_small"]
        print(
            f"{'':<11}helper peak RSS growth: {mib(small['rss_delta']):.1f} MiB at {small['rows']:,} rows, "
            f"{mib(helper_peak):.1f} MiB at {n:,} rows"
        )
        if orm["rows"] != n:
            print(
                f"{'':<11}ORM at {n:,} rows: about {n / orm['rows_per_s']:,.0f} s and "
                f"{mib(orm['rss_delta']) * n / orm['rows']:,.0f} MiB, extrapolated linearly from {orm['rows']:,} rows"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="table size for the helper and the UPDATE")
    parser.add_argument("--orm-rows", type=int, default=200_000, help="table size for the ORM loop (extrapolated)")
    parser.add_argument("--dialects", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql,mariadb")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the helper and the UPDATE (median reported)")
    parser.add_argument("--pg-url", default=PG_ADMIN, help="an admin URL of the PostgreSQL server (127.0.0.1)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--worker", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.url)))
        return

    import sqlalchemy

    started = datetime.datetime.now().astimezone()
    print(
        f"multidb.data benchmark, {started:%Y-%m-%d %H:%M %Z}: {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}"
    )
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results = []
    with tempfile.TemporaryDirectory(prefix="multidb-data-bench-") as workdir:
        for dialect in [d.strip() for d in args.dialects.split(",") if d.strip()]:
            results.append(run_dialect(dialect, args, Path(workdir)))
    report(results, args)
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        meta = {"date": started.isoformat(), "cpus": os.cpu_count(), "python": platform.python_version()}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
