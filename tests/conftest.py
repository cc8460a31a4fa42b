"""Personas, service checks and browser set-up shared by the whole suite."""

import os
import shutil

import pytest
from django.conf import settings

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "correct-horse-battery-staple"


def _worker_redis_url(url: str, worker: str) -> str:
    """The Redis database of one xdist worker: the given one for the first worker, the next ones for the
    others (counting down from the top of Redis' 16 when the given one is near it), so that two workers'
    Celery queues and results never meet."""
    from urllib.parse import urlsplit, urlunsplit

    index = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + index if base + index <= 15 else base - index
    return urlunsplit(parts._replace(path=f"/{db}"))


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get("TEST_REDIS_URL"):
        os.environ["TEST_REDIS_URL"] = _worker_redis_url(os.environ["TEST_REDIS_URL"], worker)
    if CI and not settings.DATABASES["default"]["ENGINE"].endswith(".postgresql"):
        pytest.exit("CI=true but the suite is not on PostgreSQL: set DATABASE_URL", returncode=3)
    if CI and not os.environ.get("TEST_REDIS_URL"):
        pytest.exit("CI=true but no Redis for the worker tests: set TEST_REDIS_URL", returncode=3)
    if CI and not os.path.exists(CHROMIUM):
        pytest.exit(f"CI=true but Chromium is missing at {CHROMIUM}", returncode=3)
    if CI and not os.path.exists(NGINX):
        pytest.exit(f"CI=true but nginx is missing at {NGINX} (scripts/system_packages.sh test)", returncode=3)


MATRIX_CELLS = pytest.StashKey[int]()


def _matrix_cells_here() -> int:
    """The access matrix cells this process checked (tests/portal/test_access_matrix.py)."""
    import sys

    matrix = sys.modules.get("tests.portal.test_access_matrix")
    return sum(matrix.CHECKED) if matrix is not None else 0


def pytest_sessionfinish(session):
    """An xdist worker hands its count of matrix cells to the controller, which reports it."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["matrix_cells"] = _matrix_cells_here()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    cells = getattr(node, "workeroutput", {}).get("matrix_cells", 0)
    node.config.stash[MATRIX_CELLS] = node.config.stash.get(MATRIX_CELLS, 0) + cells


def pytest_terminal_summary(terminalreporter, config):
    """Say how many cells the access matrix checked, in this process or in the xdist workers."""
    cells = _matrix_cells_here() + config.stash.get(MATRIX_CELLS, 0)
    if cells:
        terminalreporter.write_line(f"access matrix: {cells} cells checked")


def pytest_collection_modifyitems(config, items):
    """Outside CI, skip what needs a missing service, saying which; under CI nothing is skipped."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith(".postgresql")
    reasons = {
        "postgres": None if on_postgres else "needs PostgreSQL (set DATABASE_URL)",
        "worker": None if os.environ.get("TEST_REDIS_URL") and on_postgres else "needs Redis and PostgreSQL",
        "browser": None if os.path.exists(CHROMIUM) else f"needs Chromium at {CHROMIUM}",
        "nginx": None if os.path.exists(NGINX) else "needs Debian's nginx (make system-test)",
    }
    for item in items:
        # A parameter named like a browser fixture (`page`) pulls the browser fixtures' closure, live
        # server included, into a plain test: it would flush the database mid-run. Refuse it early.
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "page" in params and not item.get_closest_marker("browser"):
            raise pytest.UsageError(f"{item.nodeid}: name the parameter otherwise than `page` (a browser fixture)")
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


AUDIT_TABLES = {"portal_auditevent", "portal_auditchainhead"}


