"""The federated count query: this node's answer and every partner's, asked at once.

Each active partner is sent the criteria in a signed request (federation/signatures.py), all of
them concurrently; whatever has not answered FEDERATION_TIMEOUT seconds after the query began is
reported as timed out, so a slow or dead node costs the query at most the timeout. Each node's
status is kept with its answer: answered, timed out, refused (the partner would not answer this
node's signature) or error (unreachable, or an answer that is not one). The same criteria within
FEDERATION_CACHE_SECONDS are answered from the cache.
"""

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor, wait

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from federation.counts import canonical, local_counts
from federation.models import Node
from federation.signatures import signed

COUNTS_PATH = "/federation/v1/counts"
ANSWERED, TIMED_OUT, REFUSED, ERROR = "answered", "timed_out", "refused", "error"
STATUS_WORDS = {
    ANSWERED: "Answered",
    TIMED_OUT: "Timed out",
    REFUSED: "Refused",
    ERROR: "Error",
}


def _ask(node: Node, body: bytes, timeout: float) -> dict:
    """One partner's answer, or its status when there is none."""
    started = time.perf_counter()
    try:
        prepared = signed("POST", f"{node.base_url}{COUNTS_PATH}", json_body=body)
        with requests.Session() as session:
            response = session.send(prepared, timeout=timeout, allow_redirects=False)
    except ImproperlyConfigured as exc:  # this node has no key to sign with
        return {"status": ERROR, "detail": str(exc)}
    except requests.Timeout:
        return {"status": TIMED_OUT, "detail": f"no answer within {timeout:g} s"}
    except requests.RequestException as exc:
        return {"status": ERROR, "detail": f"unreachable: {type(exc).__name__}"}
    elapsed = round((time.perf_counter() - started) * 1000)
    if response.status_code in (401, 403):
        return {"status": REFUSED, "detail": _detail(response), "ms": elapsed}
    if response.status_code != 200:
        return {"status": ERROR, "detail": f"HTTP {response.status_code}", "ms": elapsed}
    try:
        answer = response.json()
        datasets = [_dataset(item) for item in answer["datasets"]]
        total = {name: _count(answer["total"].get(name)) for name in ("subjects", "studies")}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"status": ERROR, "detail": "the answer is not a count answer", "ms": elapsed}
    return {"status": ANSWERED, "datasets": datasets, "total": total, "ms": elapsed}


def _detail(response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except ValueError:
        return ""


def _count(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("a count is a whole number or null")
    return value


def _dataset(item: dict) -> dict:
    """A partner's dataset row, kept to the fields this node shows (text, never markup)."""
    return {
        "identifier": str(item["identifier"])[:64],
        "title": str(item.get("title", ""))[:300],
        "holder": str(item.get("holder", ""))[:200],
        "url": str(item.get("url", ""))[:500] if str(item.get("url", "")).startswith(("https://", "http://")) else "",
        "subjects": _count(item.get("subjects")),
        "studies": _count(item.get("studies")),
    }


def _key(criteria: dict) -> str:
    text = json.dumps(canonical(criteria), sort_keys=True)
    return "federation:counts:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def federated_counts(criteria: dict) -> dict:
    """This node's answer and every active partner's, with each node's status and the totals."""
    key = _key(criteria)
    found = cache.get(key)
    if found is not None:
        return {**found, "cached": True}
    started = time.perf_counter()
    timeout = settings.FEDERATION_TIMEOUT
    body = json.dumps(canonical(criteria)).encode()
    partners = list(Node.objects.filter(active=True).order_by("name"))
    pool = ThreadPoolExecutor(max_workers=max(1, min(32, len(partners))), thread_name_prefix="federation")
    futures = {pool.submit(_ask, node, body, timeout): node for node in partners}  # asked first ...
    nodes = [{"name": settings.SITE_NAME, "base_url": settings.SITE_URL, "local": True, "status": ANSWERED}]
    nodes[0].update(local_counts(criteria))  # ... this node counts while they answer
    done, _ = wait(futures, timeout=max(0.0, started + timeout + 0.2 - time.perf_counter()))
    pool.shutdown(wait=False, cancel_futures=True)
    for future, node in futures.items():
        answer = (
            future.result() if future in done else {"status": TIMED_OUT, "detail": f"no answer within {timeout:g} s"}
        )
        nodes.append({"name": node.name, "base_url": node.base_url, "local": False, **answer})
    for node in nodes:
        node["status_words"] = STATUS_WORDS[node["status"]]
    answered = [node for node in nodes if node["status"] == ANSWERED]
    result = {
        "criteria": canonical(criteria),
        "threshold": settings.FEDERATION_COUNT_THRESHOLD,
        "rounding": settings.FEDERATION_COUNT_ROUNDING,
        "nodes": nodes,
        "total": {name: sum(node["total"][name] or 0 for node in answered) for name in ("subjects", "studies")},
        "answered": len(answered),
        "asked": len(nodes),
        "ms": round((time.perf_counter() - started) * 1000),
        "cached": False,
    }
    cache.set(key, result, timeout=settings.FEDERATION_CACHE_SECONDS)
    return result
