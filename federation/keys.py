"""This node's own Ed25519 key pair, which signs its requests to partner nodes.

FEDERATION_SIGNING_KEY is the path of the private key (PEM, PKCS#8), or the PEM itself: production
sets it from its secrets; `manage.py federation_dev_key` writes a development key to the default
path (var/federation/node-key.pem), and `make demo` runs it. The public key and its id are what a
partner lists for this node (`/federation/node.json` shows them).
"""

import base64
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from federation.models import key_id_of
from portal.env import private_key_write


def _pem() -> bytes:
    value = settings.FEDERATION_SIGNING_KEY.strip()
    if value.startswith("-----BEGIN"):
        return value.encode()
    try:
        return Path(value).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"FEDERATION_SIGNING_KEY: no key at {value} (run `manage.py federation_dev_key` for a development key)."
        ) from exc


@lru_cache(maxsize=4)
def _load(pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ImproperlyConfigured("FEDERATION_SIGNING_KEY must be an Ed25519 private key.")
    return key


def private_key() -> ed25519.Ed25519PrivateKey:
    return _load(_pem())


def raw_public(key: ed25519.Ed25519PrivateKey | None = None) -> bytes:
    return (key or private_key()).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64() -> str:
    return base64.b64encode(raw_public()).decode()


def own_key_id() -> str:
    return key_id_of(raw_public())


def has_key() -> bool:
    try:
        private_key()
    except ImproperlyConfigured:
        return False
    return True


def dev_key_create(path: Path, *, overwrite: bool = False) -> Path:
    """Write a development node key (Ed25519, PEM, readable by the owner only)."""
    return private_key_write(path, ed25519.Ed25519PrivateKey.generate(), overwrite=overwrite, what="node key")
