"""Every ``@record`` class of the sops engine behaves as its ``@dataclass`` twin (same ``frozen``): the
same fields in the same order with the same defaults (a fresh one per instance from a factory), the same
``repr``, equality (field by field, same class only; identical values equal, a NaN too), hash (frozen) or
none (mutable), refusal to assign or delete a field of a frozen instance, the same ``TypeError`` cases,
``__match_args__`` and ``replace``. Records exist so that a one-file decrypt does not import
``dataclasses`` (issue 19, item 6; tests/sops/test_sops_decrypt_startup.py holds the import)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

import generator.sops
from generator.sops import record as rec


def _records() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(generator.sops.__path__, "generator.sops."):
        if info.name.endswith("azure_kv"):
            continue  # imports azure.* (tests/sops cover it with the emulator)
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and "__record_fields__" in value.__dict__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


RECORDS = _records()
ON_THE_DECRYPT_PATH = {
    "generator.sops.aead.EncValue",
    "generator.sops.engine.Opened",
    "generator.sops.flags.EncryptFlags",
    "generator.sops.keys.KeyOptions",
    "generator.sops.keys.kinds.KeyKind",
    "generator.sops.keys.kinds.KindOption",
    "generator.sops.metadata.KeyEntry",
    "generator.sops.metadata.Metadata",
    "generator.sops.report.Report",
    "generator.sops.rules.CreationRule",
    "generator.sops.rules.SopsRules",
    "generator.sops.stores.yaml_emit.Fits",
    "generator.sops.tree.Selection",
    "generator.sops.tree.Unauthenticated",
    "generator.sops.values.Comment",
    "generator.sops.values.GoTime",
    "generator.sops.values.SeqComment",
}


def test_the_engine_classes_a_decrypt_loads_are_records() -> None:
    assert {f"{cls.__module__}.{cls.__qualname__}" for cls in RECORDS} >= ON_THE_DECRYPT_PATH


def _twin(cls: type) -> type:
    """The dataclass the record stands for: the same fields, defaults and ``frozen``."""
    fields: list[Any] = []
    for name, default in cls.__record_fields__.items():  # type: ignore[attr-defined]
        if isinstance(default, rec._Factory):
            fields.append((name, object, dataclasses.field(default_factory=default.make)))
        elif default is rec._MISSING:
            fields.append((name, object))
        else:
            fields.append((name, object, dataclasses.field(default=default)))
    twin: type = dataclasses.make_dataclass(cls.__name__, fields, frozen=cls.__record_frozen__)  # type: ignore[attr-defined]
    twin.__qualname__ = cls.__qualname__
    return twin


def _raises(make: Callable[[], object]) -> type[BaseException] | None:
    try:
        make()
    except TypeError:
        return TypeError
    return None


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__qualname__)
def test_a_record_behaves_as_its_dataclass(cls: type) -> None:
    twin = _twin(cls)
    names: tuple[str, ...] = cls.__match_args__  # type: ignore[attr-defined]
    assert names == twin.__match_args__  # type: ignore[attr-defined]
    given = [f"value-{i}" for i in range(len(names))]
    ours, theirs = cls(*given), twin(*given)
    assert repr(ours) == repr(theirs)
    assert repr(cls(**dict(zip(names, given, strict=True)))) == repr(ours)
    required = {n: "r" for n, d in cls.__record_fields__.items() if d is rec._MISSING}  # type: ignore[attr-defined]
    assert repr(cls(**required)) == repr(twin(**required))  # the defaults
    nan = float("nan")
    for other in ([*given[:-1], "changed"], given, [nan, *given[1:]]):
        assert (ours == cls(*other)) is (theirs == twin(*other)), other
    same = cls(nan, *given[1:])
    assert same == same  # noqa: PLR0124 - the identity shortcut of a tuple comparison, as a dataclass's
    assert ours.__eq__(theirs) is NotImplemented and theirs.__eq__(ours) is NotImplemented
    assert (cls.__hash__ is None) is (twin.__hash__ is None)
    if cls.__hash__ is not None:
        assert hash(ours) == hash(theirs)
    for args, kwargs in (([*given, "extra"], {}), ([], {"not_a_field": 1, **required}), ([], {names[0]: 1, "_": 2})):
        assert _raises(partial(cls, *args, **kwargs)) is _raises(partial(twin, *args, **kwargs)) is TypeError
    if required:
        assert _raises(cls) is _raises(twin) is TypeError
    _same_mutability(ours, theirs, names[0], cls.__record_frozen__)  # type: ignore[attr-defined]
    assert repr(rec.replace(ours, **{names[-1]: "new"})) == repr(dataclasses.replace(theirs, **{names[-1]: "new"}))


def _same_mutability(ours: object, theirs: object, name: str, frozen: bool) -> None:
    if frozen:
        for obj in (ours, theirs):
            with pytest.raises(AttributeError, match=f"^cannot assign to field '{name}'$"):
                setattr(obj, name, 1)
            with pytest.raises(AttributeError, match=f"^cannot delete field '{name}'$"):
                delattr(obj, name)
        return
    setattr(ours, name, "set")
    setattr(theirs, name, "set")
    assert repr(ours) == repr(theirs)


def test_a_default_factory_makes_a_new_value_per_instance() -> None:
    @rec.record()
    class Box:
        items: list[int] = rec.field(default_factory=list)

    first, second = Box(), Box()
    first.items.append(1)
    assert second.items == [] and Box().items is not Box().items
    assert "items" not in Box.__dict__  # as a dataclass: no shared class attribute for a factory field


def test_a_class_keeps_methods_it_defines() -> None:
    @rec.record(frozen=True)
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __hash__(self) -> int:
            return 7

    assert repr(Named("a")) == "<a>" and hash(Named("a")) == 7 and Named("a") == Named("a")
