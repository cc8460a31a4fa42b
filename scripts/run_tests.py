#!/usr/bin/env python
"""Find PostgreSQL and Redis for the test suite, say what is missing, then run pytest.

DATABASE_URL and TEST_REDIS_URL (or REDIS_URL) are used when given, else the standard local
ports. Under CI a missing service is a failure. Elsewhere the suite falls back to SQLite and
skips what needs the missing service, and says so. The tests run in two pytest-xdist workers
(PYTEST_WORKERS says how many; `-n 0` runs them in this one process).
"""

import os
import sys

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
WORKERS = os.environ.get("PYTEST_WORKERS", "2")


def postgres_reachable(url: str) -> str | None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if "postgresql" not in cfg["ENGINE"]:
        return None
    try:
        psycopg.connect(
            host=cfg["HOST"] or "127.0.0.1",
            port=cfg["PORT"] or 5432,
            user=cfg["USER"] or "postgres",
            password=cfg["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        return f"PostgreSQL is not reachable at {cfg['HOST']}:{cfg['PORT']} ({str(exc).strip().splitlines()[0]})"
    return None


def redis_reachable(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis is not reachable at {url} ({exc})"
    return None


def parallel(args: list[str]) -> list[str]:
    """Two pytest-xdist workers (CI's two cores), each on its own test database and Redis database,
    taking tests one by one as they free up; unless the arguments say otherwise (`-n 0`: one process)."""
    given = any(
        arg in ("-n", "--numprocesses", "no:xdist") or arg.startswith(("-n", "--numprocesses=", "--dist"))
        for arg in args
    )
    return [] if given else ["-n", WORKERS, "--dist", "worksteal"]


def main() -> int:
    env = dict(os.environ)
    db_url = env.get("DATABASE_URL") or DEFAULT_DB
    redis_url = env.pop("TEST_REDIS_URL", None) or env.pop("REDIS_URL", None) or DEFAULT_REDIS
    env.pop("REDIS_URL", None)  # ordinary tests run tasks eagerly; worker tests use TEST_REDIS_URL
    missing = []
    problem = postgres_reachable(db_url)
    if problem:
        missing.append(problem)
        env.pop("DATABASE_URL", None)
    elif "postgres" in db_url:
        env["DATABASE_URL"] = db_url
    problem = redis_reachable(redis_url)
    if problem:
        missing.append(problem)
    else:
        env["TEST_REDIS_URL"] = redis_url
    if missing:
        for line in missing:
            print(f"run_tests: {line}", file=sys.stderr)
        if CI:
            print("run_tests: CI=true, so a missing service is a failure.", file=sys.stderr)
            return 2
        print(
            "run_tests: running anyway: on SQLite if PostgreSQL is missing, and skipping the tests that need "
            "what is missing. Set DATABASE_URL / TEST_REDIS_URL to point at your servers.",
            file=sys.stderr,
        )
    env.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    pytest = os.path.join(os.path.dirname(sys.executable), "pytest")
    os.execve(pytest, [pytest, *parallel(sys.argv[1:]), *sys.argv[1:]], env)  # noqa: S606
    return 0


if __name__ == "__main__":
    sys.exit(main())
