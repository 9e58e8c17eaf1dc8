"""Editable message templates: one sandboxed mechanism for every output kind's messages.

A channel class names its message parts in ``templates`` (:class:`TemplateSlot`: the config key holding a custom
template, the default template file under ``templates/messages/<kind>/``, and the part's *format*). A part left
empty uses the default file, unchanged; a custom one is rendered here, in a sandbox:

- Text formats (``text``, ``html``, ``slack``, ``teams``) use Django's template language in an engine of their own:
  no template loader (only the shared ``messages/_event.txt`` partial can be included), no ``{% debug %}``,
  ``{% url %}``, ``{% lorem %}`` or padding filters, the ``message_format`` filters, and loops nested at most
  :data:`MAX_LOOP_DEPTH` deep. Templates see only the plain data of :meth:`MessageContext.as_dict` (strings,
  numbers, lists, dicts, dates): no model, and only the documented names (:data:`TEMPLATE_VARIABLES`).
- Escaping fits the format: ``html`` (email HTML, Telegram) HTML-escapes every value (``|safe`` and
  ``{% autoescape off %}`` are not available); ``slack`` and ``teams`` pass every value through their filter
  (``|slack``, ``|teams``) unless the template already does; ``text`` inserts values as they are.
- The ``json`` format (webhook bodies) is JSON with placeholders — ``$name``, ``${name}`` or KCS's ``$$name$$`` —
  replaced by JSON: outside a string by the value's JSON (strings quoted), inside a string by the JSON-escaped
  text, so the body stays valid JSON whatever an event holds. ``$$`` alone is a literal dollar sign.

:func:`check` is the one validation (integration forms, hence the screens, the API and the admin): a template that
does not compile, names an undocumented variable or fails on sample data is refused with its line.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.template import Engine, Node, TemplateSyntaxError
from django.template.base import FilterExpression, Variable, VariableNode
from django.template.defaultfilters import register as default_filters
from django.template.defaulttags import FirstOfNode, ForNode, do_for
from django.template.defaulttags import register as default_tags
from django.template.loader_tags import register as loader_tags

from kcs import bounds
from notifications.templatetags import message_format

FORMATS = ("text", "html", "slack", "teams", "json")
MAX_LENGTH = 20000  # characters of one template
MAX_LOOP_DEPTH = 2  # {% for %} inside {% for %} at most: events × counts, not events³
MAX_OUTPUT = 1_000_000  # characters one rendered part may have
MAX_ITERATIONS = 2000  # loop turns of one render, all loops together (events × counts is 300 at most)
EVENT_PARTIAL = "messages/_event.txt"

# Tags and filters of the sandbox: Django's own, minus those that reach outside the message (url, debug, csrf_token),
# make output of any size from a number (lorem, center, ljust, rjust, stringformat) or show an object's inside
# (pprint); html templates also lose the ways out of escaping.
_TAGS = (
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "regroup",
    "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with", "load",
)  # fmt: skip
_UNSAFE_FILTERS = {"center", "ljust", "rjust", "stringformat", "pprint", "floatformat"}
_UNESCAPING_FILTERS = {"safe", "safeseq"}
_FORMAT_FILTER: dict[str, Callable[[Any], str]] = {"slack": message_format.slack, "teams": message_format.teams}
# What a sample render leaves where a name does not resolve (only while checking).
_INVALID = "\x00invalid:%s\x00"
_INVALID_FOUND = re.compile("\x00invalid:([^\x00]*)\x00")


@dataclass(frozen=True)
class TemplateSlot:
    """One editable part of a kind's messages: ``key`` in the integration's config, the default ``file`` under
    ``templates/messages/<kind>/``, what people call it, and its ``format`` (one of :data:`FORMATS`)."""

    key: str
    file: str
    label: str
    format: str


class TemplateFailed(Exception):
    """A template that cannot be used; ``message`` says why, with the line (``Line 3: …``) when known."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _BoundedForNode(ForNode):
    """``{% for %}`` that counts its turns against :data:`MAX_ITERATIONS` for the whole render, so nested loops over
    long values (a title's characters) cannot make a message of gigabytes."""

    def render(self, context):
        values = self.sequence.resolve(context, ignore_failures=True)
        turns = getattr(context, "loop_turns", 0) + (len(values) if hasattr(values, "__len__") else 0)
        if turns > MAX_ITERATIONS:
            raise TemplateFailed(f"The loops go round more than {MAX_ITERATIONS} times in all.")
        context.loop_turns = turns
        return super().render(context)


def _bounded_for(parser, token) -> ForNode:
    node = do_for(parser, token)
    node.__class__ = _BoundedForNode
    return node


# --- the sandbox engines --------------------------------------------------------------------------------------------
def _library(html: bool) -> template.Library:
    library = template.Library()
    for name in _TAGS:
        if html and name == "autoescape":
            continue
        library.tags[name] = default_tags.tags[name]
    library.tags["include"] = loader_tags.tags["include"]
    library.tags["for"] = _bounded_for
    for name, function in default_filters.filters.items():
        if name in _UNSAFE_FILTERS or (html and name in _UNESCAPING_FILTERS):
            continue
        library.filters[name] = function
    library.filters.update(message_format.register.filters)
    return library


