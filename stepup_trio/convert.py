"""The cattrs converter for msgpack, shared by the wire format and the workflow dump.

cattrs converts scalars leniently (``str(x)``, ``int(x)``, iterating a string into a list):
data that comes from another process or from disk must have the right types instead.
"""

import functools
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import cattrs
import msgpack
from cattrs.preconf.msgpack import make_converter as make_msgpack_converter
from cattrs.strategies import configure_tagged_union

from stepup_trio.core.actions import Action
from stepup_trio.core.events import Event

__all__ = ["make_converter", "pack", "shared_converter", "unpack", "unpacker"]

# Paths and environment variables may hold bytes that are not valid UTF-8. Python keeps them as
# lone surrogates (surrogateescape); msgpack must carry them through unchanged.
UNICODE_ERRORS = "surrogateescape"


def pack(obj: Any) -> bytes:
    """msgpack bytes for plain data, with str and bytes kept apart."""
    return msgpack.packb(obj, use_bin_type=True, unicode_errors=UNICODE_ERRORS)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, unicode_errors=UNICODE_ERRORS)


def unpacker(**options: Any) -> msgpack.Unpacker:
    """A streaming unpacker: msgpack is self-delimiting, so a stream is a sequence of objects."""
    options.setdefault("strict_map_key", False)
    return msgpack.Unpacker(raw=False, unicode_errors=UNICODE_ERRORS, **options)


@functools.cache
def shared_converter() -> cattrs.Converter:
    """The converter of the wire format and the journal, made once: making one takes time."""
    return make_converter()


def _is_optional(cls: Any) -> bool:
    args = get_args(cls)
    return (
        get_origin(cls) in (Union, UnionType)
        and len(args) == 2
        and NoneType in args
        and not any(get_origin(arg) in (Union, UnionType) for arg in args)
    )


def make_converter(compact: bool = False) -> cattrs.Converter:
    """A msgpack converter with strict types and the tagged unions of actions and events.

    By default, errors name the field at fault, which a reply to a bad message needs. A
    *compact* converter, for the dump, leaves out fields that have their default value and
    validates without the detail: the dump is read in bulk and only reported as a whole.
    """
    converter = make_msgpack_converter(detailed_validation=not compact, omit_if_default=compact)

    def strict(expected: type | tuple[type, ...]):
        def structure(value: Any, cls: type) -> Any:
            if type(value) is cls:
                return value
            if not isinstance(value, expected) or (
                expected is not bool and isinstance(value, bool)
            ):
                raise TypeError(f"expected {cls.__name__}, got {type(value).__name__} {value!r}")
            return cls(value)

        return structure

    for cls, expected in (
        (str, str),
        (int, int),
        (bool, bool),
        (float, (int, float)),
        (bytes, bytes),
    ):
        converter.register_structure_hook(cls, strict(expected))

    def sequence_hook(cls: Any):
        """A hook per sequence type, made once: the type is inspected here, not per value."""
        args = get_args(cls) or (Any,)
        homogeneous = get_origin(cls) is list or (len(args) == 2 and args[1] is Ellipsis)
        make = list if get_origin(cls) is list else tuple
        item_hook = converter.get_structure_hook(args[0]) if homogeneous else None
        # Lists of plain scalars (paths, names) are common in dumps: check them in one pass.
        scalar = args[0] if homogeneous and args[0] in (str, bytes) else None

        def structure(value: Any, _cls: Any) -> list | tuple:
            if not isinstance(value, list | tuple):
                raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
            if scalar is not None and all(type(element) is scalar for element in value):
                return make(value)
            if homogeneous:
                return make([item_hook(element, args[0]) for element in value])
            if len(args) != len(value):
                raise TypeError(f"expected {len(args)} items, got {len(value)}")
            return tuple(converter.structure(e, t) for e, t in zip(value, args, strict=True))

        return structure

    def dict_hook(cls: Any):
        key_type, value_type = get_args(cls) or (Any, Any)
        key_hook = converter.get_structure_hook(key_type)
        value_hook = converter.get_structure_hook(value_type)

        def structure(value: Any, _cls: Any) -> dict:
            if not isinstance(value, dict):
                raise TypeError(f"expected a map, got {type(value).__name__} {value!r}")
            return {
                key_hook(key, key_type): value_hook(element, value_type)
                for key, element in value.items()
            }

        return structure

    converter.register_structure_hook_factory(
        lambda cls: get_origin(cls) in (list, tuple), sequence_hook
    )
    converter.register_structure_hook_factory(lambda cls: get_origin(cls) is dict, dict_hook)

    def optional_hook(cls: Any):
        """``X | None`` with the hook of X looked up once, not dispatched again per value."""
        (inner,) = (arg for arg in get_args(cls) if arg is not NoneType)
        inner_hook = converter.get_structure_hook(inner)

        def structure(value: Any, _cls: Any) -> Any:
            return None if value is None else inner_hook(value, inner)

        return structure

    converter.register_structure_hook_factory(_is_optional, optional_hook)
    configure_tagged_union(Action, converter, tag_name="action")
    configure_tagged_union(Event, converter, tag_name="event")
    return converter
