"""How long writers wait while PostgreSQL builds an index: CREATE INDEX against CREATE INDEX CONCURRENTLY.

    python benchmarks/lock_benchmark.py [--rows 2000000] [--repeat 3] [--writes insert|update]
                                        [--no-multidb] [--json results.json]

A throwaway database (random name ``mdbbench_lock_<hex>``, dropped at the end, also after Ctrl-C or
SIGTERM) on the server at $MULTIDB_BENCH_POSTGRESQL_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) gets a table ``orders(id bigserial primary key,
customer_id int, created_at timestamptz, payload text)`` of ``--rows`` rows from generate_series.

Each run: a writer thread on its own connection (autocommit) inserts one row at a time (``--writes
update``: updates one random row by primary key) in a loop and times every statement. After a second
of writes without any build, another connection builds an index on ``customer_id``, timed; the writer
goes on for half a second after it, then stops and the index is dropped (untimed). Per run it reports
the build time, the longest single write (a stall), the writes done while the index was being built,
and the median and p99 latency of the writes that overlapped the build, next to the median before it.

Two ways, taking turns in every repetition: the raw SQL (``CREATE INDEX`` / ``CREATE INDEX
CONCURRENTLY``), and, unless ``--no-multidb``, ``multidb upgrade`` of a revision with
``op.create_index`` / the same with ``postgresql_concurrently=True`` inside ``autocommit_block()``
(the window is then the whole ``multidb`` process, start-up included, and the revision is downgraded
again, untimed). The table shows the median of ``--repeat`` runs and their range. This is a
measurement, not a test: numbers depend on the machine and on what else runs on it, so the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_ENV = "MULTIDB_BENCH_POSTGRESQL_URL"
INDEX = "ix_orders_customer_id"
WARM_UP = 1.0  # seconds of writes before the build starts: the baseline latency
COOL_DOWN = 0.5  # seconds of writes after it ends
VARIANTS = {
    "sql-plain": "CREATE INDEX",
    "sql-concurrent": "CREATE INDEX CONCURRENTLY",
    "multidb-plain": "multidb upgrade: op.create_index",
    "multidb-concurrent": "multidb upgrade: concurrently, autocommit_block",
}
STOP = threading.Event()  # set by Ctrl-C or SIGTERM
BIN = Path(sys.executable).parent
MULTIDB = [str(BIN / "multidb")] if (BIN / "multidb").exists() else [sys.executable, "-m", "multidb"]


def check() -> None:
    """Stop here after Ctrl-C or SIGTERM, even if what was running swallowed the interrupt.

    (psycopg2's wait_select answers Ctrl-C by cancelling the query; a query that ends before the cancel
    arrives returns normally.)
    """
    if STOP.is_set():
        raise KeyboardInterrupt


# --- the server -----------------------------------------------------------------------------------


class Server:
    """The throwaway database on the server at the admin URL; ``drop`` removes it (and nothing else)."""

    def __init__(self, admin_url: str):
        from sqlalchemy.engine import make_url

        self.admin = make_url(admin_url)
        self.name = f"mdbbench_lock_{secrets.token_hex(4)}"
        self.created = False

    def connect(self, database: str | None = None):
        import psycopg2

        conn = psycopg2.connect(
            host=self.admin.host or "127.0.0.1",
            port=self.admin.port or 5432,
            user=self.admin.username or "postgres",
            password=self.admin.password,
            dbname=database or self.admin.database or "postgres",
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    @property
    def url(self) -> str:
        return self.admin.set(drivername="postgresql+psycopg2", database=self.name).render_as_string(
            hide_password=False
        )

    def create(self) -> None:
        conn = self.connect()  # not `with conn`: psycopg2 2.9 opens a transaction even in autocommit there
        try:
            with conn.cursor() as cur:
                self.created = True  # before the statement: an interrupt in it must still drop a half-made one
                cur.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            conn.close()

    def drop(self) -> str | None:
        if not self.created:
            return None
        try:
            conn = self.connect()
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.close()
        except Exception as e:
            return f"could not drop {self.name}: {e}"
        self.created = False
        return None


def fill(server: Server, rows: int) -> tuple[float, dict[str, str]]:
    """The ``orders`` table of ``rows`` rows, vacuumed and analysed; its seconds and the server's settings."""
    start = time.perf_counter()
    conn = server.connect(server.name)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, "
            "created_at timestamptz NOT NULL, payload text)"
        )
        cur.execute(
            "INSERT INTO orders (customer_id, created_at, payload) "
            "SELECT (random() * 100000)::int, now() - g * interval '1 second', md5(g::text) "
            "FROM generate_series(1, %s) AS g",
            (rows,),
        )
        cur.execute("VACUUM ANALYZE orders")
        cur.execute("CHECKPOINT")
        settings = {}
        for name in ("server_version", "maintenance_work_mem", "max_parallel_maintenance_workers", "shared_buffers"):
            cur.execute(f"SHOW {name}")
            settings[name] = cur.fetchone()[0]
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('orders'))")
        settings["table_size"] = cur.fetchone()[0]
    conn.close()
    return time.perf_counter() - start, settings