class _SandboxEngine(Engine):
    """An engine whose builtins are the sandbox's library only (Django's engine adds its own defaults)."""

    def __init__(self, library: template.Library, **kwargs):
        super().__init__(**kwargs)
        self.template_builtins = [library]
        # {% load message_format %} (as in the defaults) loads the same filters, already there.
        self.template_libraries = {"message_format": message_format.register}


@functools.cache
def _partials() -> dict[str, str]:
    return {EVENT_PARTIAL: (Path(settings.BASE_DIR) / "templates" / EVENT_PARTIAL).read_text()}


@functools.cache
def _engine(fmt: str, checking: bool) -> Engine:
    html = fmt == "html"
    return _SandboxEngine(
        _library(html),
        autoescape=html,
        debug=True,  # compile errors carry their line
        loaders=[("django.template.loaders.locmem.Loader", _partials())],
        string_if_invalid=_INVALID if checking else "",
    )


def _line_of(exc: Exception, source: str) -> str:
    info = getattr(exc, "template_debug", None)
    message = str(exc).replace("\x00", "")
    if info and info.get("line"):
        return f"Line {info['line']}: {message}"
    return message


def _compile(source: str, fmt: str, checking: bool = False) -> template.Template:
    try:
        compiled = _engine(fmt, checking).from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateFailed(_line_of(exc, source)) from None
    if fmt in _FORMAT_FILTER:
        _escape_outputs(compiled.nodelist, _FORMAT_FILTER[fmt])
    return compiled


def _escape_outputs(nodelist, escape: Callable[[Any], str]) -> None:
    """Put the format's filter at the end of every value a template writes, unless it is there already."""
    for node in _walk(nodelist):
        expressions = [node.filter_expression] if isinstance(node, VariableNode) else []
        if isinstance(node, FirstOfNode):
            expressions = list(node.vars)
        for expression in expressions:
            if not expression.filters or expression.filters[-1][0] is not escape:
                expression.filters.append((escape, []))


def _walk(nodelist, depth: int = 0) -> Iterator[Node]:
    for node in nodelist:
        yield node
        for attr in getattr(node, "child_nodelists", ()):
            child = getattr(node, attr, None)
            if child:
                yield from _walk(child, depth)
        if hasattr(node, "conditions_nodelists"):  # {% if %}: its branches are not in child_nodelists
            for _, child in node.conditions_nodelists:
                yield from _walk(child, depth)


def _loop_depth(nodelist) -> int:
    deepest = 0
    for node in nodelist:
        children = [getattr(node, attr, None) for attr in getattr(node, "child_nodelists", ())]
        children += [child for _, child in getattr(node, "conditions_nodelists", ())]
        inner = max((_loop_depth(child) for child in children if child), default=0)
        deepest = max(deepest, inner + (1 if isinstance(node, ForNode) else 0))
    return deepest


def _expressions(value: Any) -> Iterator[Variable]:
    """The variables an attribute of a node refers to (filter arguments and {% if %} operands included)."""
    if isinstance(value, FilterExpression):
        if isinstance(value.var, Variable):
            yield value.var
        for _, args in value.filters:
            for _, arg in args:
                if isinstance(arg, Variable):
                    yield arg
    elif isinstance(value, Variable):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)
    elif hasattr(value, "first") or hasattr(value, "value"):  # {% if %} operators and literals (smartif)
        for name in ("first", "second", "value"):
            yield from _expressions(getattr(value, name, None))


def _names(nodelist) -> tuple[dict[str, int | None], set[str]]:
    """(names the template reads, each with the first line reading it; names it binds itself: loop variables,
    {% with %}, "as" names)."""
    used: dict[str, int | None] = {}
    bound: set[str] = {"forloop", "block"}
    for node in _walk(nodelist):
        line = getattr(getattr(node, "token", None), "lineno", None)
        for attr, value in vars(node).items():
            if attr in ("nodelist", "token", "origin"):
                continue
            found = list(_expressions(value))
            if attr == "conditions_nodelists":
                found = [variable for condition, _ in value for variable in _expressions(condition)]
            for variable in found:
                if variable.lookups:
                    used.setdefault(variable.lookups[0], line)
        bound.update(getattr(node, "loopvars", ()) or ())
        bound.update((getattr(node, "extra_context", None) or {}).keys())
        for attr in ("var_name", "variable_name", "asvar"):
            if isinstance(getattr(node, attr, None), str):
                bound.add(getattr(node, attr))
    return used, bound


