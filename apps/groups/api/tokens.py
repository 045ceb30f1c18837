"""Drover's own /token/ and /token/refresh/ (plain password, for non-Mitosis clients)."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from apps.core.throttles import LOGIN_THROTTLES

from ..models import User
from ..tokens import SIGN_CLAIM, refresh_token_for


class SignedTokenObtainPairSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user):
        return refresh_token_for(user)


class SignedTokenRefreshSerializer(TokenRefreshSerializer):
    """Refuses a refresh token whose user was locked or whose signature was changed since."""

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])
        user = User.objects.filter(pk=refresh.get("user_id")).only("is_active", "auth_signature").first()
        if user is None or not user.is_active or refresh.get(SIGN_CLAIM) != user.auth_signature:
            raise exceptions.AuthenticationFailed("Token has been revoked; log in again", code="token_revoked")
        return super().validate(attrs)


@extend_schema(tags=["Drover auth"], summary="Obtain a JWT pair with username and plain password")
class TokenObtainView(TokenObtainPairView):
    throttle_classes = LOGIN_THROTTLES


@extend_schema(tags=["Drover auth"], summary="Refresh an access token")
class TokenRefreshViewSigned(TokenRefreshView):
    pass
