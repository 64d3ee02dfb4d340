"""Dependencies every route uses: the server state and the authenticated device."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import Unauthenticated
from ..services.auth import Principal
from ..state import ServerState

__all__ = ["Auth", "State", "bearer_token", "get_state"]

_bearer = HTTPBearer(auto_error=False, description="a token from POST /v1/auth/token")


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.calpico
    return state


State = Annotated[ServerState, Depends(get_state)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials


async def _principal(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    token = bearer_token(credentials)
    if token is None:
        raise Unauthenticated("missing bearer token")
    return await state.auth.authenticate(token)


Auth = Annotated[Principal, Depends(_principal)]
