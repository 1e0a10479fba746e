"""Field-level validation errors shared by the admin console, its API and registration."""

from __future__ import annotations

from flask_babel import gettext as _

from ..errors import InvalidInput


class FieldErrors(InvalidInput):
    """Several inputs are wrong; ``errors`` maps each field name to a readable message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors.items()), ("", ""))
        super().__init__(_("Some fields are not valid."), detail=f"{first[0]}: {first[1]}")
        self.errors = dict(errors)


def text(data: dict, name: str, errors: dict[str, str], *, required: bool = False,
         max_length: int = 255) -> str:
    value = data.get(name)
    value = "" if value is None else str(value).strip()
    if required and not value:
        errors[name] = _("This field is required.")
    elif len(value) > max_length:
        errors[name] = _("At most %(n)d characters.", n=max_length)
    return value


def as_list(value) -> list[str]:
    """A list from a JSON array or from text with one item per line (or space-separated)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in value.split() if item]
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    raise TypeError("expected a list")


def as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "on", "yes", "y"}
