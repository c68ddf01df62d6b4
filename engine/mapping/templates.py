"""Jinja templates and expressions, compiled once when a mapping loads.

A string containing ``{{`` is a template. A string that is exactly one ``{{ expr }}`` compiles
to a native expression, so it yields the value's own type (dict, int, None...) without text
round-trips; an expression that yields an undefined name gives ``None``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import jinja2
from jinja2 import meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import TemplateSyntaxError
from jinja2.parser import Parser

from engine.mapping import code_cache

__all__ = ["ENV", "compile_template", "compile_expression", "compile_leaf", "is_template"]

_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)
_NUMBER_AFTER_CACHE: dict[tuple[str, str], float | None] = {}


def _number_after(value: Any, prefix: str) -> float | None:
    """``'gemini-2.5-flash' | number_after('gemini-')`` -> 2.5; None when no number follows."""
    key = (str(value), prefix)
    if key not in _NUMBER_AFTER_CACHE:
        text = key[0]
        i = text.find(prefix)
        number = None
        if i >= 0:
            m = re.match(r"\d+(?:\.\d+)?", text[i + len(prefix):])
            if m:
                number = float(m.group(0))
        _NUMBER_AFTER_CACHE[key] = number
    return _NUMBER_AFTER_CACHE[key]


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja's environment with a faster ``a.b`` on plain dicts, the same answers.

    Jinja reads ``a.b`` as ``getattr(a, "b")`` first and ``a["b"]`` after an AttributeError; on a
    plain dict that getattr can only succeed for dict's own attribute names, so for every other
    name the key is read directly, without raising and catching an AttributeError (about 1 µs
    per dot in the mappings' templates).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and type(attribute) is str and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    # Compiled code is kept between starts (engine/mapping/code_cache.py). Jinja looks filter and
    # test names up while generating code, so they are part of the key: a template using a
    # filter that is gone is compiled again and fails as it would have.
    def _code_key(self, kind: str, source: str) -> bytes:
        return code_cache.key(kind, source, "\0".join(sorted(self.filters)), "\0".join(sorted(self.tests)),
                              self.undefined.__name__, repr(self.autoescape), repr(self.keep_trailing_newline),
                              repr(self.trim_blocks), repr(self.lstrip_blocks), repr(self.optimized),
                              repr(sorted(self.extensions)), repr((self.block_start_string, self.variable_start_string,
                                                                   self.comment_start_string, self.newline_sequence)))

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                defer_init: bool = False) -> Any:
        if raw or not isinstance(source, str):
            return super().compile(source, name, filename, raw, defer_init)
        digest = self._code_key(f"template {name} {filename} {defer_init}", source)
        code = code_cache.lookup(digest)
        if code is None:
            code = super().compile(source, name, filename, raw, defer_init)
            code_cache.store(digest, code)
        return code

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> TemplateExpression:
        digest = self._code_key("expression", source)
        code = code_cache.lookup(digest)
        if code is None:
            # jinja2.Environment.compile_expression, keeping the code object
            parser = Parser(self, source, state="variable")
            try:
                expr = parser.parse_expression()
                if not parser.stream.eos:
                    raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
                expr.set_environment(self)
            except TemplateSyntaxError:
                self.handle_exception(source=source)
            code = super().compile(nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1))
            code_cache.store(digest, code)
        template = self.template_class.from_code(self, code, self.make_globals(None), None)
        return TemplateExpression(template, undefined_to_none)


ENV = _Environment(
    undefined=jinja2.ChainableUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)
ENV.filters["number_after"] = _number_after


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def compile_expression(expr: str) -> Callable[[dict[str, Any]], Any]:
    """Compile a Jinja expression (no braces); the callable returns a native value or None."""
    template = ENV.compile_expression(expr, undefined_to_none=True)._template
    # Only the names the expression reads are handed to Jinja: its context is built per call.
    digest = ENV._code_key("names", expr)  # what the expression's text reads: kept with the code
    read = code_cache.lookup(digest)
    if read is None:
        parsed = ENV.parse("{{ " + expr + " }}")
        read = (tuple(meta.find_undeclared_variables(parsed)), tuple({n.name for n in parsed.find_all(jinja2.nodes.Name)}))
        code_cache.store(digest, read)
    names = read[0]  # (Jinja's globals are not among them)
    # Jinja's globals the expression reads (range, dict, namespace...), as a context would hold.
    global_names = {n: ENV.globals[n] for n in read[1] if n in ENV.globals}
    context_class, render, name = ENV.context_class, template.root_render_func, template.name
    undefined = jinja2.Undefined

    def evaluate(variables: dict[str, Any]) -> Any:
        # What TemplateExpression.__call__ does, with a context over one plain dict of the names
        # read instead of a merge of the variables into a ChainMap of the globals (the context's
        # own copy of the globals' names only serves template imports, which expressions lack).
        scope = {**global_names, **{k: variables[k] for k in names if k in variables}}
        context = context_class(ENV, scope, name, {})
        for _ in render(context):
            pass
        value = context.vars["result"]
        return None if isinstance(value, undefined) else value

    return evaluate


_DOTTED = re.compile(r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*$")


def _slow_lookup(variables: dict[str, Any], first: str, rest: list[str]) -> Any:
    value = variables.get(first)
    for key in rest:
        if isinstance(value, dict):
            value = value.get(key)
        else:
            value = getattr(value, key, None) if value is not None else None
        if value is None:
            return None
    return value


def _dotted_lookup(path: str) -> Callable[[dict[str, Any]], Any]:
    """``{{ a.b.c }}`` without Jinja: the same value (None when missing), several times faster."""
    first, *rest = path.split(".")
    if not rest:
        return lambda variables: variables.get(first)
    if len(rest) == 1:
        (second,) = rest

        def lookup2(variables: dict[str, Any]) -> Any:
            value = variables.get(first)
            if type(value) is dict:
                return value.get(second)
            return getattr(value, second, None) if value is not None else None

        return lookup2
    if len(rest) == 2:
        second, third = rest

        def lookup3(variables: dict[str, Any]) -> Any:
            value = variables.get(first)
            if type(value) is dict:
                value = value.get(second)
                if type(value) is dict:
                    return value.get(third)
            return _slow_lookup(variables, first, rest)

        return lookup3

    def lookup(variables: dict[str, Any]) -> Any:
        return _slow_lookup(variables, first, rest)

    return lookup


# `{{ a.b | name }}` or `{{ a.b | name('literal' or c.d) }}` with one of the engine's own filters:
# called directly, without a Jinja context (the common per-part case, an order of magnitude faster).
_FILTER_CALL = re.compile(
    r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\|\s*([A-Za-z_]\w*)\s*"
    r"(?:\(\s*(?:'([^'\\]*)'|([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*))\s*\))?\s*$"
)
_KEYWORDS = ("true", "false", "none", "True", "False", "None")
#: Filters registered by the engine (plain functions of their arguments), eligible for the fast path.
FAST_FILTERS: dict[str, Callable[..., Any]] = {}


def _filter_call(m: re.Match[str]) -> Callable[[dict[str, Any]], Any] | None:
    path, name, literal, arg_path = m.groups()
    fn = FAST_FILTERS.get(name)
    if fn is None or path.split(".")[0] in _KEYWORDS or (arg_path and arg_path.split(".")[0] in _KEYWORDS):
        return None
    value = _dotted_lookup(path)
    if literal is not None:
        return lambda variables: fn(value(variables), literal)
    if arg_path is not None:
        arg = _dotted_lookup(arg_path)
        return lambda variables: fn(value(variables), arg(variables))
    return lambda variables: fn(value(variables))


def _fast_term(expr: str) -> Callable[[dict[str, Any]], Any] | None:
    """A dotted path, or a dotted path through one engine filter: evaluated without Jinja."""
    dotted = _DOTTED.match(expr)
    if dotted and dotted.group(1) not in _KEYWORDS:
        return _dotted_lookup(dotted.group(1))
    call = _FILTER_CALL.match(expr)
    return _filter_call(call) if call is not None else None


_IF = re.compile(r"^(?P<value>.+?)\s+if\s+(?P<cond>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*$", re.S)


def _fast_expression(expr: str) -> Callable[[dict[str, Any]], Any] | None:
    """``term``, ``term or term ...`` and ``<that> if a.b`` (no else) over fast terms, without Jinja:
    the common per-part shapes (a signature from the first place that has one, an id only where
    the host takes ids). Same values as Jinja gives; None where Jinja's would be undefined."""
    m = _IF.match(expr)
    if m and m.group("cond") not in _KEYWORDS and " if " not in m.group("value"):
        value, cond = _fast_expression(m.group("value")), _dotted_lookup(m.group("cond"))
        if value is None:
            return None
        return lambda variables: value(variables) if cond(variables) else None
    pieces = [p.strip() for p in re.split(r"\s+or\s+", expr.strip())]
    terms = [_fast_term(p) for p in pieces]
    if any(t is None for t in terms):
        return None
    if len(terms) == 1:
        return terms[0]

    def first_truthy(variables: dict[str, Any]) -> Any:
        value = None
        for term in terms:
            value = term(variables)
            if value:
                return value
        return value

    return first_truthy