@pytest.fixture(scope="session", autouse=True)
def _test_flush_may_empty_the_audit_log():
    """Let the test framework's flush (transactional tests, live_server) empty the audit tables.

    The database refuses TRUNCATE of the audit tables (migration portal 0005) unless the
    transaction set `portal.audit_truncate`, and on SQLite refuses DELETE (0002, 0006). Only here,
    in the test process, does Django's flush set it (PostgreSQL) or lift the triggers for
    its own transaction (SQLite, which rolls DDL back on failure).
    """
    import importlib

    from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper as SqliteWrapper

    PostgresOperations, SqliteOperations = PostgresWrapper.ops_class, SqliteWrapper.ops_class
    triggers = importlib.import_module("portal.migrations.0006_audit_log_indexes_and_head_at_commit")
    postgres_flush, sqlite_flush = PostgresOperations.sql_flush, SqliteOperations.sql_flush

    def postgres_sql_flush(self, style, tables, **kwargs):
        statements = postgres_flush(self, style, tables, **kwargs)
        if AUDIT_TABLES & set(tables):
            statements = ["SET LOCAL portal.audit_truncate = 'allow'", *statements]
        return statements

    def sqlite_sql_flush(self, style, tables, **kwargs):
        statements = sqlite_flush(self, style, tables, **kwargs)
        if AUDIT_TABLES & set(tables):
            statements = [*triggers.SQLITE_REVERSE, *statements, *triggers.SQLITE_FORWARD]
        return statements

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PostgresOperations, "sql_flush", postgres_sql_flush)
        patch.setattr(SqliteOperations, "sql_flush", sqlite_sql_flush)
        yield


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Put back the data that migrations load (permissions, vocabularies, role groups) for transactional tests.

    A transactional test empties every table when it ends, migration data included, so the
    next one would find no vocabulary terms.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from django.contrib.auth.models import Group, Permission
    from django.core.management.sql import emit_post_migrate_signal

    from catalogue.models import Term
    from catalogue.vocabularies import load_vocabularies
    from portal.models import Role

    if not Permission.objects.exists():  # a flush that skipped post_migrate (serialized rollback)
        emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    if not Term.objects.exists():
        load_vocabularies(Term)
    for role in Role.values:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and lockout marks live in the cache: each test starts with none."""
    from django.core.cache import cache

    if "locmem" in settings.CACHES["default"]["BACKEND"].lower():
        cache.clear()
    yield


@pytest.fixture(autouse=True, scope="session")
def _client_login_with_request():
    """`Client.login` calls authenticate() without a request, which django-axes refuses; give it one.

    Each test's database transaction rolls back axes' failure rows, so logins in one test never
    lock out another.
    """
    from django.http import HttpRequest
    from django.test import Client

    original = Client.login

    def login(self, **credentials):
        if "request" not in credentials:
            request = HttpRequest()
            request.META["REMOTE_ADDR"] = "127.0.0.1"
            credentials["request"] = request
        return original(self, **credentials)

    Client.login = login
    yield
    Client.login = original


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Personas and the demo's people are created per test: a cheap hasher keeps their passwords' hashing
    from dominating the suite's time (the configured hashers still check any hash they made)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test gets its own storage roots: dataset files (one area per holder) and documents."""
    settings.DATASET_STORAGE_ROOT = tmp_path / "datasets"
    settings.DATASET_STORAGE_ROOT.mkdir()
    settings.DOCUMENT_STORAGE_ROOT = tmp_path / "documents"
    settings.DOCUMENT_STORAGE_ROOT.mkdir()


@pytest.fixture(scope="session")
def agreement_seal_folder(tmp_path_factory):
    """A development seal for executed agreements, made once per test session."""
    from access_requests.sealing import dev_certificate_create

    folder = tmp_path_factory.mktemp("agreement-seal")
    dev_certificate_create(folder)
    return folder


@pytest.fixture(autouse=True)
def _isolated_agreement_seal(settings, agreement_seal_folder):
    """Tests seal executed agreements with the session's development seal, never the developer's var/."""
    settings.AGREEMENT_SEAL_DIR = agreement_seal_folder
    settings.AGREEMENT_SEAL_KEY = str(agreement_seal_folder / "seal-key.pem")
    settings.AGREEMENT_SEAL_CERT = str(agreement_seal_folder / "seal-cert.pem")
    settings.AGREEMENT_SEAL_TRUST_ROOTS = str(agreement_seal_folder / "ca-cert.pem")
    settings.AGREEMENT_SEAL_PASSPHRASE = ""
    settings.AGREEMENT_SEAL_PREVIOUS_CERTS = []


@pytest.fixture(scope="session")
def visa_key_folder(tmp_path_factory):
    """A development key that signs GA4GH visas, made once per test session (as `manage.py visa_dev_key` does)."""
    from access_requests.services.visas import visa_dev_key_create

    folder = tmp_path_factory.mktemp("visa-key")
    visa_dev_key_create(folder / "visa-key.pem")
    return folder


