"""JWTs for users. Each carries the user's auth_signature ("sign", as Mitosis' tokens do), so
bumping the signature revokes every token issued before."""

import secrets

from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

SIGN_CLAIM = "sign"


def new_signature() -> int:
    return secrets.randbelow(2**62) + 1


def access_token_for(user) -> str:
    token = AccessToken.for_user(user)
    token[SIGN_CLAIM] = user.auth_signature
    return str(token)


def refresh_token_for(user) -> RefreshToken:
    token = RefreshToken.for_user(user)
    token[SIGN_CLAIM] = user.auth_signature  # copied into every access token it refreshes
    return token
