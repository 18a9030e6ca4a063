"""``@record``: what ``@dataclass`` gives the sops engine's small classes, without the dataclasses module.

A one-file decrypt is one process per call (issue 19, item 6); ``dataclasses`` costs it an import of
``inspect`` (with ``ast``, ``dis``, ``tokenize``) and an ``exec`` per generated method of every class.
A record is the same class as far as its users and mypy see (``typing.dataclass_transform``): an
``__init__`` taking the annotated fields in order (defaults, ``field(default_factory=…)``), ``__repr__``,
field-wise ``__eq__`` between instances of the same class, ``__hash__`` over the fields when frozen (none
when only comparable, as a dataclass), ``__match_args__``, and a frozen record refuses assignment.
tests/sops/test_sops_record.py holds every record of the engine equal to its dataclass twin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")
_MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """Assignment to (or deletion of) a field of a frozen record."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], _T]) -> _T:
    """A field whose default is made per instance, as ``dataclasses.field(default_factory=…)``."""
    marker: Any = _Factory(default_factory)
    return marker  # type: ignore[no-any-return]


def replace(obj: _T, **changes: object) -> _T:
    """A copy of a record with some fields changed (``dataclasses.replace``)."""
    values = {name: getattr(obj, name) for name in type(obj).__match_args__}  # type: ignore[attr-defined]
    return type(obj)(**{**values, **changes})


def _fields(cls: type) -> dict[str, Any]:
    """Field name -> default (``_MISSING``, a value or a ``_Factory``), base records' fields first."""
    found: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        found.update(base.__dict__.get("__record_fields__", {}))
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - the class's own, without importing inspect
    for name, annotation in own.items():
        if not str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            found[name] = cls.__dict__.get(name, _MISSING)
    return found


def _init(cls: type, fields: dict[str, Any]) -> Callable[..., None]:
    names = tuple(fields)
    count, keys = len(names), fields.keys()

    def __init__(self: Any, *args: object, **kwargs: object) -> None:
        if kwargs:
            if not args and kwargs.keys() == keys:  # every field by name
                self.__dict__.update(kwargs)
                return
        elif len(args) == count:  # every field in order
            self.__dict__.update(zip(names, args))  # noqa: B905 - same length
            return
        self.__dict__.update(_bind(cls, fields, args, kwargs))

    return __init__


def _bind(cls: type, fields: dict[str, Any], args: tuple[object, ...], kwargs: dict[str, object]) -> dict[str, object]:
    """The fields' values from a call that leaves some to their defaults (or is wrong: ``TypeError``)."""
    names = tuple(fields)
    if len(args) > len(names):
        raise TypeError(f"{cls.__qualname__}() takes {len(names)} positional arguments but {len(args)} were given")
    values = dict(zip(names, args))  # noqa: B905 - fewer arguments than fields
    for key, value in kwargs.items():
        if key not in fields or key in values:
            raise TypeError(f"{cls.__qualname__}() got an unexpected or repeated argument {key!r}")
        values[key] = value
    return {name: values[name] if name in values else _default(cls, name, fields[name]) for name in names}


def _default(cls: type, name: str, default: Any) -> object:
    if default is _MISSING:
        raise TypeError(f"{cls.__qualname__}() missing required argument {name!r}")
    return default.make() if isinstance(default, _Factory) else default


def _methods(cls: type, names: tuple[str, ...], frozen: bool) -> dict[str, Any]:
    parent: Any = cls  # super(parent, self): past this class, as a frozen dataclass does

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    def values(self: Any) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in names])

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)  # a tuple: identical values are equal (a NaN too), as a dataclass's

    def __hash__(self: Any) -> int:
        return hash(values(self))

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(parent, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(parent, self).__delattr__(name)

    made: dict[str, Any] = {"__repr__": __repr__, "__eq__": __eq__}
    if frozen:
        made.update(__setattr__=__setattr__, __delattr__=__delattr__)
    own_hash = cls.__dict__.get("__hash__", _MISSING)
    if own_hash is _MISSING or (own_hash is None and "__eq__" in cls.__dict__):  # no __hash__ of its own
        made["__hash__"] = __hash__ if frozen else None
    return made


@dataclass_transform(field_specifiers=(field,))
def record(*, frozen: bool = False) -> Callable[[type[_T]], type[_T]]:
    """The class decorator: ``@record()`` or ``@record(frozen=True)``."""

    def build(cls: type[_T]) -> type[_T]:
        fields = _fields(cls)
        names = tuple(fields)
        for name, default in fields.items():
            if isinstance(default, _Factory) and name in cls.__dict__:
                delattr(cls, name)
        made = {"__init__": _init(cls, fields), **_methods(cls, names, frozen)}
        for attribute, value in made.items():
            if attribute not in cls.__dict__ or attribute == "__hash__":  # __hash__: decided by _methods
                setattr(cls, attribute, value)
        cls.__record_fields__ = fields  # type: ignore[attr-defined]
        cls.__match_args__ = names  # type: ignore[attr-defined,misc]
        cls.__record_frozen__ = frozen  # type: ignore[attr-defined]
        return cls

    return build
