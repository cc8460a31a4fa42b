#!/usr/bin/env python
"""`make demo-federation`: the demo portal and two partner nodes, each its own process and database,
listed at one another, so that a federated search is answered by three nodes.

The partners (federation/demo.py: Tartu and Vilnius) are set up in var/federation-demo/<partner>/
(their own SQLite database, files and node key), served on the next two ports, and harvested by
the main node, where the demo researcher then applies for Tartu's lung CT (approved, signed and
executed there, the grant is pushed to Tartu, which enforces it), before it starts serving in the
foreground; Ctrl-C stops all three. The functions
here also start the nodes of tests/federation/test_three_nodes.py.
"""

import argparse
import json
import os
import subprocess  # nosec B404 - starts the portal's own manage.py
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class NodeProcess:
    """One portal node: its name, address, environment and, once started, its server process."""

    name: str
    url: str
    env: dict
    identity: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def manage(self, *args: str, quiet: bool = True) -> str:
        result = subprocess.run(  # noqa: S603  # nosec B603 - our own manage.py with fixed arguments
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}: manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        if not quiet:
            print(result.stdout, end="")
        return result.stdout

    def prepare(self, *loader: str) -> None:
        """Migrate, make the node's key, load its data (`loader`: a manage.py command and its arguments)."""
        self.manage("migrate", "--noinput")
        self.manage("federation_dev_key", "--if-missing")
        if loader:
            self.manage(*loader)
        self.identity = json.loads(self.manage("federation_partner", "--identity").strip().splitlines()[-1])

    def list_partner(self, other: "NodeProcess") -> None:
        self.manage(
            "federation_partner",
            "--name",
            other.identity["name"],
            "--url",
            other.url,
            "--key",
            other.identity["public_key"],
            "--honour-grants",  # the demo's nodes agreed to enforce each other's committees' grants
        )

    def serve(self, log: Path | None) -> None:
        """Start the node's server (its output to `log`, or this terminal) and wait until it answers."""
        host_port = self.url.split("://", 1)[1]
        handle = log.open("ab") if log is not None else None
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603 - our own manage.py with fixed arguments
            [PYTHON, "manage.py", "runserver", "--noreload", host_port],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT if handle is not None else None,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} stopped at start: see {log}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310  # nosec B310 - http on loopback
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer within 60 s: see {log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def node_env(base: dict, *, name: str, url: str, var: Path, database_url: str) -> dict:
    """The environment of one node: its own name, address, var folder (key, files) and database."""
    own = ("FEDERATION_SIGNING_KEY", "VISA_SIGNING_KEY", "VISA_SIGNING_KEY_PASSPHRASE", "VISA_PREVIOUS_PUBLIC_KEYS")
    env = {key: value for key, value in base.items() if key not in own}  # each node keys under its var folder
    env.update(
        {
            "SITE_NAME": name,
            "SITE_URL": url,
            "PORTAL_VAR_DIR": str(var),
            "DATABASE_URL": database_url,
            "PORTAL_PROFILE": base.get("PORTAL_PROFILE", "demo"),
        }
    )
    env.pop("REDIS_URL", None)  # each demo node runs its tasks eagerly, with a cache of its own
    return env


def peer(nodes: list[NodeProcess]) -> None:
    """Each node lists every other one."""
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.list_partner(other)


def main() -> None:
    from federation.demo import PARTNERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    base = dict(os.environ)
    var_root = Path(base.get("PORTAL_VAR_DIR", ROOT / "var"))
    main_url = f"http://{args.host}:{args.port}"
    main_node = NodeProcess(
        base.get("SITE_NAME", "Imaging Data Access Portal"), main_url, {**base, "SITE_URL": main_url}
    )
    main_node.identity = json.loads(main_node.manage("federation_partner", "--identity").strip().splitlines()[-1])
    partners = []
    for offset, key in enumerate(sorted(PARTNERS), start=1):
        var = var_root / "federation-demo" / key
        var.mkdir(parents=True, exist_ok=True)
        url = f"http://{args.host}:{args.port + offset}"
        env = node_env(
            base, name=PARTNERS[key]["site_name"], url=url, var=var, database_url=f"sqlite:///{var / 'portal.sqlite3'}"
        )
        node = NodeProcess(PARTNERS[key]["site_name"], url, env)
        print(f"Setting up {node.name} on {url} ...", flush=True)
        node.prepare("load_partner_demo", key)
        partners.append(node)
    peer([main_node, *partners])
    try:
        for node in partners:
            node.serve(var_root / "federation-demo" / f"{node.name.split()[0].lower()}.log")
        main_node.manage("federation_harvest", quiet=False)
        # the demo researcher applies at the main node for Tartu's lung CT; the grant goes to Tartu
        main_node.manage("apply_remote_demo", "EE-TUH-CT-LUNG-2019-2024", quiet=False)
        print(f"Serving {main_node.name} on {main_url}/ (Ctrl-C stops the three nodes)", flush=True)
        main_node.serve(None)
        for node in partners:  # once the main node answers, the partners harvest its catalogue too
            node.manage("federation_harvest", quiet=False)
        print(f"\nPartner nodes: {', '.join(f'{n.name} {n.url}' for n in partners)}")
        print(f"Federated search: {main_url}/federation/search/ (sign in first; demo logins above)", flush=True)
        main_node.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for node in [*partners, main_node]:
            node.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    main()
