"""The API's ways in, all accepted on every endpoint: JWT bearer, API key, HTTP Basic, session.

Every path refuses users who are not Active (Locked and Deleted users have is_active=False)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication

from . import authcache

SIGN_CLAIM = "sign"
LAST_USED_RESOLUTION = timedelta(minutes=5)  # don't write a row on every request


class SignedJWTAuthentication(JWTAuthentication):
    """simplejwt plus Mitosis' revocation: the token's signature must be the user's current one."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)  # refuses inactive users
        if validated_token.get(SIGN_CLAIM) != user.auth_signature:
            raise exceptions.AuthenticationFailed("Token has been revoked; log in again", code="token_revoked")
        return user


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` or `X-API-Key: <key>`; keys are looked up by SHA-256."""

    keyword = "Api-Key"

    def authenticate(self, request):
        key = self._key_from(request)
        if key is None:
            return None
        from apps.groups.models import ApiKey

        key_hash = ApiKey.hash_key(key)
        remembered = authcache.get("api-key:" + key_hash)
        if remembered is not None:
            return remembered
        row = (
            ApiKey.objects.select_related("user")
            .filter(key_hash=key_hash, revoked=False)
            .only("id", "last_used_at", "user")
            .first()
        )
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        if not row.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted")
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
        authcache.put("api-key:" + key_hash, (row.user, row))
        return row.user, row

    def _key_from(self, request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == self.keyword.lower():
                if not value.strip():
                    raise exceptions.AuthenticationFailed("Empty API key")
                return value.strip()
        value = request.META.get("HTTP_X_API_KEY")
        if value is not None:
            if not value.strip():
                raise exceptions.AuthenticationFailed("Empty API key")
            return value.strip()
        return None

    def authenticate_header(self, request):
        return self.keyword


class ActiveBasicAuthentication(authentication.BasicAuthentication):
    """DRF's HTTP Basic (ModelBackend refuses inactive users). A NUL cannot be in a username
    and PostgreSQL refuses it in a query: refuse it here as bad credentials, not a 500."""

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        return super().authenticate_credentials(userid, password, request)


def worker_key(worker_uuid) -> str:
    return f"worker:{worker_uuid}"


def forget_workers(uuids) -> None:
    """Workers removed or changed: forget them now, and again when the transaction commits, so
    a request of another thread that read the old row meanwhile cannot keep it remembered."""
    keys = [worker_key(u) for u in uuids]
    if keys:
        authcache.forget(*keys)
        transaction.on_commit(lambda: authcache.forget(*keys))


class WorkerTokenAuthentication(JWTAuthentication):
    """Mitosis worker endpoints: a token issued at worker registration. The request's user is the
    worker's creator and request.auth the Worker; a removed worker's token is refused. Other
    tokens are left to the next authenticator (and so never reach worker endpoints).

    The Worker is remembered by its uuid (apps.core.authcache): removing or changing a worker
    forgets it in this process at once (signals, and forget_workers after UPDATEs); other server
    processes may take a removed worker's token for up to DROVER_AUTH_CACHE_SECONDS, which the
    worker services tolerate: they re-read the worker's row (fetch: under lock) before acting."""

    def authenticate(self, request):
        from apps.workers.models import Worker

        header = self.get_header(request)
        raw = self.get_raw_token(header) if header is not None else None
        if raw is None:
            return None
        validated = self.get_validated_token(raw)
        worker_uuid = validated.get("worker")
        if not worker_uuid:
            return None
        remembered = authcache.get(worker_key(worker_uuid))
        if remembered is not None:
            return remembered
        worker = Worker.objects.select_related("creator").filter(uuid=worker_uuid).first()
        if worker is None or not worker.creator.is_active:
            raise exceptions.AuthenticationFailed("Wrong credentials: worker not registered", code="worker_gone")
        authcache.put(worker_key(worker_uuid), (worker.creator, worker))
        return worker.creator, worker
