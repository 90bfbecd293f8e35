#!/usr/bin/python3
"""Reference renderings of chat templates for lmforge's Jinja engine (tests/jinja/jinja_test.cpp).

Renders with Python jinja2 configured exactly as transformers' apply_chat_template does
(ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
tojson overridden by json.dumps(ensure_ascii=False, ...), globals raise_exception and
strftime_now) and writes tests/jinja/fixtures/chat_templates/expected.json:
  "chats":    every template in templates/ x every conversation in conversations.json x
              add_generation_prompt true/false -> the rendered text, or the error it raised;
  "snippets": small templates (SNIPPETS below) with their variables -> text or error.
The C++ test compares byte for byte. Usage:
  render_chat_templates.py           rewrite expected.json
  render_chat_templates.py --check   exit 1 if expected.json differs from a fresh rendering
Needs Debian's python3-jinja2; never skips.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "jinja", "fixtures", "chat_templates")


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# Small templates: one construct (or one whitespace rule) each. "v" holds the variables.
SNIPPETS = [
    {"t": "a\n{% if true %}\nb\n{% endif %}\nc\n"},
    {"t": "a\n  {% if true %}\n  b\n  {% endif %}\nc"},
    {"t": "a  {%- if true -%}  b  {%- endif -%}  c"},
    {"t": "a\n  {%+ if true +%}\nb{% endif %}"},
    {"t": "x {{- ' y ' -}} z {{ 'w' }}\n{{ 'v' }}\n"},
    {"t": "1 {# c #}\n2 {#- c -#} 3\n  {# c #}\n4"},
    {"t": "{% for i in [1, 2, 3] %}\n  {{ i }}\n{% endfor %}\n"},
    {"t": "  {% raw %}  {{ x }}\n{% endraw %}  y"},
    {"t": "{{ 'a\\tb\\\\n\\'q\\' \"d\" \\u00e9 \\x41' }}|{{ \"it's\" }}|{{ 'x' 'y' }}"},
    {"t": "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 1 ~ (2 + 3) }} {{ (1 + 2) ~ 3 }}"},
    {"t": "{{ 1 + 2 ~ 3 }}"},
    {"t": "{{ 1 ~ 2 + 3 }}"},
    {"t": "{{ 7 / 2 }} {{ 6 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7.5 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 5.5 % 2 }}"},
    {"t": "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 100.0 }} {{ 1/3 }} {{ 2.5e15 }} {{ 12345678.9 }}"},
    {"t": "{{ true }} {{ none }} {{ True and 0 }} {{ '' or 'x' }} {{ not [] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}"},
    {"t": "{{ 'yes' if x else 'no' }} {{ 'y' if not x }}|{{ 1 if false else 2 if true else 3 }}", "v": {"x": 0}},
    {"t": "{{ m.a }} {{ m['a'] }} {{ m.b }}|{{ m.b is defined }} {{ m.get('b', 'd') }} {{ m.get('a') }}",
     "v": {"m": {"a": 1}}},
    {"t": "{{ m.b.c }}", "v": {"m": {"a": 1}}},
    {"t": "{{ nothing }}|{{ nothing is undefined }}|{{ nothing | length }}|{% for x in nothing %}x{% endfor %}"},
    {"t": "{{ nothing.attr }}"},
    {"t": "{{ nothing + 1 }}"},
    {"t": "{{ 'a' + 1 }}"},
    {"t": "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-1] }} {{ l[10] }}|{{ s[1:4] }} {{ s[::-1] }} {{ s[-2:] }} {{ s[0] }}",
     "v": {"l": [1, 2, 3, 4], "s": "héllo wörld"}},
    {"t": "{% for k, v in d.items() %}{{ k }}={{ v }}{{ ',' if not loop.last }}{% endfor %} {% for k in d %}{{ k }}{% endfor %} {{ d | length }}",
     "v": {"d": {"z": 1, "a": [1, 2], "m": {"x": "y"}}}},
    {"t": "{% for x in l if x % 2 %}{{ loop.index }}:{{ x }}/{{ loop.length }}{{ loop.revindex }}{% else %}none{% endfor %}|{% for x in [] %}{% else %}empty{% endfor %}",
     "v": {"l": [1, 2, 3, 4, 5]}},
    {"t": "{% for x in l %}{{ loop.previtem | default('-') }}{{ x }}{{ loop.nextitem | default('-') }} {% endfor %}",
     "v": {"l": ["a", "b", "c"]}},
    {"t": "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}"},
    {"t": "{% set ns = namespace(n=0, items='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.items = ns.items ~ i %}{% endfor %}{{ ns.n }} {{ ns.items }}"},
    {"t": "{% set a, b = 1, 'two' %}{{ a }}{{ b }} {% set t = (1,) %}{{ t }} {{ (1, 2) }} {{ () }}"},
    {"t": "{% set x %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ x }}] {% set y | upper %}shout{% endset %}{{ y }}"},
    {"t": "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}"},
    {"t": "{% for i in range(10) %}{% if i is even %}{% continue %}{% endif %}{% if i > 7 %}{% break %}{% endif %}{{ i }}{% endfor %}"},
    {"t": "{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello WORLD' | capitalize }}|{{ 'hello-wORLD (x)' | title }}|{{ 'Straße ÉTÉ' | upper }}|{{ 'ÀÉÎ ΑΒΓ АБВ' | lower }}"},
    {"t": "{{ [3, 1, 2] | first }} {{ 'abc' | last }} {{ [1, 2] | join }} {{ ['a', 'b'] | join(', ') }} {{ 'abc' | list }} {{ 42 | string }} {{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int(7) }} {{ 3 | float }} {{ '2.5' | float }}"},
    {"t": "{{ 'aXbXc' | replace('X', '-') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ [1, 1, 'A', 'a', 2] | unique | list }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }}"},
    {"t": "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true) }}|{{ 'é\"\\n<' | tojson }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}",
     "v": {"d": {"b": [1, 2.5, None, True, "x"], "a": {"c": "<&>'"}}}},
    {"t": "{{ users | selectattr('active') | map(attribute='name') | join(',') }}|{{ users | rejectattr('active') | map(attribute='name') | list }}|{{ users | selectattr('name', 'equalto', 'b') | list | length }}|{{ users | selectattr('age', 'defined') | list | length }}|{{ users | map(attribute='age', default=0) | list }}",
     "v": {"users": [{"name": "a", "active": True, "age": 3}, {"name": "b", "active": False}, {"name": "c", "active": True}]}},
    {"t": "{{ [1, 2, 3] | select('odd') | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ ['a', 'B'] | map('upper') | list }} {{ [3, 1] | sort }} {{ [1, 2] | reverse | list }} {{ [1, 2, 3] | sum }} {{ [4, 9, 2] | max }} {{ [4, 9, 2] | min }}"},
    {"t": "{{ x is string }}{{ x is mapping }}{{ x is iterable }}{{ x is sequence }}{{ x is number }}{{ x is none }}{{ x is defined }}|{{ d is mapping }}{{ d is iterable }}{{ l is sequence }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ false is false }}{{ true is true }}{{ 1 is true }}",
     "v": {"x": "s", "d": {}, "l": []}},
    {"t": "{{ 4 is divisibleby 2 }}{{ 3 is divisibleby(2) }}{{ 2 is eq 2 }}{{ 'a' is in 'cat' }}{{ 'A' is upper }}{{ 'a' is lower }}{{ none is sameas none }}{{ 3 is gt 2 }}{{ 3 is not lt 2 }}"},
    {"t": "{{ 'a' in 'abc' }} {{ 'z' not in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'a' in nothing }}"},
    {"t": "{{ ' a b '.strip() }}|{{ 'xax'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ ' a  b '.split() }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aBc'.upper() }}{{ 'aBc'.lower() }}|{{ 'a-b c'.title() }}"},
    {"t": "{{ '{} and {}'.format(1, 'b') }}|{{ '{0}{0}{x}'.format('r', x='k') }}|{{ 'a b'.replace(' ', '_') }}|{{ '-'.join(['x', 'y']) }}|{{ 'banana'.count('a') }} {{ 'banana'.find('n') }}|{{ 'l1\\nl2'.splitlines() }}|{{ '12'.isdigit() }}"},
    {"t": "{{ '%s is %d' % ('x', 3) }} {{ '%s!' % 'hi' }} {{ '%s-%s' | format('a', 'b') }}"},
    {"t": "{{ [1, 2] + [3] }} {{ 'ab' * 2 }} {{ 2 * [0] }} {{ 1 + 1.5 }} {{ true + 1 }}"},
    {"t": "{{ raise_exception('custom failure: ' ~ 42) }}"},
    {"t": "line1\n{{ 1 +\n }}"},
    {"t": "{% if x %}\nunterminated"},
    {"t": "{% for x in [1] %}{{ x }}{% endfor %}{% endif %}"},
    {"t": "{{ 1 | nosuchfilter }}"},
    {"t": "{% set l = [] %}{{ l.append(1) }}"},
    {"t": "{{ x | length }} {{ x | wordcount }} {{ x | indent(2) }}|{{ x | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}", "v": {"x": "one two\nthree"}},
    {"t": "{{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }} {{ d | items | list }} {{ d.keys() | list }} {{ d.values() | list }}", "v": {"d": {"b": 1, "a": 2}}},
    {"t": "{{ '{{ literal }}' }} {{ '{%' }} {{ \"}}\" }} {{ {'a': {'b': 1}} }}"},
    {"t": "{{ namespace(a=1).a }}|{{ dict(x=1) }}|{{ 'b' if false else [1, 2] | length }}"},
    {"t": "{{ 'x' if nothing is defined and nothing.attr else 'safe' }}|{{ [] | first }}|{{ ([] | first) is defined }}|{{ nothing | default('d') }}|{{ none | default('d') }}|{{ '' | d('e', true) }}"},
    {"t": "a\r\nb\rc\n\n"},
    {"t": "{%- for m in messages -%}\n    {{- m.role -}}:\n    {{ m.content }}\n{%- endfor %}\n",
     "v": {"messages": [{"role": "u", "content": " x "}, {"role": "a", "content": "y\n"}]}},
    {"t": "{{ u is iterable }}{{ u is sequence }}{{ u is mapping }}{{ u is string }}"},
    {"t": "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}"},
    {"t": "{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ none == none }}{{ u == u }}{{ 1 == 1.0 }}{{ true == 1 }}{{ {'a': 1} == {'a': 1} }}{{ [1] == [1.0] }}{{ 'a' == 1 }}"},
    {"t": "{{ u < 1 }}"},
    {"t": "{% set ns = namespace(a=1, b='x') %}{{ ns }} {{ ns.a }} {{ ns.missing is defined }}"},
    {"t": "{{ -3 // 2 }} {{ 3 // -2.0 }} {{ 2 ** -1 }} {{ 0 ** 0 }} {{ -(3) }} {{ +2 }} {{ - 'a' | length }}"},
    {"t": "{% for m in ms %}\n    {%- if m %}\n        {{ m }}\n    {%- endif %}\n{% endfor %}", "v": {"ms": ["a", "", "b"]}},
    {"t": "  {#- comment -#}  x  {#+ c +#} y\n  {# own line #}\nz"},
    {"t": "{% if true %}  {{ 'a' }}  {% endif %}\n  b  \n"},
    {"t": "{{ 'x' }}  {%- if true %}\n{{ 'y' }}\n  {%- endif %}\n\n  {%+ if true -%}\n  z{% endif %}\t{% if true %}\t{% endif %}\t"},
    {"t": "{% for x in 'ab' %}{{ x }}{% endfor %}\n    \n{%- for x in [1] -%}\n  {{ x }}  \n{%- endfor -%}\n  end"},
    {"t": "{{ nothing | trim }}|{{ nothing | upper }}|{{ nothing | replace('a', 'b') }}|{{ nothing | join }}|{{ nothing | list }}|{{ nothing | string }}|{{ nothing | first }}|{{ nothing | capitalize }}|{{ nothing | title }}|{{ nothing | wordcount }}|{{ nothing | items | list }}|{{ nothing | map('upper') | list }}|{{ nothing | selectattr('a') | list }}|{{ nothing | length }}|{{ nothing | last }}|{{ nothing | sort }}|{{ nothing | sum }}|{{ m.absent | trim }}", "v": {"m": {}}},
    {"t": "{{ nothing | int }}"},
    {"t": "{{ nothing | tojson }}"},
    {"t": "{{ nothing | round }}"},
    {"t": "{{ 10000000000 * 3 }} {{ 3 * 1.1 }} {{ 1e300 * 1e10 }} {{ -0.0 }} {{ 5 // 0.5 }}"},
]


def render(env, source, variables):
    try:
        return {"output": env.from_string(source).render(**variables)}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": "syntax", "line": e.lineno, "message": e.message}
    except jinja2.exceptions.TemplateError as e:
        kind = "raise" if type(e) is jinja2.exceptions.TemplateError else "render"
        return {"error": kind, "message": str(e)}
    except Exception as e:  # TypeError, ZeroDivisionError... from a render
        return {"error": "render", "message": f"{type(e).__name__}: {e}"}


def build():
    env = make_env()
    specials = json.load(open(os.path.join(FIXTURES, "templates.json"), encoding="utf-8"))
    convs = json.load(open(os.path.join(FIXTURES, "conversations.json"), encoding="utf-8"))
    chats = []
    for name in sorted(specials):
        path = os.path.join(FIXTURES, "templates", name + ".jinja")
        source = open(path, encoding="utf-8", newline="").read()
        for conv in convs:
            for agp in (False, True):
                # transformers always passes tools and documents (None when not given).
                variables = {"messages": conv["messages"], "tools": conv.get("tools"),
                             "documents": None, "add_generation_prompt": agp}
                for k, v in specials[name].items():
                    if v is not None:
                        variables[k] = v
                r = {"template": name, "conversation": conv["name"], "add_generation_prompt": agp}
                r.update(render(env, source, variables))
                chats.append(r)
    snippets = []
    for s in SNIPPETS:
        r = {"template": s["t"], "vars": s.get("v", {})}
        r.update(render(env, s["t"], r["vars"]))
        snippets.append(r)
    return {"jinja2_version": jinja2.__version__, "chats": chats, "snippets": snippets}


def main():
    out = json.dumps(build(), ensure_ascii=False, indent=1) + "\n"
    path = os.path.join(FIXTURES, "expected.json")
    if "--check" in sys.argv:
        old = open(path, encoding="utf-8").read()
        if old != out:
            print(f"{path} is stale: rerun tests/reference/render_chat_templates.py", file=sys.stderr)
            return 1
        print("expected.json matches jinja2", jinja2.__version__)
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(out)
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
