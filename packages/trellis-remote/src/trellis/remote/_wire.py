"""The wire contract: how a remotable hook's arguments and result cross HTTP.

Everything is derived from the hookspec's type hints, never from the values themselves, so
both sides agree on the shape without negotiating, and nothing but JSON ever crosses (no
pickle). What can be carried:

* JSON values: ``str``, ``int``, ``float``, ``bool``, ``None``; ``list[T]``,
  ``tuple[T, ...]``, ``Sequence[T]``, ``dict[str, T]``, ``T | None``;
* ``datetime`` (ISO 8601, timezone-aware only) and dataclasses whose fields are carried;
* one ``BinaryIO`` argument: the raw request body, streamed;
* a ``BinaryIO`` result: the raw response body, streamed;
* an ``Iterator[T]`` result: streamed as lines of JSON (NDJSON), closed by an end line that
  counts them, so a listing cut short is noticed.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Literal

from trellis.core import Contract, remote_options

from ._errors import CannotCarry, WireError

ResultKind = Literal["json", "stream", "lines"]


class Codec:
    """Turns values of one type into JSON and back, refusing anything of another type."""

    label = "value"

    def encode(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def decode(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def _wrong(self, value: Any, where: str) -> WireError:
        return WireError(f"{where}: expected {self.label}, got {type(value).__name__}")


class _Scalar(Codec):
    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.label = kind.__name__

    def encode(self, value: Any, where: str) -> Any:
        return self.decode(value, where)

    def decode(self, value: Any, where: str) -> Any:
        if self.kind is float and type(value) is int:
            return float(value)
        if type(value) is not self.kind:  # bool is not an int here, nor an int a bool
            raise self._wrong(value, where)
        return value


class _NoneCodec(Codec):
    label = "None"

    def encode(self, value: Any, where: str) -> Any:
        return self.decode(value, where)

    def decode(self, value: Any, where: str) -> Any:
        if value is not None:
            raise self._wrong(value, where)
        return None


class _DateTime(Codec):
    label = "timezone-aware datetime"

    def encode(self, value: Any, where: str) -> Any:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self._wrong(value, where)
        return value.isoformat()

    def decode(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            raise self._wrong(value, where)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise WireError(f"{where}: {value[:40]!r} is not an ISO 8601 datetime") from None
        if parsed.tzinfo is None:
            raise WireError(f"{where}: datetime {value[:40]!r} has no timezone")
        return parsed


class _Optional(Codec):
    def __init__(self, inner: Codec) -> None:
        self.inner = inner
        self.label = f"{inner.label} or None"

    def encode(self, value: Any, where: str) -> Any:
        return None if value is None else self.inner.encode(value, where)

    def decode(self, value: Any, where: str) -> Any:
        return None if value is None else self.inner.decode(value, where)


class _List(Codec):
    def __init__(self, item: Codec, *, as_tuple: bool = False) -> None:
        self.item = item
        self.as_tuple = as_tuple
        self.label = f"list of {item.label}"

    def encode(self, value: Any, where: str) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, collections.abc.Sequence):
            raise self._wrong(value, where)
        return [self.item.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def decode(self, value: Any, where: str) -> Any:
        if not isinstance(value, list):
            raise self._wrong(value, where)
        items = [self.item.decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if self.as_tuple else items


class _Dict(Codec):
    def __init__(self, value: Codec) -> None:
        self.value = value
        self.label = f"dict of str to {value.label}"

    def encode(self, value: Any, where: str) -> Any:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self._wrong(value, where)
        return {k: self.value.encode(v, f"{where}[{k!r}]") for k, v in value.items()}

    def decode(self, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise self._wrong(value, where)
        return {k: self.value.decode(v, f"{where}[{k!r}]") for k, v in value.items()}


class _Dataclass(Codec):
    def __init__(self, cls: type, fields: dict[str, Codec]) -> None:
        self.cls = cls
        self.fields = fields
        self.label = cls.__name__

    def encode(self, value: Any, where: str) -> Any:
        if type(value) is not self.cls:
            raise self._wrong(value, where)
        return {
            name: codec.encode(getattr(value, name), f"{where}.{name}")
            for name, codec in self.fields.items()
        }

    def decode(self, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise self._wrong(value, where)
        if set(value) != set(self.fields):
            missing = sorted(set(self.fields) - set(value))
            extra = sorted(set(value) - set(self.fields))
            raise WireError(
                f"{where}: {self.label} fields differ (missing {missing}, unexpected {extra})"
            )
        return self.cls(**{n: c.decode(value[n], f"{where}.{n}") for n, c in self.fields.items()})


_SCALARS = (str, int, float, bool)


def codec_for(hint: Any, where: str) -> Codec:
    """The codec of a type hint, or :class:`CannotCarry` naming what cannot cross."""
    if hint is type(None) or hint is None:
        return _NoneCodec()
    if hint in _SCALARS:
        return _Scalar(hint)
    if hint is datetime:
        return _DateTime()
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return _Optional(codec_for(others[0], where))
    elif origin in (list, collections.abc.Sequence) and len(args) == 1:
        return _List(codec_for(args[0], where))
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _List(codec_for(args[0], where), as_tuple=True)
    elif origin in (dict, collections.abc.Mapping) and len(args) == 2 and args[0] is str:
        return _Dict(codec_for(args[1], where))
    elif origin is None and dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        return _Dataclass(
            hint,
            {
                f.name: codec_for(hints[f.name], f"{where}.{f.name}")
                for f in dataclasses.fields(hint)
            },
        )
    raise CannotCarry(
        f"{where} has type {hint!r}, which trellis-remote cannot carry: use JSON values, "
        "datetime, dataclasses of those, one BinaryIO argument, or a BinaryIO or Iterator result"
    )


def _is_stream(hint: Any) -> bool:
    return hint is BinaryIO or hint is typing.IO[bytes]


_ITERATORS = (
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
)


@dataclass(frozen=True)
class HookShape:
    """How one remotable hook crosses the wire."""

    name: str
    contract: str
    params: tuple[str, ...]
    codecs: Mapping[str, Codec]
    """Codec of every parameter but the stream one."""
    stream_param: str | None
    result: ResultKind
    result_codec: Codec | None
    """The result's codec (``json``) or the codec of each item (``lines``)."""
    safe: bool

    def encode_args(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON arguments (every one but the stream)."""
        return {
            name: codec.encode(kwargs[name], f"argument {name!r} of {self.name}")
            for name, codec in self.codecs.items()
        }

    def decode_args(self, sent: Any) -> dict[str, Any]:
        """Arguments from their JSON, each checked against its type.

        :raises WireError: a missing, unexpected or mistyped argument, named.
        """
        if not isinstance(sent, dict):
            raise WireError(f"arguments of {self.name} must be a JSON object")
        if set(sent) != set(self.codecs):
            missing = sorted(set(self.codecs) - set(sent))
            extra = sorted(set(sent) - set(self.codecs))
            raise WireError(
                f"arguments of {self.name} differ from its hookspec "
                f"(missing {missing}, unexpected {extra})"
            )
        return {
            name: codec.decode(sent[name], f"argument {name!r} of {self.name}")
            for name, codec in self.codecs.items()
        }


def shape_of(function: Callable[..., Any], contract: Contract) -> HookShape:
    """The wire shape of the remotable hookspec ``function``.

    :raises CannotCarry: the hook is not remotable, or a type in it cannot cross the wire.
    """
    name = function.__name__
    options = remote_options(function)
    if options is None:
        raise CannotCarry(f"hook {name!r} of contract {contract.name!r} is not marked @remotable")
    try:
        hints = typing.get_type_hints(function)
    except Exception as exc:
        raise CannotCarry(f"the type hints of {name!r} cannot be resolved: {exc}") from None
    params = tuple(inspect.signature(function).parameters)
    codecs: dict[str, Codec] = {}
    stream_param = None
    for param in params:
        if param not in hints:
            raise CannotCarry(f"argument {param!r} of {name!r} has no type hint")
        if _is_stream(hints[param]):
            if stream_param is not None:
                raise CannotCarry(f"{name!r} takes two streams; the wire carries one")
            stream_param = param
        else:
            codecs[param] = codec_for(hints[param], f"argument {param!r} of {name!r}")
    returned = hints.get("return", type(None))
    result: ResultKind
    result_codec: Codec | None
    if _is_stream(returned):
        result, result_codec = "stream", None
    elif typing.get_origin(returned) in _ITERATORS:
        item = typing.get_args(returned)[0] if typing.get_args(returned) else Any
        result, result_codec = "lines", codec_for(item, f"each item {name!r} yields")
    else:
        result, result_codec = "json", codec_for(returned, f"the result of {name!r}")
    return HookShape(
        name=name,
        contract=contract.name,
        params=params,
        codecs=codecs,
        stream_param=stream_param,
        result=result,
        result_codec=result_codec,
        safe=bool(options.get("safe")),
    )


def remotable_shapes(module: types.ModuleType, contract: Contract) -> dict[str, HookShape]:
    """Every remotable provider hook of a hookspec module, by name.

    :raises CannotCarry: a remotable hook is not a provider hook, or cannot cross the wire.
    """
    shapes: dict[str, HookShape] = {}
    for attr in sorted(vars(module)):
        function = getattr(module, attr)
        if not callable(function) or remote_options(function) is None:
            continue
        spec_options = getattr(function, "trellis_spec", None) or {}
        if not spec_options.get("firstresult"):
            raise CannotCarry(
                f"{attr!r} is marked @remotable but is not a provider hook (firstresult): "
                "only the selected provider's answer can be carried"
            )
        shapes[attr] = shape_of(function, contract)
    return shapes


def client_range(contract: Contract) -> str:
    """The versions of ``contract`` a client built against it can call.

    A service must run the same major version at this minor version or later: it then has
    every hook the client knows, with the meaning the client expects.
    """
    major, minor, _ = contract.version.split(".")
    return f">={major}.{minor},<{int(major) + 1}"
