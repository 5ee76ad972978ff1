"""The reverse-proxy recipe, deploy/nginx.conf, for real: nginx's own check accepts it (and rejects a broken
copy, so the check means something), and nginx started from it serves two real app hosts on one database and
one Redis over TLS: pages, static files from its cache, the request id end to end, /metrics kept private, and
the pages' WebSockets.

The file is used as shipped except for the lines an operator replaces too (the app hosts, the certificate,
the ports) and the paths nginx would write to (pid, logs, cache, temporary files), which go under the test's
directory; `render` checks that each rewritten line is there, so a change to the file's shape fails here
rather than letting a test write to /var.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import re
import resource
import secrets
import shutil
import sqlite3
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis
from yarl import URL

from app import create_app
from app.config import Settings
from app.serving import WEBSOCKET_PING_INTERVAL, hypercorn_config
from tests.browser.conftest import PASSWORD, Server, free_port
from tests.conftest import IN_CI, TEST_REDIS_URL, unavailable
from tests.live.http import sign_in

RECIPE = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
CUSTOMER = 1


def required(program: str, package: str) -> str:
    """The path of `program` (also looked for in /usr/sbin, off a non-root PATH); skip without it, locally;
    with CI=true, fail."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        message = f"{program} is not installed (apt-get install {package})"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


# -- the recipe, rendered into a directory of its own -------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, which a client may trust as its own CA."""

    path: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.path))


def make_certificate(directory: Path) -> Certificate:
    openssl = required("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    certificate = Certificate(directory / "fullchain.pem", directory / "privkey.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-days",
            "1",
            "-keyout",
            str(certificate.key),
            "-out",
            str(certificate.path),
        ],
        check=True,
        capture_output=True,
    )
    return certificate


def substitute(text: str, pattern: str, replacement, count: int) -> str:
    text, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert found == count, f"deploy/nginx.conf: expected {count} match(es) of {pattern!r}, found {found}"
    return text


