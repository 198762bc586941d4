"""Dependencies shared by the routes: the service, the predictor, the write-token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..model_retraining import ModelRetrainingService
from ..service.serving import Predictor

bearer = HTTPBearer(
    auto_error=False, description="Needed for trigger and rollback when an API token is set"
)


def get_service(request: Request) -> ModelRetrainingService:
    return request.app.state.service


def get_predictor(request: Request) -> Predictor:
    return request.app.state.predictor


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """When ``server.api_token`` is set, writes need ``Authorization: Bearer <token>``."""
    token = request.app.state.settings.server.api_token
    if token is None:
        return
    offered = credentials.credentials if credentials else ""
    if not hmac.compare_digest(offered.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


ServiceDep = Annotated[ModelRetrainingService, Depends(get_service)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
WriteAccess = Depends(require_token)
