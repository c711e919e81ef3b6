"""Validate user options into a component's pydantic Options, with one clear message on error."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from .errors import UnlearnkitError


def parse_options(schema: type[BaseModel], values: dict | BaseModel | None, where: str) -> BaseModel:
    if isinstance(values, schema):
        return values
    if isinstance(values, BaseModel):
        values = values.model_dump()
    try:
        return schema(**(values or {}))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'options'}: {err['msg']}{_did_you_mean(schema, err)}"
            for err in e.errors()
        )
        known = ", ".join(schema.model_fields) or "none"
        raise UnlearnkitError(f"bad options for {where}: {problems}. Options it takes: {known}") from None


def build(registry, name: str, options: dict | None = None):
    """Instantiate a registered class (method, weighting, target) with validated options."""
    cls = registry.get(name)
    return cls(parse_options(cls.Options, options, f"{registry.kind} {name!r}")) if _takes_options(cls) else cls()


def _takes_options(cls) -> bool:
    import inspect

    return len(inspect.signature(cls.__init__).parameters) > 1


def _did_you_mean(schema: type[BaseModel], err) -> str:
    """`` (did you mean 'patience'?)`` for a misspelt option name, at any nesting level (``stopping.patiense``)."""
    import difflib

    if err.get("type") != "extra_forbidden" or not err["loc"]:
        return ""
    for part in err["loc"][:-1]:  # down to the options model the unknown name sits in
        field = schema.model_fields.get(str(part))
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return ""
        schema = ann
    close = difflib.get_close_matches(str(err["loc"][-1]), list(schema.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
