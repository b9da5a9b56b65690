"""``Flow``: a whole call flow, its flow-level options, and its documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow import documents
from univoice.flow.fields import MAX_STEPS, Gender, Language, VariableName
from univoice.flow.paths import issues_from_pydantic
from univoice.flow.rules import check
from univoice.flow.steps import FlowModel, MachineDetection, Step
from univoice.flow.walk import walk

if TYPE_CHECKING:
    from univoice.flow.builder import FlowBuilder


class Flow(FlowModel):
    """A provider-neutral call flow: the steps a call runs once it is answered.

    Build one in Python (``Flow(steps=[...])`` or ``Flow.builder()``) or load it from
    YAML/JSON (``Flow.from_yaml``); either way every rule is checked and every problem
    is reported at once in a ``FlowValidationError``.
    """

    name: str | None = Field(None, max_length=200)
    description: str | None = None
    language: Language | None = Field(None, description="Default for say steps (en-US).")
    gender: Gender | None = Field(None, description="Default voice gender for say steps.")
    voice: str | None = Field(None, min_length=1, description="Default provider voice name.")
    record: bool = Field(False, description="Record the whole call.")
    machine_detection: MachineDetection | None = None
    # Variables set before this flow runs: a continuation of a call whose earlier part
    # gathered them.
    inputs: tuple[VariableName, ...] = ()
    steps: tuple[Step, ...] = Field(max_length=MAX_STEPS)

    # A plain default: a default_factory costs ~145 us a validation in pydantic 2.13.
    _warnings: tuple[FlowIssue, ...] = PrivateAttr(default=())

    @field_validator("machine_detection", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        # `machine_detection: true` turns detection on with the default (hang up).
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("steps")
    @classmethod
    def _not_empty(cls, value: tuple[Step, ...]) -> tuple[Step, ...]:
        # Checked here, not with min_length: on a tuple pydantic would also report the
        # length whenever an item is invalid.
        if not value:
            raise PydanticCustomError("too_short", "a flow needs at least one step")
        return value

    @model_validator(mode="before")
    @classmethod
    def _bare_steps(cls, value: Any) -> Any:
        return {"steps": value} if isinstance(value, (list, tuple)) else value

    @model_validator(mode="after")
    def _cross_step_rules(self) -> Self:
        issues = check(self)
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            raise FlowValidationError(errors)
        self._warnings = tuple(i for i in issues if i.severity == "warning")
        return self

    def walk(self) -> Iterator[tuple[str, Step]]:
        """Every step with its path (``steps[1].gather.options['2'].steps[0]``)."""
        return walk(self)

    def warnings(self) -> list[FlowIssue]:
        """Problems that do not stop the flow from running (e.g. steps that never run)."""
        return list(self._warnings)

    # Documents ----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Self:
        if not isinstance(data, (dict, list, tuple)):
            raise FlowValidationError(
                [FlowIssue("", "a flow document is a mapping with 'steps' (or a list of steps)"
                           f", not {type(data).__name__}")], source=source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise FlowValidationError(issues_from_pydantic(exc), source=source) from None
        except FlowValidationError as exc:
            raise FlowValidationError(exc.issues, source=source) from None

    @classmethod
    def from_yaml(cls, source: str | Path) -> Self:
        """Load from a YAML file path, or from YAML text."""
        text, name = documents.read_source(source, (".yaml", ".yml"))
        return cls.from_dict(documents.parse_yaml(text, name), source=name)

    @classmethod
    def from_json(cls, source: str | bytes | Path) -> Self:
        """Load from a JSON file path, or from JSON text."""
        if isinstance(source, bytes):
            return cls.from_dict(documents.parse_json(source))
        text, name = documents.read_source(source, (".json",))
        return cls.from_dict(documents.parse_json(text, name), source=name)

    @classmethod
    def load(cls, source: str | Path) -> Self:
        """Load a file, by its suffix (.json, else YAML)."""
        if str(source).endswith(".json"):
            return cls.from_json(Path(source))
        return cls.from_yaml(Path(source))

    def to_dict(self) -> dict[str, Any]:
        """The document form: steps externally tagged, defaults left out."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def to_yaml(self) -> str:
        return documents.dump_yaml(self.to_dict())

    def to_json(self, indent: int | None = 2) -> str:
        return documents.dump_json(self.to_dict(), indent)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of flow documents, for editor completion of YAML flows."""
        from univoice.flow.steps import SHORTHAND, STEP_TYPES

        bare = frozenset(kind for kind, model in STEP_TYPES.items()
                         if not any(f.is_required() for f in model.model_fields.values()))
        return documents.editor_schema(cls.model_json_schema(), SHORTHAND, bare)

    @staticmethod
    def builder(**options: Any) -> FlowBuilder:
        """A fluent builder; ``options`` are flow-level (language, record, ...)."""
        from univoice.flow.builder import FlowBuilder

        return FlowBuilder(**options)
