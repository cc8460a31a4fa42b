"""Answers about the published catalogue that are the same for every anonymous visitor, kept in the
cache (Redis when REDIS_URL is set, see portal/settings.py CACHES): the facet counts of a search and
the DCAT export of the whole catalogue.

Every cached answer's key carries the catalogue's version; the catalogue's services call
`catalogue_changed()` whenever a dataset is created, edited, published or withdrawn, its files
change or a data holder is added. The version is bumped at once (this transaction's own later reads
miss the cache) and again after the commit (a visitor who cached the old state while the change was
being written does not keep it). `TIMEOUT` bounds how long anything else (a vocabulary edited by
hand) can stay stale.
"""

import hashlib
import json
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalogue:version"
TIMEOUT = 60 * 60


def catalogue_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # A fresh start (or an evicted key) must not meet the entries of an earlier version 1.
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # evicted meanwhile: a new, unseen version
        cache.set(VERSION_KEY, time.time_ns(), timeout=None)


def catalogue_changed() -> None:
    """What anonymous visitors see of the catalogue may have changed: forget the cached answers, and
    (with a worker, DCAT_EXPORT_WARM) put the export's pages together again ahead of the harvesters."""
    _bump()
    transaction.on_commit(_bump_and_warm)


def _bump_and_warm() -> None:
    _bump()
    if settings.DCAT_EXPORT_WARM:
        from catalogue.tasks import dcat_export_warm

        dcat_export_warm.apply_async(args=[catalogue_version()], countdown=settings.DCAT_EXPORT_WARM_DELAY)


def cache_key(kind: str, *parts) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"catalogue:{kind}:{catalogue_version()}:{digest}"


def remembered(kind: str, parts, compute):
    """The cached answer for `parts` at the catalogue's current version, computed once."""
    key = cache_key(kind, *parts)
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=TIMEOUT)
    return found