def render(
    recipe: str, prefix: Path, *, hosts: list[str], http_port: int, https_port: int, certificate: Certificate
) -> str:
    """The recipe with the test's app hosts, certificate and ports (IPv4 loopback only), and every path nginx
    writes to under `prefix`."""
    # Each upstream group (reads, writes) lists both hosts: 10.0.0.11 is the first, 10.0.0.12 the second.
    by_address = {"10.0.0.11": hosts[0], "10.0.0.12": hosts[1]}
    text = substitute(
        recipe,
        r"^(\s*server )(10\.0\.0\.1[12]):8000\b",
        lambda match: match.group(1) + by_address[match.group(2)],
        4,
    )
    # The workers run as whoever runs the test: pytest's temporary directories are private (0700).
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    text = substitute(text, r"^user www-data;$", f"user {user} {group};", 1)
    text = substitute(text, r"^pid /run/nginx\.pid;$", f"pid {prefix}/nginx.pid;", 1)
    # Not above what this machine allows (setrlimit would fail with an alert in the error log).
    hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard_limit == resource.RLIM_INFINITY:
        hard_limit = 1 << 20
    text = substitute(
        text,
        r"^worker_rlimit_nofile (\d+);$",
        lambda match: f"worker_rlimit_nofile {min(int(match.group(1)), hard_limit)};",
        1,
    )
    text = substitute(text, r"/var/log/nginx/", f"{prefix}/logs/", 2)
    text = substitute(text, r"/var/cache/nginx/customer360\b", f"{prefix}/cache", 1)
    text = substitute(text, r"/etc/ssl/customer360/fullchain\.pem", str(certificate.path), 1)
    text = substitute(text, r"/etc/ssl/customer360/privkey\.pem", str(certificate.key), 1)
    text = substitute(text, r"^(\s*listen) 80\b", rf"\1 127.0.0.1:{http_port}", 1)
    text = substitute(text, r"^(\s*listen) 443\b", rf"\1 127.0.0.1:{https_port}", 1)
    text = substitute(text, r"^\s*listen \[::\]:(80|443)\b.*\n", "", 2)
    # Temporary files: nginx's compiled-in directories are under /var/lib/nginx.
    temporary = "".join(
        f"    {kind}_temp_path {prefix}/temp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = substitute(text, r"^http \{\n", lambda match: match.group(0) + temporary, 1)
    directives = re.sub(r"#.*", "", text)
    leftover = re.findall(r"(?<![\w/])/(?:var|run|etc)/\S*", directives)
    assert not leftover, f"deploy/nginx.conf writes outside the test's directory: {leftover}"
    return text


class Nginx:
    """nginx started from the recipe, in front of `hosts` ("address:port"), with everything under `prefix`."""

    def __init__(self, program: str, prefix: Path, hosts: list[str], certificate: Certificate) -> None:
        self.program, self.prefix = program, prefix
        self.http_port, self.https_port = free_port(), free_port()
        self.base = f"https://127.0.0.1:{self.https_port}"
        self.ssl = certificate.client_context()
        for directory in ("logs", "temp", "cache"):
            (prefix / directory).mkdir(parents=True, exist_ok=True)
        self.error_log = prefix / "logs" / "error.log"
        self.access_log_path = prefix / "logs" / "customer360.access.log"
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(
            render(
                RECIPE.read_text(),
                prefix,
                hosts=list(hosts),
                http_port=self.http_port,
                https_port=self.https_port,
                certificate=certificate,
            )
        )
        self.process: subprocess.Popen | None = None

    def command(self, *args: str) -> list[str]:
        # -e: the error log before the configuration is read (else the compiled-in /var/log/nginx/error.log).
        return [self.program, "-p", f"{self.prefix}/", "-e", str(self.error_log), "-c", str(self.conf), *args]

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.errors()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2, context=self.ssl):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not serve /healthz within 15 s: {self.errors()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def access_log(self) -> list[dict]:
        if not self.access_log_path.exists():
            return []
        return [json.loads(line) for line in self.access_log_path.read_text().splitlines()]


# -- two app hosts behind it --------------------------------------------------------------------------------


@dataclass
class Deployment:
    hosts: list[Server]
    proxy: Nginx
    token: str  # an API token (advisor@example.com)
    database: Path  # the SQLite file both hosts use

    @property
    def base(self) -> str:
        """Where browsers and API clients go: the proxy (tests.browser.test_outages.api writes through it)."""
        return self.proxy.base


@contextmanager
def deployed(
    directory: Path, certificate: Certificate, *, redis_url: str, customers: int = 3, activities: int = 5
) -> Iterator[Deployment]:
    """Two `customer360 serve` hosts on one seeded SQLite database (WAL: processes share it) and one Redis,
    with one SECRET_KEY (a session made by one is good on the other), behind nginx started from the recipe."""
    program = required("nginx", "nginx")
    database = directory / "customer360.sqlite3"
    secret_key = secrets.token_urlsafe(48)
    hosts = []
    for name in ("a", "b"):
        (directory / f"host-{name}").mkdir(parents=True)
        hosts.append(
            Server(
                directory / f"host-{name}",
                DATABASE_URL=f"sqlite:///{database}",
                SECRET_KEY=secret_key,
                REDIS_URL=redis_url,
                TRUSTED_PROXIES="127.0.0.1",
            )
        )
    proxy = Nginx(program, directory / "nginx", [f"127.0.0.1:{host.port}" for host in hosts], certificate)
    for host in hosts:
        host.env["ALLOWED_ORIGINS"] = proxy.base
    hosts[0].cli("migrate")
    hosts[0].cli("seed", "--customers", str(customers), "--activities-per-customer", str(activities))
    token = hosts[0].cli("token", "create", "advisor@example.com", "--name", "deploy").strip()
    try:
        at_once(Server.start, hosts)
        proxy.start()
        yield Deployment(hosts, proxy, token, database)
    finally:
        proxy.stop()
        at_once(Server.stop, hosts)
        for host in hosts:
            host.log.close()


def at_once(action: Callable[[Server], None], hosts: list[Server]) -> None:
    with ThreadPoolExecutor(len(hosts)) as pool:
        for _ in pool.map(action, hosts):  # raises the first failure
            pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def nginx_program() -> str:
    return required("nginx", "nginx")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, certificate) -> Iterator[Deployment]:
    probe = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        probe.ping()
        # The hosts share their sign-in limits through it: start with none spent by earlier runs.
        spent = list(probe.scan_iter("app-auth.login_submit-*"))
        if spent:
            probe.delete(*spent)
    except redis.RedisError as exc:
        unavailable(f"Redis at {TEST_REDIS_URL}", f"{type(exc).__name__}: {exc}")
    finally:
        probe.close()
    with deployed(tmp_path_factory.mktemp("deploy"), certificate, redis_url=TEST_REDIS_URL) as deployment:
        yield deployment


def recipe_value(pattern: str) -> str:
    match = re.search(pattern, RECIPE.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert match, f"deploy/nginx.conf has nothing matching {pattern!r}"
    return match.group(1)


# -- the recipe's own check ---------------------------------------------------------------------------------


def test_nginx_accepts_the_recipe(tmp_path, nginx_program, certificate):
    proxy = Nginx(nginx_program, tmp_path, ["127.0.0.1:8001", "127.0.0.1:8002"], certificate)
    checked = proxy.check()
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr
    assert "[emerg]" not in checked.stderr


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        # Without the map, "Connection: upgrade" names a variable nobody defines.
        (lambda text: re.sub(r"map \$http_upgrade .*?\n    \}\n", "", text, flags=re.DOTALL), "unknown"),
        (lambda text: text.replace("proxy_buffering off;", "proxy_buffering off", 1), "number of arguments"),
        (lambda text: text.replace("upstream customer360 {", "upstream customer360", 1), "no opening"),
        (lambda text: text.replace("proxy_pass http://customer360;", "proxy_pass http://c360;", 1), "host"),
    ],
    ids=["no-upgrade-map", "missing-semicolon", "missing-brace", "unknown-upstream"],
)
def test_nginx_rejects_a_broken_copy_so_the_check_is_real(
    tmp_path, nginx_program, certificate, breakage, complaint
):
    proxy = Nginx(nginx_program, tmp_path, ["127.0.0.1:8001", "127.0.0.1:8002"], certificate)
    proxy.conf.write_text(breakage(proxy.conf.read_text()))
    checked = proxy.check()
    assert checked.returncode != 0, checked.stderr
    assert "[emerg]" in checked.stderr and complaint in checked.stderr, checked.stderr


