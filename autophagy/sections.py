"""The sweep config's building blocks: frozen, strict sections and the one-line error they raise.

config.py assembles the sweep's sections from these; a mitigation's parameters (mitigations/*.py)
and a backend's `model:` section are sections too, declared beside their code. Light: pydantic only.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator


class ConfigError(ValueError):
    """A sweep file (or a --set override) is malformed; the message names the file and field."""


def check(ok: bool, field: str, message: str) -> None:
    """In a section's validator: refuse unless `ok`, naming `field` within the section."""
    if not ok:
        raise ConfigError(f"{field}: {message}")


T = TypeVar("T")
# A YAML list, held as a tuple: a frozen section holds nothing mutable.
TupleOf = Annotated[tuple[T, ...], BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, raw: Any) -> Any:
        return {} if raw is None else raw  # `finetune:` with nothing under it
