"""Benchmark: multidb against the ways people run Alembic today, on SQLite and PostgreSQL.

One command, from a fresh clone (see docs/benchmarks.md):

    pip install -e . && python benchmarks/run.py

Options: --quick (1 run, small histories and fleet: a smoke test of about a minute), --dialects
sqlite,postgresql, --repeat N (runs per measurement, default 3; the median is reported), --fleet N,
--info-repeat N (runs of the anchors that judge no target: (a) on K=2, (c) on the fleet; default 1),
--wait-idle MINUTES (on a shared machine: wait for other processes to calm down before each group
of runs), --json FILE (raw samples), --keep (leave the generated projects in place), --k2-only
(only --help and the K=2 upgrades). PostgreSQL is the server at
$MULTIDB_BENCH_POSTGRESQL_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
benchmark creates throwaway databases with random names there and drops them at the end, on
Ctrl-C too. A dialect whose server does not answer is skipped.

Every measurement is the wall-clock time of whole processes (time.perf_counter around
subprocess.run), as a user would see it. The anchors:

  (a) one `alembic -n X upgrade head` process per database or fleet target (the usual shell loop);
  (b) Alembic's `multidb` template layout: one process, one history, every revision carrying
      upgrade_<db>() for each database;
  (c) one Python process calling alembic.command.upgrade for each database or target.

It prints one table per dialect (scenario | multidb | anchor | ratio | target | pass/fail, plus
the same ratio over the processes' CPU seconds, a steadier view on a busy machine) and a summary
of the targets met and missed. A missed target does not change the exit status: this is
a measurement, not a test.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_projects import K_NAMES, Urls, write_projects

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_ENV = "MULTIDB_BENCH_POSTGRESQL_URL"
BIN = Path(sys.executable).parent


def tool(name: str) -> list[str]:
    """The console script installed beside this interpreter (as a user runs it), else ``-m``."""
    script = BIN / name
    return [str(script)] if script.exists() else [sys.executable, "-m", name]


MULTIDB = tool("multidb")
ALEMBIC = tool("alembic")


class CommandFailed(Exception):
    def __init__(self, cmd: list[str], done: subprocess.CompletedProcess):
        tail = (done.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        short = " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else "")
        super().__init__(f"`{short}` exited {done.returncode}: " + " | ".join(tail))


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled revision files are part of a warm start
    return env


ENV = child_env()


def run(cmd: list[str], cwd: Path, stdout=subprocess.PIPE) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise CommandFailed(cmd, done)


def timed(commands: list[tuple[list[str], Path]] | list[tuple[list[str], Path, Path]]) -> tuple[float, float]:
    """Wall-clock seconds of running the commands one after another (a shell loop), and the CPU
    seconds (user + system) the processes and their workers used: a second view on a busy machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for item in commands:
        if len(item) == 3:  # stdout to a file
            cmd, cwd, out = item
            with open(out, "wb") as fh:
                run(cmd, cwd, stdout=fh)
        else:
            cmd, cwd = item
            run(cmd, cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# --- the servers ---------------------------------------------------------------------------------


class Postgres:
    """Throwaway databases with random names on the server; every one is dropped by ``drop_all``."""

    def __init__(self, admin_url: str):
        from sqlalchemy.engine import make_url

        self.url = make_url(admin_url)
        self.prefix = "mdbbench_" + secrets.token_hex(4)
        self.created: list[str] = []
        self.version = ""

    def _connect(self):
        import psycopg2

        conn = psycopg2.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or "postgres",
            password=self.url.password,
            dbname=self.url.database or "postgres",
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def available(self) -> str | None:
        try:
            with self._connect() as conn, conn.cursor() as cur:
                cur.execute("SHOW server_version")
                self.version = cur.fetchone()[0]
            conn.close()
        except Exception as e:
            return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        return None

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def db_url(self, database: str) -> str:
        return self.url.set(drivername="postgresql+psycopg2", database=database).render_as_string(hide_password=False)

    def recreate(self, *names: str) -> None:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                for name in names:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    if name not in self.created:
                        self.created.append(name)
                    cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def drop_all(self) -> list[str]:
        problems = []
        if not self.created:
            return problems
        try:
            conn = self._connect()
        except Exception as e:
            return [f"cannot connect to drop {', '.join(self.created)}: {e}"]
        try:
            with conn.cursor() as cur:
                for name in list(self.created):
                    try:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                        self.created.remove(name)
                    except Exception as e:
                        problems.append(f"could not drop {name}: {e}")
        finally:
            conn.close()
        return problems


# --- one dialect's setup -------------------------------------------------------------------------


@dataclass
class Setup:
    """Where one dialect's projects live, and how to empty its databases."""

    dialect: str
    root: Path
    tenants: list[str]
    reset_k2: Callable[[], None]
    reset_fleet: Callable[[], None]


def sqlite_setup(root: Path, k_revisions: int, fleet_revisions: int, tenants: list[str]) -> Setup:
    data = root / "data"
    urls = Urls(
        dialect="sqlite",
        k2={name: f"sqlite:///{data / 'k2' / name}.db" for name in K_NAMES},
        fleet=f"sqlite:///{data / 'fleet'}/{{tenant}}.db",
        fleet_by="database",
    )
    write_projects(root, urls, k_revisions, fleet_revisions, tenants)

    def empty(folder: Path) -> Callable[[], None]:
        def reset() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

        return reset

    return Setup("sqlite", root, tenants, empty(data / "k2"), empty(data / "fleet"))


def postgresql_setup(root: Path, pg: Postgres, k_revisions: int, fleet_revisions: int, tenants: list[str]) -> Setup:
    k2 = {name: pg.name(f"k2_{name}") for name in K_NAMES}
    fleet = pg.name("fleet")
    urls = Urls(
        dialect="postgresql",
        k2={name: pg.db_url(db) for name, db in k2.items()},
        fleet=pg.db_url(fleet),
        fleet_by="schema",
    )
    write_projects(root, urls, k_revisions, fleet_revisions, tenants)
    return Setup(
        "postgresql",
        root,
        tenants,
        lambda: pg.recreate(*k2.values()),
        lambda: pg.recreate(fleet),
    )


# --- the commands --------------------------------------------------------------------------------


class Commands:
    """The command lines of each tool for one dialect's projects."""

    def __init__(self, s: Setup):
        self.s = s
        r = s.root
        self.cfg = r / "multidb"
        self.anchor_ini = str(r / "anchor" / "alembic.ini")
        self.multi_ini = str(r / "multi" / "alembic.ini")
        self.driver = str(r / "anchor" / "drive.py")

    def mdb(self, config: str, *args: str) -> list[tuple[list[str], Path]]:
        return [([*MULTIDB, "-c", str(self.cfg / config), *args], self.s.root)]

    # K = 2
    def k2_multidb(self, per_run: bool = False, jobs: int = 1):
        more = ("--jobs", str(jobs)) if jobs > 1 else ()
        return self.mdb("k2_per_run.yaml" if per_run else "k2.yaml", "upgrade", "--all", *more)

    def k2_a(self):
        return [([*ALEMBIC, "-c", self.anchor_ini, "-n", n, "upgrade", "head"], self.s.root) for n in K_NAMES]

    def k2_b(self):
        return [([*ALEMBIC, "-c", self.multi_ini, "upgrade", "head"], self.s.root)]

    def k2_c(self):
        return [([sys.executable, self.driver, self.anchor_ini, ",".join(K_NAMES)], self.s.root)]

    def k2_d(self):
        return [([sys.executable, self.driver, "--per-migration", self.anchor_ini, ",".join(K_NAMES)], self.s.root)]

    # fleet
    def fleet_multidb(self, jobs: int, half: bool = False):
        return self.mdb("fleet_half.yaml" if half else "fleet.yaml", "upgrade", "--all", "--jobs", str(jobs))

    def fleet_a(self):
        base = [*ALEMBIC, "-c", self.anchor_ini, "-n", "fleet"]
        return [([*base, "-x", f"tenant={t}", "upgrade", "head"], self.s.root) for t in self.s.tenants]

    def fleet_c(self):
        return [([sys.executable, self.driver, self.anchor_ini, "fleet", *self.s.tenants], self.s.root)]

    # offline SQL
    def sql_multidb(self):
        out = self.s.root / "out" / "multidb"
        return self.mdb("k2.yaml", "upgrade", "--all", "--sql", "--output-dir", str(out))

    def sql_a(self):
        out = self.s.root / "out" / "a"
        out.mkdir(parents=True, exist_ok=True)
        return [
            ([*ALEMBIC, "-c", self.anchor_ini, "-n", n, "upgrade", "head", "--sql"], self.s.root, out / f"{n}.sql")
            for n in K_NAMES
        ]

    def sql_b(self):
        return [([*ALEMBIC, "-c", self.multi_ini, "upgrade", "head", "--sql"], self.s.root)]


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Samples:
    """Seconds per run, by measurement key."""

    data: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    background: list[float] = field(default_factory=list)  # other processes' CPU share, before runs

    def add(self, key: str, measured: tuple[float, float]) -> None:
        wall, cpu = measured
        self.data.setdefault(key, []).append(wall)
        self.cpu.setdefault(key, []).append(cpu)

    def median(self, key: str) -> float | None:
        values = self.data.get(key)
        return statistics.median(values) if values else None


def rotated(items: list, n: int) -> list:
    """The tools in a different order on every run, so no tool always runs first (or last)."""
    n %= len(items)
    return items[n:] + items[:n]


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


QUICK = False  # --quick: a smoke test, whose small sizes say nothing about the targets
IDLE = 0.15  # other processes may use up to this share of all cores while we measure


def background_cpu(seconds: float = 0.5) -> float | None:
    """The share of all cores busy while we sleep: other processes' load (Linux only, else None)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:9]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = read()
        time.sleep(seconds)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return 1 - (idle1 - idle0) / (total1 - total0) if total1 > total0 else None


def settle(args: argparse.Namespace, samples: Samples) -> None:
    """Note how busy the machine is before a group of runs; with --wait-idle, wait until it is quiet."""
    deadline = time.monotonic() + args.wait_idle * 60
    said = 0.0
    while True:
        busy = background_cpu()
        if busy is None:
            return
        if busy <= IDLE or time.monotonic() >= deadline:
            samples.background.append(busy)
            return
        if time.monotonic() - said > 30:
            progress(f"waiting for a quiet machine: other processes use {busy:.0%} of the cores")
            said = time.monotonic()


def measure_pair(samples: Samples, key: str, reset: Callable[[], None], commands, noop: bool = True) -> None:
    """From empty, then the same command again: the no-op."""
    try:
        reset()
        samples.add(f"{key}/empty", timed(commands))
        if noop:
            samples.add(f"{key}/noop", timed(commands))
    except CommandFailed as e:
        samples.errors[key] = str(e)
        progress(f"FAILED {key}: {e}")


def measure_once(samples: Samples, key: str, sample: str, commands) -> None:
    """One timed run of ``commands`` into ``sample``; a failure is recorded under ``key``."""
    try:
        samples.add(sample, timed(commands))
    except CommandFailed as e:
        samples.errors[key] = str(e)


def compile_multidb() -> None:
    """Byte-compile multidb's own modules, as a first run would (an editable install leaves them as
    source; pip compiles Alembic and SQLAlchemy at install time). Python writes these files itself
    unless PYTHONDONTWRITEBYTECODE is set, as it is on some CI machines, where every run would
    otherwise compile multidb from source again (about 30 ms)."""
    import multidb

    compileall.compile_dir(str(Path(multidb.__file__).parent), quiet=1)


def measure_dialect(s: Setup, args: argparse.Namespace, samples: Samples) -> None:
    c = Commands(s)
    compileall.compile_dir(str(s.root), quiet=1)  # as after a first run: revision files compiled
    compile_multidb()
    started = time.perf_counter()

    k2_tools = [
        ("multidb", c.k2_multidb()),
        *([] if args.quick else [("multidb-per-run", c.k2_multidb(per_run=True))]),
        *([] if args.quick else [("multidb-j2", c.k2_multidb(jobs=2))]),
        ("a", c.k2_a()),
        ("b", c.k2_b()),
        ("c", c.k2_c()),
        ("d", c.k2_d()),
    ]
    for rep in range(args.repeat):
        progress(f"{s.dialect}: K=2 x {args.k_revisions} revisions, run {rep + 1}/{args.repeat}")
        settle(args, samples)
        for name, commands in rotated(k2_tools, rep):
            if name == "a" and rep >= args.info_repeat:  # (a) judges no K = 2 target
                continue
            noop = name not in ("multidb-per-run", "multidb-j2")  # (information rows: from empty only)
            measure_pair(samples, f"k2/{name}", s.reset_k2, commands, noop=noop)
    if args.k2_only:
        progress(f"{s.dialect}: done in {time.perf_counter() - started:.0f} s")
        return

    progress(f"{s.dialect}: offline SQL")
    sql_tools = [("multidb", c.sql_multidb()), ("a", c.sql_a()), ("b", c.sql_b())]
    for rep in range(args.repeat):
        settle(args, samples)
        for name, commands in rotated(sql_tools, rep):
            measure_once(samples, f"sql/{name}", f"sql/{name}/x", commands)

    fleet_tools = [
        ("multidb-j1", c.fleet_multidb(1)),
        ("multidb-j2", c.fleet_multidb(2)),
        ("c", c.fleet_c()),
    ]
    n = len(s.tenants)
    for rep in range(args.repeat):
        progress(f"{s.dialect}: fleet of {n} x {args.fleet_revisions} revisions, run {rep + 1}/{args.repeat}")
        settle(args, samples)
        tools = [(name, cmds) for name, cmds in rotated(fleet_tools, rep) if name != "c" or rep < args.info_repeat]
        if rep < args.anchor_a_fleet_repeat:
            tools.append(("a", c.fleet_a()))
        for name, commands in tools:
            measure_pair(samples, f"fleet/{name}", s.reset_fleet, commands)

    # The fleet is at head now (every tool shares the version folders): the no-op with N/2 and N targets.
    progress(f"{s.dialect}: marginal cost of a target (no-op, {n // 2} vs {n} targets)")
    half_tools = []
    for jobs in (1,) if args.quick else (1, 2):
        half_tools.append((f"j{jobs}/half", c.fleet_multidb(jobs, half=True)))
        half_tools.append((f"j{jobs}/full", c.fleet_multidb(jobs)))
    for rep in range(args.marginal_repeat):
        settle(args, samples)
        for name, commands in rotated(half_tools, rep):
            measure_once(samples, f"marginal/{name}", f"marginal/{name}", commands)
    progress(f"{s.dialect}: done in {time.perf_counter() - started:.0f} s")


def measure_help(args: argparse.Namespace, samples: Samples, cwd: Path) -> None:
    tools = [("multidb", [([*MULTIDB, "--help"], cwd)]), ("alembic", [([*ALEMBIC, "--help"], cwd)])]
    try:
        for _, commands in tools:  # one unmeasured run each: files in the page cache
            timed(commands)
        settle(args, samples)
        for rep in range(args.help_repeat):
            for name, commands in rotated(tools, rep):
                samples.add(f"help/{name}", timed(commands))
    except CommandFailed as e:
        samples.errors["help"] = str(e)
        progress(f"FAILED --help: {e}")


# --- the report ----------------------------------------------------------------------------------


@dataclass
class Target:
    text: str
    check: Callable[[float], bool]


@dataclass
class Row:
    scenario: str
    multidb: float | None
    anchor: float | None
    anchor_name: str
    target: Target | None = None
    unit: str = "s"
    error: str | None = None
    cpu_ratio: float | None = None  # the same ratio over the processes' CPU seconds (user + system)

    @property
    def ratio(self) -> float | None:
        if self.unit != "s" or self.multidb is None or not self.anchor:
            return None
        return self.multidb / self.anchor

    @property
    def verdict(self) -> str:
        if QUICK and self.target is not None:
            return "(quick)"
        if self.error:
            return "error"
        if self.target is None:
            return ""
        value = self.multidb if self.unit == "ms" else self.ratio
        if value is None:
            return "n/a"
        return "pass" if self.target.check(value) else "MISSED"


def faster(times: float) -> Target:
    return Target(f"<= {1 / times:.3f} (>= {times:g}x faster)", lambda r: r <= 1 / times)


def fmt_time(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    how = f"{1 / r:.1f}x faster" if r <= 1 else f"{r:.2f}x slower"
    return f"{r:.3f} ({how})"


def rows_for(dialect: str, samples: Samples, args: argparse.Namespace) -> list[Row]:
    def m(key: str | None) -> float | None:
        return samples.median(f"{dialect}/{key}") if key else None

    def cpu(key: str | None) -> float | None:
        values = samples.cpu.get(f"{dialect}/{key}") if key else None
        return statistics.median(values) if values else None

    def err(*keys: str) -> str | None:
        found = [samples.errors.get(f"{dialect}/{key}") for k in keys for key in (k, k.rsplit("/", 1)[0])]
        return next((f for f in found if f), None)

    def row(scenario: str, mine: str, anchor: str | None, name: str, target: Target | None = None) -> Row:
        c_mine, c_anchor = cpu(mine), cpu(anchor)
        return Row(
            scenario,
            m(mine),
            m(anchor),
            name,
            target,
            error=err(mine, *([anchor] if anchor else [])),
            cpu_ratio=c_mine / c_anchor if c_mine is not None and c_anchor else None,
        )

    k, n, fr = args.k_revisions, len(args.tenants), args.fleet_revisions
    rows: list[Row] = []
    for phase, label in (("empty", "upgrade from empty"), ("noop", "no-op upgrade")):
        mine = f"k2/multidb/{phase}"
        for anchor in ("a", "b", "c", "d"):
            rows.append(row(f"K=2 x {k}: {label}", mine, f"k2/{anchor}/{phase}", f"({anchor})"))
        if phase == "empty":
            found = [key for key in ("k2/b/empty", "k2/c/empty") if m(key) is not None]
            fastest = min(found, key=m) if found else None
            no_slower = Target("<= 1.00 (no slower)", lambda r: r <= 1.0)
            rows.append(row(f"K=2 x {k}: {label}", mine, fastest, "fastest of (b),(c)", no_slower))
            if not args.quick:
                per_run = f"K=2 x {k}: {label}, transaction: per_run (info)"
                rows.append(row(per_run, "k2/multidb-per-run/empty", fastest, "fastest of (b),(c)"))
                jobs = f"K=2 x {k}: {label}, --jobs 2: both databases at once (info)"
                rows.append(row(jobs, "k2/multidb-j2/empty", fastest, "fastest of (b),(c)"))
                rows.append(row(jobs, "k2/multidb-j2/empty", "k2/d/empty", "(d)"))
    if args.k2_only:
        return rows
    for phase, label, goal in (("empty", "upgrade from empty", 5), ("noop", "no-op upgrade", 30)):
        for jobs in (1, 2):
            scenario = f"fleet {n} x {fr}: {label}, --jobs {jobs}"
            mine = f"fleet/multidb-j{jobs}/{phase}"
            rows.append(row(scenario, mine, f"fleet/a/{phase}", "(a)", faster(goal)))
            rows.append(row(scenario, mine, f"fleet/c/{phase}", "(c)"))
    half = n // 2
    for jobs in (1, 2):
        t_half, t_full = m(f"marginal/j{jobs}/half"), m(f"marginal/j{jobs}/full")
        per = (t_full - t_half) / (n - half) * 1000 if t_half is not None and t_full is not None else None
        anchor_a = m("fleet/a/noop")
        rows.append(
            Row(
                f"one more target, no-op, --jobs {jobs} ({half} vs {n})",
                per,
                anchor_a / n * 1000 if anchor_a else None,
                "(a) per target",
                Target("<= 15 ms", lambda v: v <= 15),
                unit="ms",
                error=err(f"marginal/j{jobs}/half", f"marginal/j{jobs}/full"),
            )
        )
    for anchor in ("a", "b"):
        rows.append(row(f"offline SQL, K=2 x {k}", "sql/multidb/x", f"sql/{anchor}/x", f"({anchor})"))
    return rows


def render(rows: list[Row]) -> str:
    header = ["scenario", "anchor", "multidb", "anchor time", "ratio", "target", "pass/fail", "cpu ratio"]
    body = [
        [
            r.scenario,
            r.anchor_name,
            fmt_time(r.multidb, r.unit),
            fmt_time(r.anchor, r.unit),
            fmt_ratio(r.ratio) if r.unit == "s" else "-",
            r.target.text if r.target else "",
            r.verdict,
            f"{r.cpu_ratio:.2f}" if r.cpu_ratio is not None else "",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in body]
    return "\n".join(out)


def versions() -> str:
    import alembic
    import sqlalchemy

    try:
        from importlib.metadata import version

        mine = version("multidb-migrate")
    except Exception:
        mine = "?"
    return (
        f"python {platform.python_version()}, multidb {mine}, alembic {alembic.__version__}, "
        f"sqlalchemy {sqlalchemy.__version__}"
    )


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 run, K=2 x 10, a fleet of 2 x 5: a smoke test")
    p.add_argument("--dialects", default="sqlite,postgresql", help="comma-separated (default: sqlite,postgresql)")
    p.add_argument("--repeat", type=int, help="runs per measurement; medians are reported (default 3; --quick: 1)")
    p.add_argument("--fleet", type=int, help="fleet targets (default 100; --quick: 2)")
    p.add_argument(
        "--anchor-a-fleet-repeat",
        type=int,
        help="runs of anchor (a) on the fleet, 100 processes each (default 1: its share of the run time)",
    )
    p.add_argument(
        "--info-repeat",
        type=int,
        help="runs of the anchors that judge no target: (a) on K=2 and (c) on the fleet (default 1)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="MINUTES",
        help=f"before each group of runs, wait up to MINUTES until other processes use < {IDLE * 100:.0f}%% "
        "of the cores",
    )
    p.add_argument("--json", type=Path, help="write every sample (seconds) to this file")
    p.add_argument("--keep", action="store_true", help="keep the generated projects (the folder is printed)")
    p.add_argument(
        "--k2-only",
        action="store_true",
        help="only --help and the K=2 upgrades (from empty, no-op): skips offline SQL and the fleets",
    )
    args = p.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    n = args.fleet or (2 if args.quick else 100)
    args.tenants = [f"t{i:03d}" for i in range(n)]
    args.k_revisions = 10 if args.quick else 100
    args.fleet_revisions = 5 if args.quick else 20
    args.anchor_a_fleet_repeat = args.anchor_a_fleet_repeat or 1
    args.info_repeat = min(args.repeat, args.info_repeat or 1)
    args.help_repeat = 3 if args.quick else max(5, args.repeat)
    args.marginal_repeat = 1 if args.quick else max(3, args.repeat)
    args.dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]
    unknown = set(args.dialects) - {"sqlite", "postgresql"}
    if unknown:
        p.error(f"unknown dialect(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    global QUICK
    args = parse_args(argv)
    QUICK = args.quick
    pg = Postgres(os.environ.get(PG_ENV, DEFAULT_PG))
    root = Path(tempfile.mkdtemp(prefix="multidb-bench-"))
    samples = Samples()
    skipped: dict[str, str] = {}
    interrupted = False

    def on_term(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    started = time.perf_counter()
    args.load = [os.getloadavg()[0]]
    try:
        print(f"multidb benchmark, {datetime.date.today()}, {os.cpu_count()} cores, {versions()}", file=sys.stderr)
        measure_help(args, samples, root)
        for dialect in args.dialects:
            folder = root / dialect
            if dialect == "postgresql":
                problem = pg.available()
                if problem:
                    skipped[dialect] = f"no server at {pg.url.render_as_string(hide_password=True)} ({problem})"
                    progress(f"postgresql skipped: {skipped[dialect]}")
                    continue
                setup = postgresql_setup(folder, pg, args.k_revisions, args.fleet_revisions, args.tenants)
            else:
                setup = sqlite_setup(folder, args.k_revisions, args.fleet_revisions, args.tenants)
            dialect_samples = Samples()
            measure_dialect(setup, args, dialect_samples)
            for key, values in dialect_samples.data.items():
                samples.data[f"{dialect}/{key}"] = values
                samples.cpu[f"{dialect}/{key}"] = dialect_samples.cpu[key]
            for key, text in dialect_samples.errors.items():
                samples.errors[f"{dialect}/{key}"] = text
            samples.background += dialect_samples.background
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: cleaning up", file=sys.stderr)
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        try:
            for problem in pg.drop_all():
                print(f"warning: {problem}", file=sys.stderr)
            if args.keep:
                print(f"generated projects kept in {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        return 130

    args.load.append(os.getloadavg()[0])
    report(args, samples, skipped, pg, time.perf_counter() - started)
    if args.json:
        raw = {
            "samples": samples.data,
            "cpu": samples.cpu,
            "errors": samples.errors,
            "background_cpu": samples.background,
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 0


def report(args: argparse.Namespace, samples: Samples, skipped: dict[str, str], pg: Postgres, took: float) -> None:
    n = len(args.tenants)
    print(f"multidb benchmark, {datetime.date.today()}, {os.cpu_count()} cores, {versions()}")
    print(
        f"medians of {args.repeat} run(s); anchor (a) on the fleet: {args.anchor_a_fleet_repeat} run(s) of {n} "
        f"processes; (a) on K=2 and (c) on the fleet (no target): {args.info_repeat} run(s);\n"
        "ratio = multidb / anchor (below 1: multidb is faster), from wall-clock medians;\n"
        "cpu ratio = the same over the client processes' CPU seconds (user + system; not the server's)"
    )
    start, end = args.load
    busy = samples.background
    if busy:
        print(
            f"other processes' CPU use before each group of runs: median {statistics.median(busy):.0%}, "
            f"max {max(busy):.0%} of {os.cpu_count()} cores; "
            f"load average {start:.2f} at the start, {end:.2f} at the end"
        )
    if busy and statistics.median(busy) > IDLE:
        print("warning: the machine was busy with other work; the times (and ratios) are less reliable")
    if args.quick:
        print("--quick: a smoke test; the histories and the fleet are small, so the ratios are not the targets'")
    print()
    missed: list[str] = []
    met: list[str] = []

    cpu = {k: statistics.median(samples.cpu[k]) for k in ("help/multidb", "help/alembic") if samples.cpu.get(k)}
    help_row = Row(
        "--help start-up",
        samples.median("help/multidb"),
        samples.median("help/alembic"),
        "alembic --help",
        faster(4),
        cpu_ratio=cpu["help/multidb"] / cpu["help/alembic"] if len(cpu) == 2 and cpu["help/alembic"] else None,
    )
    print(f"start-up ({args.help_repeat} runs each)")
    print(render([help_row]))
    print()
    (met if help_row.verdict == "pass" else missed).append(f"--help: {fmt_ratio(help_row.ratio)}")

    for dialect in args.dialects:
        if dialect in skipped:
            print(f"{dialect}: skipped, {skipped[dialect]}\n")
            continue
        title = dialect + (f" {pg.version}" if dialect == "postgresql" else "")
        fleet_kind = "schemas in one database" if dialect == "postgresql" else "database files"
        print(f"{title} (fleet: {n} {fleet_kind})")
        rows = rows_for(dialect, samples, args)
        print(render(rows))
        print()
        for r in rows:
            if r.target is None:
                continue
            shown = fmt_time(r.multidb, r.unit) if r.unit == "ms" else fmt_ratio(r.ratio)
            line = f"{dialect}: {r.scenario} vs {r.anchor_name}: {shown} (target {r.target.text})"
            (met if r.verdict == "pass" else missed).append(line + ("" if r.verdict != "error" else f": {r.error}"))
    errors = dict(samples.errors)
    if args.quick:
        outcome = f"{len(errors)} measurement(s) failed (below)" if errors else "every command ran"
        print(f"summary: --quick smoke test, {outcome}, in {took / 60:.1f} min; targets are judged on a full run")
        met, missed = [], []
    else:
        print(f"summary: {len(met)} target(s) met, {len(missed)} missed (in {took / 60:.1f} min)")
    for line in missed:
        print(f"  MISSED  {line}")
    for line in met:
        print(f"  met     {line}")
    for key, text in errors.items():
        print(f"  error   {key}: {text}")


if __name__ == "__main__":
    sys.exit(main())
