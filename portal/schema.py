"""OpenAPI descriptions for the portal's own authentication, and the errors every operation can answer.

`PortalAutoSchema` documents, from the view itself, the error answers that follow from how an
operation is built, so no decorator has to remember them: 401 and 403 when an anonymous caller is
refused by the view's permission classes (401 alone where sign-in is optional: a bad token is
still refused), 400 and 415 where it takes a body, 400 where it takes query parameters, 404 where
its path names an object, 406 where the client's Accept header is negotiated, 429 where it is
throttled. Errors that follow from rules (409 where a state can refuse, a 400 for a path value)
stay in each operation's `extend_schema`. Every one of them is the `Error` component, which
`portal.apis.exception_handler` writes. The operation's `security` says the same: it allows no
credentials exactly where an anonymous caller passes the permission classes.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.negotiation import DefaultContentNegotiation


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token created on the portal's API tokens page (dap_…).",
        }


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` names each refused field (unknown and read-only fields included).",
    401: "Not signed in, or the token is invalid, expired or revoked (`WWW-Authenticate: Bearer`).",
    403: "Signed in, but not allowed to do this.",
    404: "No such object, or not one the caller may see.",
    406: "The Accept header asks for a format the API does not answer in (it answers JSON).",
    409: "The object's state does not allow this.",
    415: "The request body's content type is not one this operation takes.",
    429: "Too many requests; `Retry-After` says when to try again.",
}


class PortalAutoSchema(AutoSchema):
    def _anonymous_allowed(self) -> bool:
        """Whether the access table (portal.access) lets an anonymous caller through for this method."""
        from portal.access import anonymous_may

        return anonymous_may(type(self.view), self.method)

    def get_auth(self):
        auths = [auth for auth in super().get_auth() if auth]
        return [*auths, {}] if self._anonymous_allowed() else auths

    def _common_errors(self, operation: dict) -> list[int]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        errors = []
        if has_body or any(parameter["in"] == "query" for parameter in parameters):
            errors.append(400)
        errors.append(401)  # a token that is invalid, expired or revoked is refused even where sign-in is optional
        if not self._anonymous_allowed():
            errors.append(403)
        if any(parameter["in"] == "path" for parameter in parameters):
            errors.append(404)
        if isinstance(self.view.get_content_negotiator(), DefaultContentNegotiation):
            errors.append(406)
        if has_body:
            errors.append(415)
        if self.view.get_throttles():
            errors.append(429)
        return errors

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        from portal.apis import ErrorSerializer  # portal.apis imports this module's class through settings

        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation["responses"]
        for status in self._common_errors(operation):
            responses.setdefault(str(status), {"content": {"application/json": {"schema": error}}})
        for status, response in responses.items():
            if status.isdigit() and int(status) in ERROR_DESCRIPTIONS and response.get("description") in ("", None):
                response["description"] = ERROR_DESCRIPTIONS[int(status)]
        if "401" in responses:
            responses["401"]["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`: send a personal token"}
            }
        if "429" in responses:
            responses["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
            }
        operation["responses"] = dict(sorted(responses.items()))
        return operation
