"""Where settings come from, and how a bad one is reported.

Two strict sources for ``config.Settings``: the TOML file (a syntax error names the file and
line) and the environment (a ``TRADING_ENGINE_*`` variable that names no setting is an error,
with the closest valid name). ``describe`` turns a validation error into one line naming the
source, the setting, the value and the expected form, e.g.::

    environment variable TRADING_ENGINE_MARKET__PERIOD: setting 'market.period' = 'forever':
    expected a period like 5y, 60mo, 52wk, 1260d or max

(one line in practice; wrapped here).
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, TomlConfigSettingsSource

from .errors import ConfigError

ENV_PREFIX = "TRADING_ENGINE_"
CONFIG_VARIABLE = "TRADING_ENGINE_CONFIG"  # names the TOML file; not a setting itself
DEFAULT_CONFIG_FILE = "trading-engine.toml"
_SECRET_WORDS = ("token", "secret", "password", "webhook")  # values never echoed


def config_file() -> str:
    """The TOML file settings are read from; it need not exist unless named explicitly."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named and not Path(named).expanduser().is_file():
        raise ConfigError(f"{CONFIG_VARIABLE} names {named!r}, which is not a file")
    return named or DEFAULT_CONFIG_FILE


class TomlFile(TomlConfigSettingsSource):
    """The TOML file named by ``config_file()``; a syntax error names the file and the line."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, config_file())

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            return super()._read_file(file_path)
        except tomllib.TOMLDecodeError as error:  # its text ends "(at line 3, column 7)"
            raise ConfigError(f"{file_path}: not valid TOML: {error}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{file_path}: not valid TOML: not UTF-8 text") from None


class StrictEnvironment(EnvSettingsSource):
    """The environment; a ``TRADING_ENGINE_*`` variable that names no setting is an error."""

    def __call__(self) -> dict[str, Any]:
        check_environment(self.settings_cls, os.environ)
        return super().__call__()


def setting_paths(
    model: type[BaseModel], parent: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every setting's path and whether it is a section: (("retraining", "schedule"), True)."""
    for name, field in model.model_fields.items():
        path, annotation = (*parent, name), field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield path, True
            yield from setting_paths(annotation, path)
        else:
            yield path, False


def variable(path: tuple[str, ...]) -> str:
    """A setting's variable: ("data", "provider") -> TRADING_ENGINE_DATA__PROVIDER."""
    return ENV_PREFIX + "__".join(path).upper()


def check_environment(settings_cls: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` for the first ``TRADING_ENGINE_*`` variable that names no setting,
    or names a section but holds no JSON object."""
    known = {variable(path): section for path, section in setting_paths(settings_cls)}
    for name in sorted(environ):
        upper = name.upper()  # the environment source matches names in any case
        if not upper.startswith(ENV_PREFIX) or upper == CONFIG_VARIABLE:
            continue
        value = environ[name]
        setting = upper.removeprefix(ENV_PREFIX).lower().replace("__", ".")
        if upper not in known:
            # Compared without the shared prefix, which would make every name look close.
            closest = difflib.get_close_matches(
                upper.removeprefix(ENV_PREFIX), [v.removeprefix(ENV_PREFIX) for v in known], n=1
            )
            hint = (
                f"did you mean {ENV_PREFIX}{closest[0]}?"
                if closest
                else f"expected {ENV_PREFIX}<SECTION>__<NAME>, e.g. {ENV_PREFIX}MARKET__PERIOD"
            )
            raise ConfigError(
                f"environment variable {name}: no setting '{setting}' "
                f"(value {shown(setting, value, *closest)}); {hint}"
            )
        if known[upper] and value and not _is_json_object(value):
            raise ConfigError(
                f"environment variable {name}: setting '{setting}' = {shown(setting, value)}: "
                'expected a JSON object of its settings, e.g. {"name": value}'
            )


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def shown(setting: str, value: object, *near: str) -> str:
    """A value for an error message: long values cut, secrets masked (also a misspelt secret,
    whose closest valid names are ``near``)."""
    if any(word in name.lower() for name in (setting, *near) for word in _SECRET_WORDS):
        return "'***'"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Provenance:
    """Which source set which value: the arguments, the environment, the TOML file."""

    def __init__(self, overrides: Mapping[str, object], environ: Mapping[str, str]) -> None:
        self.overrides = dict(overrides)
        self.environ = {
            name.upper(): (name, value)
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX) and value  # empty ones are ignored
        }
        self.file = environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG_FILE
        path = Path(self.file).expanduser()
        # Settings were built, so the file (if any) parsed.
        self.toml = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def of(self, path: tuple[str, ...]) -> tuple[str, object | None]:
        """The source that won for the value at ``path``, and the value as written there."""
        found, value = _lookup(self.overrides, path)
        if found:
            return "load_settings() argument", value
        for length in range(len(path), 0, -1):  # the variable itself, or a section's JSON
            if variable(path[:length]) in self.environ:
                name, value = self.environ[variable(path[:length])]
                return f"environment variable {name}", value
        found, value = _lookup(self.toml, path)
        if found:
            return self.file, value
        return "defaults", None


def _lookup(tree: object, path: tuple[str, ...]) -> tuple[bool, object | None]:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return False, None
        tree = tree[key]
    return True, tree


def _expected(message: str) -> str:
    """Pydantic's message as the expected form: "Input should be X" -> "expected X"."""
    for prefix, replacement in (("Value error, ", ""), ("Input should be ", "expected ")):
        if message.startswith(prefix):
            return replacement + message[len(prefix) :]
    return message[:1].lower() + message[1:]


def needs(setting: str, message: str) -> PydanticCustomError:
    """The error of a check across a section, reported at ``setting``: the one whose value
    calls for the others (``window = "sliding"`` needs ``max_train_days``)."""
    return PydanticCustomError("needs_setting", message, {"setting": setting})


def describe(error: ValidationError, settings_cls: type[BaseModel], provenance: Provenance) -> str:
    """The first problem as one line: source, setting, value and what was expected."""
    problems = error.errors()
    first = problems[0]
    path: tuple[str, ...] = ()
    for part in first["loc"]:
        if not isinstance(part, str):  # an index into a list: report the whole list
            break
        path = (*path, part)
    if "setting" in first.get("ctx", {}):  # raised by needs()
        path = (*path, first["ctx"]["setting"])
    setting = ".".join(path) or "settings"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    if first["type"] == "extra_forbidden":
        source, value = provenance.of(path)
        siblings = [
            known[-1] for known, _ in setting_paths(settings_cls) if known[:-1] == path[:-1]
        ]
        closest = difflib.get_close_matches(path[-1], siblings, n=1)
        if closest:
            hint = f"did you mean '{'.'.join((*path[:-1], closest[0]))}'?"
        else:
            where = f" of [{'.'.join(path[:-1])}]" if len(path) > 1 else ""
            hint = f"expected one of the settings{where}: {', '.join(siblings)}"
        value_shown = shown(setting, value, *closest)
        return f"{source}: no setting '{setting}' (value {value_shown}); {hint}{more}"
    source, value = provenance.of(path)
    received = first.get("input") if value is None else value
    if path and isinstance(received, dict) and path[-1] in received:  # needs(): section values
        received = received[path[-1]]
    return (
        f"{source}: setting '{setting}' = {shown(setting, received)}: "
        f"{_expected(first['msg'])}{more}"
    )
