"""A pydantic base whose construction errors are univoice's typed errors, with paths."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from univoice.errors import InvalidInput


class Validated(BaseModel):
    """Frozen, strict about unknown fields, raising ``error_class`` (not pydantic's error)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)
    _path_prefix: ClassVar[str] = ""
    error_class: ClassVar[type[InvalidInput]] = InvalidInput

    def __init__(self, /, **data: Any) -> None:
        from univoice.flow.paths import issues_from_pydantic

        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self.error_class(issues_from_pydantic(exc, self._path_prefix)) from None

    # Only direct construction (`Say(text="")`) goes through __init__; nested validation
    # must not, or a nested error would surface without its full path. This marker is how
    # pydantic tells its own __init__ apart (tests/unit/test_flow_validation.py guards it).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]