# --- the writer -----------------------------------------------------------------------------------


class Writer(threading.Thread):
    """One short statement at a time on its own connection; (start, seconds) of each."""

    def __init__(self, server: Server, kind: str, rows: int):
        super().__init__(daemon=True)
        self.conn = server.connect(server.name)
        self.kind, self.rows = kind, rows
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(16)
        try:
            with self.conn.cursor() as cur:
                while not self.stop.is_set():
                    if self.kind == "insert":
                        sql = "INSERT INTO orders (customer_id, created_at, payload) VALUES (%s, now(), 'bench')"
                        params = (rng.randrange(100000),)
                    else:
                        sql = "UPDATE orders SET payload = 'bench' WHERE id = %s"
                        params = (rng.randrange(1, self.rows + 1),)
                    start = time.perf_counter()
                    cur.execute(sql, params)
                    self.samples.append((start, time.perf_counter() - start))
        except BaseException as e:  # the database dropped under it on an interrupt, or a real failure
            self.error = e
        finally:
            self.conn.close()

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)


# --- one run --------------------------------------------------------------------------------------


@dataclass
class Run:
    variant: str
    build_s: float  # the index build (the statement; for multidb the whole process)
    longest_write_s: float  # the longest single write that overlapped the build
    writes_during: int  # writes that completed while the index was being built
    p50_during_ms: float
    p99_during_ms: float
    p50_before_ms: float  # writes in the second before the build
    writes_per_s_before: float


def summarize(variant: str, samples: list[tuple[float, float]], start: float, end: float) -> Run:
    before = [s for t, s in samples if t + s <= start]
    overlapping = sorted(s for t, s in samples if t < end and t + s > start)
    done = sum(1 for t, s in samples if start <= t + s <= end)
    if not overlapping:  # a build so short no write touched it
        overlapping = [0.0]
    p99 = overlapping[min(len(overlapping) - 1, int(0.99 * len(overlapping)))]
    return Run(
        variant,
        end - start,
        max(overlapping),
        done,
        statistics.median(overlapping) * 1000,
        p99 * 1000,
        statistics.median(before) * 1000 if before else 0.0,
        len(before) / WARM_UP,
    )


def measure(server: Server, variant: str, args: argparse.Namespace, projects: Path) -> Run:
    writer = Writer(server, args.writes, args.rows)
    builder = server.connect(server.name)
    try:
        writer.start()
        time.sleep(WARM_UP)
        check()
        start = time.perf_counter()
        if variant.startswith("sql-"):
            concurrently = " CONCURRENTLY" if variant == "sql-concurrent" else ""
            with builder.cursor() as cur:
                cur.execute(f"CREATE INDEX{concurrently} {INDEX} ON orders (customer_id)")
        else:
            multidb(projects / variant / "multidb.yaml", "upgrade", "main")
        end = time.perf_counter()
        check()
        time.sleep(COOL_DOWN)
        writer.finish()
        if writer.error is not None:
            raise RuntimeError(f"the writer failed: {writer.error}")
        if variant.startswith("sql-"):
            with builder.cursor() as cur:
                cur.execute(f"DROP INDEX {INDEX}")
        else:
            multidb(projects / variant / "multidb.yaml", "downgrade", "main", "--to", "lb0000000001")
    finally:
        writer.finish()
        builder.close()
    return summarize(variant, writer.samples, start, end)


