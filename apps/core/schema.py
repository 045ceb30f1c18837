"""drf-spectacular extensions: how Drover's authentication classes appear in /openapi.json."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class SignedJWTScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.SignedJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                   bearer_format="JWT")


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "Or `Authorization: Api-Key <key>`"}


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.ActiveBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}


class WorkerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.WorkerTokenAuthentication"
    name = "workerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                   bearer_format="JWT")