def compile_template(source: str) -> Callable[[dict[str, Any]], Any]:
    """Compile a template string. One ``{{ expr }}`` keeps its native type; anything else renders text."""
    m = _SINGLE_EXPR.match(source)
    if m:
        from engine.mapping.codegen import conditional

        fast = _fast_expression(m.group("expr"))
        if fast is not None or conditional(m.group("expr")):
            ENV.compile_expression(m.group("expr"))  # still a syntax check, and unknown filters fail here
            if _DOTTED.match(m.group("expr")):
                return fast
            from engine.mapping.codegen import generate

            return generate(source, compile_template)  # the same values, without a closure per term
        return compile_expression(m.group("expr"))
    template = ENV.from_string(source)
    render = template.render

    def evaluate(variables: dict[str, Any]) -> str:
        return render(variables)

    return evaluate


def compile_leaf(value: Any) -> Callable[[dict[str, Any]], Any]:
    """Compile a YAML value whose string leaves may be templates into a producer of fresh values."""
    if is_template(value):
        return compile_template(value)
    if isinstance(value, (dict, list)) and is_template_tree(value):
        for leaf in _template_leaves(value):
            compile_template(leaf)  # syntax errors surface here, with the leaf's own message
        from engine.mapping.codegen import generate

        return generate(value, compile_template)  # one function for the whole tree
    if isinstance(value, dict):
        items = [(k, compile_leaf(v)) for k, v in value.items()]
        if not any(is_template_tree(v) for v in value.values()):
            return _constant(value)

        def build_dict(variables: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for k, produce in items:
                v = produce(variables)
                if v is not None:
                    out[k] = v
            return out

        return build_dict
    if isinstance(value, list):
        if not any(is_template_tree(v) for v in value):
            return _constant(value)
        producers = [compile_leaf(v) for v in value]
        return lambda variables: [p(variables) for p in producers]
    return _constant(value)


def _template_leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _template_leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _template_leaves(v)]
    return [value] if is_template(value) else []


def is_template_tree(value: Any) -> bool:
    if isinstance(value, dict):
        return any(is_template_tree(v) for v in value.values())
    if isinstance(value, list):
        return any(is_template_tree(v) for v in value)
    return is_template(value)


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    if isinstance(value, (dict, list)):
        import copy

        frozen = copy.deepcopy(value)
        # Callers may mutate what they get (the body is built in place): hand out copies.
        return lambda variables: copy.deepcopy(frozen)
    return lambda variables: value
