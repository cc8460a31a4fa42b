"""Error pages: JSON under /api/ and the federation's node endpoints, HTML elsewhere."""

from django.shortcuts import render

from portal.apis import json_error

# the programs' addresses: the API, and what partner nodes and their grantees' downloads call
JSON_PREFIXES = ("/api/", "/federation/v1/", "/federation/files/")


def _respond(request, status: int, detail: str, template: str):
    if request.path.startswith(JSON_PREFIXES):
        return json_error(request, status, detail)
    return render(request, template, {"detail": detail}, status=status)


def not_found(request, exception=None):
    return _respond(request, 404, "Not found.", "errors/404.html")


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have permission to do this."
    return _respond(request, 403, message, "errors/403.html")


def bad_request(request, exception=None):
    return _respond(request, 400, "Bad request.", "errors/400.html")


def server_error(request):
    if request.path.startswith(JSON_PREFIXES):
        return json_error(request, 500, "Internal error. It has been logged.")
    return render(request, "errors/500.html", status=500)


def csrf_failure(request, reason=""):
    """A form sent without its valid CSRF token (an old tab, blocked cookies): the portal's own 403."""
    return _respond(
        request,
        403,
        "This form could not be accepted: it was open too long, or your browser does not keep this site's "
        "cookies. Go back, reload the page and send the form again.",
        "errors/403.html",
    )
