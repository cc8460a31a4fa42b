"""Celery tasks of the data-access agreements: thin wrappers that load by id and call a service
(access_requests/services/agreements.py). Each is safe to run twice. The module is named so that
Celery's autodiscovery finds it: portal/celery.py imports it with the app's tasks (see `related_name`)."""

from celery import shared_task

from access_requests.services import agreements as svc

RENDER_SOFT_LIMIT_SECONDS = 600


@shared_task(
    name="access_requests.agreement_create",
    acks_late=True,
    soft_time_limit=RENDER_SOFT_LIMIT_SECONDS,
    time_limit=RENDER_SOFT_LIMIT_SECONDS + 60,
)
def agreement_create_task(application_id: int) -> int | None:
    from access_requests.models import Application
    from portal.errors import TransitionError

    try:
        return svc.agreement_create(actor=svc.SYSTEM, application=Application.objects.get(pk=application_id)).pk
    except TransitionError:  # withdrawn (or otherwise no longer approved) before the task ran
        return None


@shared_task(
    name="access_requests.agreement_render",
    acks_late=True,
    soft_time_limit=RENDER_SOFT_LIMIT_SECONDS,
    time_limit=RENDER_SOFT_LIMIT_SECONDS + 60,
)
def agreement_render_task(version_id: int) -> str:
    return svc.agreement_version_render(version_id=version_id).sha256


@shared_task(
    name="access_requests.agreement_execute",
    acks_late=True,
    soft_time_limit=RENDER_SOFT_LIMIT_SECONDS,
    time_limit=RENDER_SOFT_LIMIT_SECONDS + 60,
)
def agreement_execute_task(agreement_id: int) -> str:
    from portal.errors import TransitionError

    try:
        return svc.agreement_execute(agreement_id=agreement_id).status
    except TransitionError:  # the application left `approved` (withdrawn) before every party signed
        return "refused"


@shared_task(name="access_requests.agreements_sweep")
def agreements_sweep() -> dict:
    return svc.agreements_sweep()


@shared_task(name="access_requests.agreements_overdue_notify")
def agreements_overdue_notify() -> int:
    return svc.agreements_overdue_notify()
