"""`Annotated` dependency aliases for route signatures; one place to look them up."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from infrastructure.bootstrap import Services


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]