def test_a_missing_certificate_fails_the_check(tmp_path, nginx_program, certificate):
    proxy = Nginx(nginx_program, tmp_path, ["127.0.0.1:8001", "127.0.0.1:8002"], certificate)
    proxy.conf.write_text(proxy.conf.read_text().replace(str(certificate.path), str(tmp_path / "none.pem")))
    checked = proxy.check()
    assert checked.returncode != 0 and "none.pem" in checked.stderr, checked.stderr


def test_the_recipe_agrees_with_the_app(tmp_path):
    """Timeouts and limits that must follow the app's own: checked against the app, not against numbers."""
    settings = Settings.from_env({"APP_ENV": "test", "SECRET_KEY": "t" * 40, "VAR_DIR": str(tmp_path)})
    # The pages' sockets outlive the app's ping interval (else nginx closes every idle page's socket).
    ws_read_timeout = recipe_value(r"location /ws/ \{[^}]*?proxy_read_timeout (\d+)s;")
    assert int(ws_read_timeout) >= WEBSOCKET_PING_INTERVAL + 30
    assert recipe_value(r"location /ws/ \{[^}]*?(proxy_buffering off);")
    # nginx closes an idle connection to a host before the host does (else a POST may meet a closing one).
    upstream_idle = recipe_value(r"upstream customer360 \{[^}]*?keepalive_timeout (\d+)s;")
    assert int(upstream_idle) < hypercorn_config(settings).keep_alive_timeout
    # Bodies the app would take pass; bigger ones stop at the proxy.
    assert (
        int(recipe_value(r"client_max_body_size (\d+)m;")) * 1024 * 1024
        == create_app(settings).config["MAX_CONTENT_LENGTH"]
    )


