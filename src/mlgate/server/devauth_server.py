"""The development authorization server: authlib's ``AuthorizationServer`` with the grants
mlgate's dev auth offers, adapted to requests the Starlette endpoints (``devauth``) read.

- authorization code + PKCE (``S256`` only, a challenge always required), with refresh
  tokens (rotated on use);
- ``client_credentials`` for confidential clients, at most the scopes the client registered;
- RFC 7591 dynamic registration (open: the endpoints answer loopback peers on this listener's
  Host/Origin only), which never grants ``ml:admin`` — no grant of a registered client carries
  it; an operator mints an admin token with ``mlgate token --scope ml:admin``;
- RFC 8707: a ``resource`` parameter must be this server's canonical resource URL, else
  ``invalid_target``; without one the token is for that URL all the same (there is no other).

Access tokens are RFC 9068 JWTs minted by ``mlgate.auth.devkeys.mint_token`` with the dev
key, so the verifier that guards ``/mcp/ml`` accepts them; ``aud`` is the resource URL.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.responses import JSONResponse, Response

from mlgate.auth.devkeys import dev_issuer, mint_token
from mlgate.config import ALL_SCOPES, Settings
from mlgate.server.devauth_requests import InvalidTargetError, requested_resource
from mlgate.server.devauth_store import DevClient, DevCode, DevRefreshToken, DevStore

ACCESS_TTL = 3600
DEV_SUBJECT = "dev"
DEFAULT_CLIENT_SCOPE = "ml:read ml:infer"
"""What a client that registers without ``scope`` may ask for (what a typical agent needs)."""
NOT_REGISTRABLE = "ml:admin"
ADMIN_HINT = "ml:admin is never granted to a registered client: an operator mints it with `mlgate token --scope ml:admin`"
AUTHORIZE_PATH, TOKEN_PATH, REGISTER_PATH = "/oauth/authorize", "/oauth/token", "/oauth/register"
METADATA_PATH = "/.well-known/oauth-authorization-server"
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE, required on every authorization request, ``S256`` only (no ``plain``)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (authlib's class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("code_challenge is required: use PKCE with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 (plain is not accepted)")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]  # noqa: RUF012
    server: DevAuthorizationServer

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        try:
            requested_resource(self.request, self.server.resource)
            if NOT_REGISTRABLE in (self.request.payload.scope or "").split():
                raise InvalidScopeError(ADMIN_HINT)
        except (InvalidTargetError, InvalidScopeError) as error:
            error.redirect_uri, error.state = redirect_uri, self.request.payload.state
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.server.store.codes.put(
            code,
            DevCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=data.get("redirect_uri") or "",
                scope=request.scope or "",
                resource=self.server.resource,
                subject=str(request.user),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
            ),
        )

    def query_authorization_code(self, code: str, client: DevClient) -> DevCode | None:
        return self.server.store.live_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: DevCode) -> None:
        self.server.store.codes.pop(authorization_code.code)

    def authenticate_user(self, authorization_code: DevCode) -> str:
        return authorization_code.subject

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: DevCode = self.request.authorization_code
        if requested_resource(self.request, self.server.resource) != code.resource:
            raise InvalidTargetError(f"the authorization was for {code.resource}")


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: public clients hold them (OAuth 2.1 §4.3.1)
    server: DevAuthorizationServer

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested_resource(self.request, self.server.resource)

    def authenticate_refresh_token(self, refresh_token: str) -> DevRefreshToken | None:
        return self.server.store.live_refresh(refresh_token)

    def authenticate_user(self, refresh_token: DevRefreshToken) -> str:
        return refresh_token.subject

    def revoke_old_credential(self, refresh_token: DevRefreshToken) -> None:
        refresh_token.revoked = True


class CredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS
    server: DevAuthorizationServer

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested_resource(self.request, self.server.resource)
        client: DevClient = self.request.client
        asked = set((self.request.payload.scope or client.scope).split())
        beyond = sorted(asked - set(client.scope.split()))
        if beyond:
            raise InvalidScopeError(
                f"this client registered the scope {client.scope!r}, not {' '.join(beyond)}; "
                "register a client with the scopes it needs"
            )


class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591 registration, open to anyone who reaches the (loopback) endpoint."""

    server: DevAuthorizationServer

    def authenticate_token(self, request: Any) -> str:
        return "open-registration"

    def get_server_metadata(self) -> dict[str, Any]:
        return self.server.metadata()

    def generate_client_secret(self, request: Any) -> str | None:
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            return None  # a public client: no secret
        return secrets.token_urlsafe(32)

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        info: dict[str, Any] = super().generate_client_info(request)
        if info.get("client_secret") is None:
            info.pop("client_secret", None)
            info.pop("client_secret_expires_at", None)
        return info

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any
    ) -> DevClient:
        grant_types = list(client_metadata.get("grant_types") or ["authorization_code"])
        redirect_uris = list(client_metadata.get("redirect_uris") or [])
        method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if "authorization_code" in grant_types and not redirect_uris:
            raise InvalidClientMetadataError("redirect_uris is required for the authorization_code grant")
        if NOT_REGISTRABLE in str(client_metadata.get("scope") or "").split():
            raise InvalidClientMetadataError(ADMIN_HINT)
        if "client_credentials" in grant_types and method == "none":
            raise InvalidClientMetadataError(
                "client_credentials needs a confidential client: "
                "use token_endpoint_auth_method client_secret_basic or client_secret_post"
            )
        client = DevClient(
            client_id=client_info["client_id"],
            client_secret=client_info.get("client_secret"),
            client_name=str(client_metadata.get("client_name") or client_info["client_id"]),
            redirect_uris=redirect_uris,
            grant_types=grant_types,
            response_types=list(client_metadata.get("response_types") or ["code"]),
            scope=" ".join(str(client_metadata.get("scope") or DEFAULT_CLIENT_SCOPE).split()),
            token_endpoint_auth_method=method,
        )
        self.server.store.clients.put(client.client_id, client)
        return client

    def generate_client_registration_info(self, client: DevClient, request: Any) -> dict[str, Any]:
        """The defaults applied, echoed back (RFC 7591 §3.2.1)."""
        return {
            "client_name": client.client_name,
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types,
            "response_types": client.response_types,
            "scope": client.scope,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
        }


class DevAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """One per process; its issuer is the origin of ``MLGATE_RESOURCE_URL``."""

    def __init__(self, settings: Settings, store: DevStore | None = None) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.settings, self.store = settings, store or DevStore()
        self.resource = settings.resource_url
        self.issuer = dev_issuer(settings.resource_url)
        self.register_token_generator(
            "default", BearerTokenGenerator(self._access_token, self._refresh_token, ACCESS_TTL)
        )
        self.register_grant(CodeGrant, [S256Challenge(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(CredentialsGrant)
        self.register_endpoint(Registration())

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization-server metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + AUTHORIZE_PATH,
            "token_endpoint": self.issuer + TOKEN_PATH,
            "registration_endpoint": self.issuer + REGISTER_PATH,
            "scopes_supported": list(ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": [*SECRET_METHODS, "none"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _access_token(self, client: DevClient, grant_type: str, user: Any, scope: str) -> str:
        return mint_token(
            self.settings,
            scope.split(),
            audience=self.resource,
            ttl=ACCESS_TTL,
            subject=str(user) if user else client.client_id,
            client_id=client.client_id,
        )

    def _refresh_token(self, client: DevClient, grant_type: str, user: Any, scope: str) -> str:
        return secrets.token_urlsafe(32)

    def query_client(self, client_id: str) -> DevClient | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        if "refresh_token" in token:
            client: DevClient = request.client
            self.store.refresh_tokens.put(
                token["refresh_token"],
                DevRefreshToken(
                    token=token["refresh_token"],
                    client_id=client.client_id,
                    scope=token.get("scope", ""),
                    subject=str(request.user) if request.user else client.client_id,
                ),
            )

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # the endpoints build a FormRequest from the Starlette request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            response: Response = JSONResponse(body, status_code=status)
            for key, value in headers:
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response
        return Response(body or b"", status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
