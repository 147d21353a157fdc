"""Request bodies checked against their OCPI object: status 2001 naming what is wrong."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode

Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: Any, where: str = "") -> Model:
    """``data`` as ``model``; else 2001 listing each bad field's path (after ``where``)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = "; ".join(
            where + ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in error.errors()
        )
        raise OcpiError(StatusCode.INVALID_PARAMETERS, fields) from None