# -- nginx in front of two real app hosts -------------------------------------------------------------------


def client(deployment: Deployment, **options) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=deployment.proxy.ssl),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # keep the cookies of an IP-address host
        **options,
    )


async def wait_for_log(deployment: Deployment, wanted, within: float = 5) -> list[dict]:
    """The access log's lines once `wanted(lines)` holds (nginx writes a line when a request ends)."""
    deadline = time.monotonic() + within
    while True:
        lines = deployment.proxy.access_log()
        if wanted(lines) or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.05)


async def test_plain_http_is_sent_to_https(deployment):
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{deployment.proxy.http_port}/customers/1?tab=x", allow_redirects=False
        ) as response,
    ):
        assert response.status == 301
        assert response.headers["Location"] == "https://127.0.0.1/customers/1?tab=x"


async def test_pages_are_served_through_the_proxy_by_both_hosts(deployment):
    async with client(deployment) as session:
        for _ in range(6):
            async with session.get(f"{deployment.base}/healthz") as response:
                assert response.status == 200
        async with session.get(f"{deployment.base}/login") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            assert 'name="csrf_token"' in await response.text()
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
            assert "Content-Encoding" not in response.headers  # pages are never compressed (BREACH)
            assert "nginx/" not in response.headers.get("Server", "")
    hosts = {f"127.0.0.1:{host.port}" for host in deployment.hosts}
    lines = await wait_for_log(deployment, lambda lines: any(line["path"] == "/login" for line in lines))
    served = [line for line in lines if line["path"] in ("/healthz", "/login")]
    assert {line["upstream"] for line in served} == hosts  # round robin over both
    assert {line["status"] for line in served} == {200}
    assert all(line["upstream_status"] == "200" for line in served)


def app_logs(deployment: Deployment) -> str:
    return "".join(Path(host.log.name).read_text() for host in deployment.hosts)


async def test_the_request_id_is_the_clients_when_sane_else_the_proxys_and_reaches_the_app(deployment):
    async with client(deployment) as session:
        async with session.get(
            f"{deployment.base}/login", headers={"X-Request-ID": "deploy-check-7"}
        ) as sent:
            assert sent.headers.getall("X-Request-ID") == ["deploy-check-7"]
        async with session.get(f"{deployment.base}/login") as made:
            (made_id,) = made.headers.getall("X-Request-ID")
            assert re.fullmatch(r"[0-9a-f]{32}", made_id)
        async with session.get(f"{deployment.base}/login", headers={"X-Request-ID": "not sane!"}) as refused:
            (replaced,) = refused.headers.getall("X-Request-ID")
            assert re.fullmatch(r"[0-9a-f]{32}", replaced) and replaced != made_id
        # nginx's own answers carry it too.
        async with session.get(f"{deployment.base}/metrics", headers={"X-Request-ID": "denied-1"}) as denied:
            assert denied.status == 403
            assert denied.headers.getall("X-Request-ID") == ["denied-1"]
    lines = await wait_for_log(deployment, lambda lines: any(line["request_id"] == made_id for line in lines))
    assert {"deploy-check-7", made_id, replaced} <= {line["request_id"] for line in lines}
    # The app logged the same ids: one trail from the proxy's line to the app's.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        logged = await asyncio.to_thread(app_logs, deployment)
        if all(f'"{request_id}"' in logged for request_id in ("deploy-check-7", made_id, replaced)):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the app hosts did not log the request ids nginx passed on")


def audited(database: Path, request_id: str) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute(
            "SELECT action, ip_address FROM audit_log WHERE request_id = ?", (request_id,)
        ).fetchall()


async def test_the_app_sees_the_clients_address_and_request_id_through_the_proxy(deployment):
    """With nginx in TRUSTED_PROXIES, the audit trail has the browser's address (X-Forwarded-For), not
    nginx's: the browser here connects from 127.0.0.2, nginx to the hosts from 127.0.0.1."""
    ws_base = deployment.base.replace("https://", "wss://")
    connector = aiohttp.TCPConnector(ssl=deployment.proxy.ssl, local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        # A foreign page's handshake is refused, and the refusal is in the audit trail.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                f"{ws_base}/ws/activity",
                headers={"Origin": "https://evil.example", "X-Request-ID": "foreign-origin-1"},
            )
        assert refused.value.status == 403
    deadline = time.monotonic() + 5
    while not (rows := await asyncio.to_thread(audited, deployment.database, "foreign-origin-1")):
        assert time.monotonic() < deadline, "the refusal is not in the audit trail"
        await asyncio.sleep(0.05)
    assert rows == [("websocket.refused", "127.0.0.2")]