# --- rendering --------------------------------------------------------------------------------------------------------
def render(source: str, fmt: str, data: dict[str, Any]) -> str:
    """``source`` (a template of format ``fmt``) rendered with ``data``; raises :class:`TemplateFailed`."""
    if fmt == "json":
        return render_json(source, data)
    compiled = _compile(source, fmt)
    try:
        text = compiled.render(template.Context(data, autoescape=fmt == "html"))
    except Exception as exc:  # a filter failing on unusual data, a loop bound: say where, like a compile error
        raise TemplateFailed(_line_of(exc, source)) from None
    if len(text) > MAX_OUTPUT:
        raise TemplateFailed(f"The message is longer than {MAX_OUTPUT} characters.")
    return text


_PLACEHOLDER = re.compile(r"\$\$([a-z_]+)\$\$|\$\$|\$\{([a-z_]+)\}|\$([a-z_]+)")


def _placeholders(source: str) -> Iterator[tuple[re.Match, bool]]:
    """Each placeholder of a JSON template with whether it stands inside a JSON string."""
    index, in_string, length = 0, False, len(source)
    while index < length:
        char = source[index]
        if char == "$":
            match = _PLACEHOLDER.match(source, index)
            if match:
                yield match, in_string
                index = match.end()
                continue
        elif char == "\\" and in_string:
            index += 2
            continue
        elif char == '"':
            in_string = not in_string
        index += 1


def _name(match: re.Match) -> str | None:
    return match.group(1) or match.group(2) or match.group(3)


def json_names(source: str) -> set[str]:
    """The variable names a JSON template uses."""
    return {name for match, _ in _placeholders(source) if (name := _name(match))}


def render_json(source: str, values: dict[str, Any]) -> str:
    """``source`` with each placeholder replaced: by the value's JSON outside a string, by its JSON-escaped text
    inside one (a string value as it is, anything else as its JSON). Unknown names raise :class:`TemplateFailed`."""
    out, last = [], 0
    for match, in_string in _placeholders(source):
        out.append(source[last : match.start()])
        last = match.end()
        name = _name(match)
        if name is None:
            out.append("$")
            continue
        if name not in values:
            raise TemplateFailed(f"Unknown variable: {name}.")
        value = values[name]
        if in_string:
            out.append(json.dumps(value if isinstance(value, str) else json.dumps(value))[1:-1])
        else:
            out.append(json.dumps(value))
    out.append(source[last:])
    return "".join(out)


# --- validation --------------------------------------------------------------------------------------------------------
def check(source: str, fmt: str, known: list[str], samples: list[dict[str, Any]]) -> None:
    """Raise :class:`TemplateFailed` unless ``source`` compiles, reads only ``known`` names (and the fields the
    documentation lists under them) and renders each of ``samples`` (for ``json``: to valid JSON)."""
    if len(source) > MAX_LENGTH:
        raise TemplateFailed(f"A template has at most {MAX_LENGTH} characters.")
    if fmt == "json":
        _check_json(source, known, samples)
        return
    compiled = _compile(source, fmt, checking=True)
    used, bound = _names(compiled.nodelist)
    unknown = sorted(set(used) - set(known) - bound, key=lambda name: (used[name] or 0, name))
    if unknown:
        line = used[unknown[0]]
        raise TemplateFailed(
            f"{f'Line {line}: ' if line else ''}Unknown variable{'s' if len(unknown) > 1 else ''}: "
            f"{', '.join(unknown)}. Available: {', '.join(known)}."
        )
    if _loop_depth(compiled.nodelist) > MAX_LOOP_DEPTH:
        raise TemplateFailed(f"Loops may be nested at most {MAX_LOOP_DEPTH} deep.")
    for data in samples:
        try:
            text = compiled.render(template.Context(data, autoescape=fmt == "html"))
        except Exception as exc:
            raise TemplateFailed(_line_of(exc, source)) from None
        missing = _INVALID_FOUND.search(text)
        if missing:
            raise TemplateFailed(f"{_line_where(source, missing.group(1))}Unknown variable: {missing.group(1)}.")


def _line_where(source: str, expression: str) -> str:
    """``"Line N: "`` of the first line naming ``expression`` (the name a sample render could not resolve)."""
    for number, line in enumerate(source.splitlines(), start=1):
        if expression in line:
            return f"Line {number}: "
    return ""


def _check_json(source: str, known: list[str], samples: list[dict[str, Any]]) -> None:
    unknown = sorted(json_names(source) - set(known))
    if unknown:
        raise TemplateFailed(
            f"Unknown variables: {', '.join(f'${name}' for name in unknown)}. "
            f"Available: {', '.join(f'${name}' for name in known)}."
        )
    for values in samples:
        try:
            bounds.loads(render_json(source, values))
        except json.JSONDecodeError as exc:
            # Values replace placeholders on their line (their JSON has no line break): the line is the template's.
            raise TemplateFailed(
                f"Line {exc.lineno}: the body is not valid JSON once variables are replaced: {exc.msg}."
            ) from None
        except bounds.JSONTooDeep as exc:  # Python's own parser would give up with a RecursionError
            raise TemplateFailed(f"The body template: {exc.message}") from None