@pytest.fixture(autouse=True)
def _isolated_visa_key(settings, visa_key_folder):
    """Tests sign visas with the session's development key, never the developer's var/."""
    settings.VISA_KEY_DIR = visa_key_folder
    settings.VISA_SIGNING_KEY = str(visa_key_folder / "visa-key.pem")
    settings.VISA_SIGNING_KEY_PASSPHRASE = ""
    settings.VISA_PREVIOUS_PUBLIC_KEYS = []


@pytest.fixture(scope="session")
def federation_key_folder(tmp_path_factory):
    """The node's Ed25519 key for the test session (as `manage.py federation_dev_key` makes it)."""
    from federation.keys import dev_key_create

    folder = tmp_path_factory.mktemp("federation-key")
    dev_key_create(folder / "node-key.pem")
    return folder


@pytest.fixture(autouse=True)
def _isolated_federation_key(settings, federation_key_folder):
    """Tests sign as a node with the session's key, never the developer's var/."""
    settings.FEDERATION_KEY_DIR = federation_key_folder
    settings.FEDERATION_SIGNING_KEY = str(federation_key_folder / "node-key.pem")


@pytest.fixture(autouse=True)
def _isolated_audit_anchors(settings, tmp_path):
    """Each test gets its own audit anchor file, so verify_audit never reads the developer's var/."""
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "audit-anchors.log")
    settings.AUDIT_ANCHOR_EMAIL = []


# --- personas -----------------------------------------------------------------------------


def _person(email, full_name, roles=(), **extra):
    from portal.services.accounts import user_create

    return user_create(
        actor="system:test", email=email, full_name=full_name, password=PASSWORD, roles=list(roles), **extra
    )


@pytest.fixture
def alice(db):
    """The applicant: a researcher."""
    return _person(
        "alice@uni.example", "Alice Applicant", ["researcher"], organisation="University of Latvia", country="LV"
    )


@pytest.fixture
def bob(db):
    """A team member of Alice's."""
    return _person("bob@uni.example", "Bob Teammate", ["researcher"], organisation="University of Latvia", country="LV")


@pytest.fixture
def charlie(db):
    """An outsider researcher, on nobody's team."""
    return _person("charlie@elsewhere.example", "Charlie Outsider", ["researcher"], country="DE")


@pytest.fixture
def rdo(db):
    return _person("rdo@portal.example", "Rita Office", ["rdo"])


@pytest.fixture
def committee(db):
    from access_requests.services.committees import committee_create

    return committee_create(actor="system:test", name="Test Access Committee", quorum=2)


@pytest.fixture
def chair(committee):
    from access_requests.services.committees import committee_add_member

    user = _person("chair@committee.example", "Carla Chair")
    committee_add_member(actor="system:test", committee=committee, user=user, chair=True)
    return user


@pytest.fixture
def member(committee):
    from access_requests.services.committees import committee_add_member

    user = _person("member@committee.example", "Max Member")
    committee_add_member(actor="system:test", committee=committee, user=user)
    return user


@pytest.fixture
def holder(db):
    from catalogue.services import data_holder_create

    return data_holder_create(
        actor="system:test",
        name="Riga Test Hospital",
        slug="riga-test",
        country="LV",
        contact_email="data@riga.example",
        rdo_email="rdo@riga.example",
    )


@pytest.fixture
def other_holder(db):
    from catalogue.services import data_holder_create

    return data_holder_create(
        actor="system:test",
        name="Valencia Test Hospital",
        slug="valencia-test",
        country="ES",
        contact_email="data@valencia.example",
        rdo_email="rdo@valencia.example",
    )


@pytest.fixture
def steward(holder):
    """Steward of `holder`, the data holder whose datasets are requested."""
    from catalogue.services import data_holder_add_steward

    user = _person("steward@riga.example", "Sam Steward")
    data_holder_add_steward(actor="system:test", holder=holder, user=user)
    return user


@pytest.fixture
def other_steward(other_holder):
    """Steward of another data holder."""
    from catalogue.services import data_holder_add_steward

    user = _person("steward@valencia.example", "Olga Otherholder")
    data_holder_add_steward(actor="system:test", holder=other_holder, user=user)
    return user


# --- browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive Debian's Chromium: Playwright cannot download its own browser here."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def chromium_available():
    return shutil.which(CHROMIUM) is not None