async def test_metrics_are_not_served_through_the_proxy(deployment):
    async with client(deployment) as session:
        for path in ("/metrics", "//metrics", "/%6Detrics", "/metrics?format=text"):
            # As sent: not normalised by the client (nginx decodes and merges slashes before it matches).
            async with session.get(URL(f"{deployment.base}{path}", encoded=True)) as response:
                assert response.status == 403, path
                assert "# HELP" not in await response.text()
        # Each host serves them to the monitoring network (here: loopback) directly.
        async with session.get(f"{deployment.hosts[0].base}/metrics") as response:
            assert response.status == 200
            assert "# HELP" in await response.text()


async def test_static_files_come_from_the_proxys_cache_compressed(deployment):
    async with client(deployment) as session:
        for _ in range(3):
            async with session.get(
                f"{deployment.base}/static/app.css", headers={"Accept-Encoding": "gzip"}
            ) as response:
                assert response.status == 200
                assert response.headers["Content-Encoding"] == "gzip"
                assert "max-age=" in response.headers["Cache-Control"]
                assert "text/css" in response.headers["Content-Type"]
                assert len(await response.read()) > 0

    def fetched(lines: list[dict]) -> list[str]:
        return [line["cache"] for line in lines if line["path"] == "/static/app.css"]

    caching = fetched(await wait_for_log(deployment, lambda lines: len(fetched(lines)) == 3))
    assert caching[0] == "MISS" and caching[1:] == ["HIT", "HIT"]


async def test_websockets_pass_through_to_both_hosts_and_receive_notes_written_through_the_proxy(deployment):
    ws_base = deployment.base.replace("https://", "wss://")
    async with client(deployment) as session:
        await sign_in(session, deployment.base, "operations@example.com", PASSWORD)
        sockets = [
            await session.ws_connect(f"{ws_base}/ws/activity", headers={"Origin": deployment.base})
            for _ in range(4)
        ]
        await asyncio.sleep(0.3)  # let the sockets' subscriptions settle
        summary = f"Through the proxy {secrets.token_hex(4)}"
        async with session.post(
            f"{deployment.base}/api/customer360/{CUSTOMER}/activity",
            json={"kind": "note", "summary": summary},
            headers={"Authorization": f"Bearer {deployment.token}"},
        ) as response:
            assert response.status == 201, await response.text()
            note_id = (await response.json())["id"]
        for socket in sockets:
            while True:
                message = await asyncio.wait_for(socket.receive(), 10)
                assert message.type == aiohttp.WSMsgType.TEXT, message
                if summary in message.data:
                    assert f'<meta name="live-event" content="{note_id}"' in message.data
                    break
        for socket in sockets:
            await socket.close()

    hosts = {f"127.0.0.1:{host.port}" for host in deployment.hosts}

    def upgraded(lines: list[dict]) -> list[dict]:
        return [line for line in lines if line["path"] == "/ws/activity" and line["status"] == 101]

    lines = upgraded(await wait_for_log(deployment, lambda lines: len(upgraded(lines)) >= 4))
    assert len(lines) == 4
    assert {line["upstream"] for line in lines} == hosts  # the sockets were spread over both hosts


def test_nginx_logged_no_error_serving_them(deployment):
    """Last of the module: whatever the tests above did, nginx logged no error but the refusals of /metrics
    (warnings are left out: a newer nginx warns of directives it deprecates)."""
    errors = [
        line
        for line in deployment.proxy.errors().splitlines()
        if re.search(r"\[(error|crit|alert|emerg)\]", line) and "access forbidden by rule" not in line
    ]
    assert errors == []