def multidb(config: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    done = subprocess.run([*MULTIDB, "-c", str(config), *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"multidb {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")


BASE_REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "lb0000000001"
down_revision = None
branch_labels = ("main",)
depends_on = None


def upgrade():  # the table the benchmark fills (stamped, never run)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text()),
    )


def downgrade():
    op.drop_table("orders")
"""
INDEX_REVISION = """\
from alembic import op

revision = "lb0000000002"
down_revision = "lb0000000001"
branch_labels = None
depends_on = None


def upgrade():
    BODY


def downgrade():
    op.drop_index("INDEX", "orders")
"""


def write_projects(root: Path, url: str) -> None:
    """Two projects on the bench database, the same but for how their second revision builds the index."""
    bodies = {
        "multidb-plain": f'op.create_index("{INDEX}", "orders", ["customer_id"])',
        "multidb-concurrent": "with op.get_context().autocommit_block():\n"
        f'        op.create_index("{INDEX}", "orders", ["customer_id"], postgresql_concurrently=True)',
    }
    for variant, body in bodies.items():
        folder = root / variant
        (folder / "versions").mkdir(parents=True)
        (folder / "versions" / "lb0000000001_orders.py").write_text(BASE_REVISION)
        index = INDEX_REVISION.replace("BODY", body).replace("INDEX", INDEX)
        (folder / "versions" / "lb0000000002_index.py").write_text(index)
        (folder / "multidb.yaml").write_text(
            f"databases:\n  main:\n    url: {url}\n    bases:\n      - label: main\n        path: versions\n"
        )
    multidb(root / "multidb-plain" / "multidb.yaml", "stamp", "main", "--to", "lb0000000001")


# --- the report -----------------------------------------------------------------------------------


def spread(values: list[float], fmt: str) -> str:
    middle = format(statistics.median(values), fmt)
    if len(values) == 1:
        return middle
    return f"{middle} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def report(runs: list[Run]) -> list[str]:
    head = ("variant", "build s", "longest write s", "writes during", "p50 ms", "p99 ms", "p50 before ms")
    rows = [head]
    for variant, label in VARIANTS.items():
        mine = [r for r in runs if r.variant == variant]
        if mine:
            rows.append(
                (
                    label,
                    spread([r.build_s for r in mine], ".2f"),
                    spread([r.longest_write_s for r in mine], ".3f"),
                    spread([float(r.writes_during) for r in mine], ".0f"),
                    f"{statistics.median(r.p50_during_ms for r in mine):.2f}",
                    spread([r.p99_during_ms for r in mine], ".1f"),
                    f"{statistics.median(r.p50_before_ms for r in mine):.2f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return [
        "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])
        for row in rows
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in the table (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant (median and range shown)")
    parser.add_argument("--writes", choices=("insert", "update"), default="insert", help="what the writer does")
    parser.add_argument("--no-multidb", action="store_true", help="only the raw SQL, not multidb upgrade")
    parser.add_argument("--json", type=Path, help="also write every run and the machine's details to FILE")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import psycopg2.extensions
    import psycopg2.extras
    import sqlalchemy

    args = parse_args(argv)
    # a query waits in Python, not in libpq: Ctrl-C (or SIGTERM) cancels it instead of waiting for the build
    psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)

    def on_signal(_signum, _frame):
        STOP.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = Server(os.environ.get(PG_ENV, DEFAULT_PG))
    projects = Path(tempfile.mkdtemp(prefix="multidb-lock-bench-"))
    started = datetime.datetime.now(datetime.UTC)
    load_start = os.getloadavg()
    runs: list[Run] = []
    variants = [v for v in VARIANTS if not (args.no_multidb and v.startswith("multidb"))]
    try:
        server.create()
        seconds, settings = fill(server, args.rows)
        if not args.no_multidb:
            write_projects(projects, server.url)
        print(
            f"lock benchmark, {started:%Y-%m-%d %H:%M} UTC: {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
            f"PostgreSQL {settings['server_version']} (maintenance_work_mem {settings['maintenance_work_mem']}, "
            f"max_parallel_maintenance_workers {settings['max_parallel_maintenance_workers']})",
            flush=True,
        )
        print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*load_start), flush=True)
        print(f"table: {args.rows:,} rows, {settings['table_size']}, filled in {seconds:.1f} s; writer: {args.writes}")
        for i in range(args.repeat):
            order = variants if i % 2 == 0 else variants[::-1]  # taking turns: none always runs first
            for variant in order:
                check()
                run = measure(server, variant, args, projects)
                runs.append(run)
                print(
                    f"  run {i + 1} {VARIANTS[variant]:<48} build {run.build_s:6.2f} s, longest write "
                    f"{run.longest_write_s:6.3f} s, {run.writes_during:5} writes during, p99 "
                    f"{run.p99_during_ms:7.1f} ms",
                    flush=True,
                )
    except BaseException:
        if not STOP.is_set():  # a real failure: its traceback, after the cleanup
            raise
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        problem = server.drop()
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
        shutil.rmtree(projects, ignore_errors=True)
    load_end = os.getloadavg()
    print()
    print(
        f"median of {args.repeat} run(s) [min-max]; writes: one {args.writes} per statement, autocommit; "
        "'during': writes overlapping the build (multidb: the whole process)"
    )
    for line in report(runs):
        print(line)
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*load_end))
    if args.json:
        meta = {
            "date": started.isoformat(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "rows": args.rows,
            "writes": args.writes,
            "load_start": load_start,
            "load_end": load_end,
            **settings,
        }
        args.json.write_text(json.dumps({"meta": meta, "runs": [asdict(r) for r in runs]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
