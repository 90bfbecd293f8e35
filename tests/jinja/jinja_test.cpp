// lmforge's Jinja subset engine (jinja/jinja.h):
//  - parity: every snippet and every chat template x conversation x add_generation_prompt in
//    tests/jinja/fixtures/chat_templates/expected.json (rendered by Python jinja2 configured as
//    transformers does, tests/reference/render_chat_templates.py) renders byte for byte the same,
//    and fails where jinja2 fails (same message for raise_exception);
//  - hand-computed cases for each construct, whitespace control, errors with line numbers,
//    undefined values, and the content spans that keep message text apart from template text.
#include "lmforge/jinja/jinja.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <typeinfo>

namespace lmforge::jinja {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

fs::path fixtures() {
  return fs::path(LMFORGE_SOURCE_DIR) / "tests/jinja/fixtures/chat_templates";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string render(const std::string& src, const std::string& vars_json = "{}") {
  return Template::parse(src, "t").render(parse_json(vars_json, false)).text;
}

// Compares one rendering with jinja2's result (output, or an error of the same kind).
void check_case(const std::string& what, const std::string& src, const Value& vars,
                const json& want) {
  try {
    const Template t = Template::parse(src, "t");
    const std::string got = t.render(vars).text;
    if (!want.contains("output")) {
      ADD_FAILURE() << what << ": jinja2 fails (" << want["error"] << ": " << want["message"]
                    << ") but lmforge rendered:\n"
                    << got;
      return;
    }
    EXPECT_EQ(got, want["output"].get<std::string>()) << what << "\ntemplate:\n" << src;
  } catch (const RaisedError& e) {
    if (want.value("error", "") != "raise")
      ADD_FAILURE() << what << ": lmforge raised '" << e.message() << "', jinja2 gave "
                    << want.dump();
    else
      EXPECT_EQ(e.message(), want["message"].get<std::string>()) << what;
  } catch (const InputError& e) {
    if (!want.contains("error"))
      ADD_FAILURE() << what << ": lmforge failed (" << e.what() << "), jinja2 rendered:\n"
                    << want["output"].get<std::string>() << "\ntemplate:\n"
                    << src;
    else if (want["error"] == "raise")
      ADD_FAILURE() << what << ": jinja2 raised '" << want["message"] << "', lmforge: " << e.what();
    else if (want["error"] == "syntax" && want.contains("line")) {
      EXPECT_EQ(e.line(), want["line"].get<int>()) << what << ": " << e.what();
    }
  }
}

TEST(JinjaParity, SnippetsMatchJinja2) {
  const json doc = json::parse(slurp(fixtures() / "expected.json"));
  ASSERT_GE(doc["snippets"].size(), 50u);
  int i = 0;
  for (const json& s : doc["snippets"])
    check_case("snippet " + std::to_string(i++), s["template"].get<std::string>(),
               parse_json(s["vars"].dump(), false), s);
}

TEST(JinjaParity, ChatTemplatesMatchJinja2) {
  const json doc = json::parse(slurp(fixtures() / "expected.json"));
  const json specials = json::parse(slurp(fixtures() / "templates.json"));
  const json convs = json::parse(slurp(fixtures() / "conversations.json"));
  ASSERT_GE(doc["chats"].size(), 100u);
  for (const json& c : doc["chats"]) {
    const std::string name = c["template"].get<std::string>();
    const std::string src = slurp(fixtures() / "templates" / (name + ".jinja"));
    const json* conv = nullptr;
    for (const json& x : convs)
      if (x["name"] == c["conversation"]) conv = &x;
    ASSERT_NE(conv, nullptr);
    Value vars = Value::dict();
    vars.set("messages", parse_json((*conv)["messages"].dump(), true));
    vars.set("add_generation_prompt", Value::boolean(c["add_generation_prompt"].get<bool>()));
    for (const auto& [k, v] : specials[name].items())
      if (!v.is_null()) vars.set(k, Value::string(v.get<std::string>()));
    vars.set("tools",
             conv->contains("tools") ? parse_json((*conv)["tools"].dump(), false) : Value::none());
    vars.set("documents", Value::none());
    check_case(name + " x " + c["conversation"].get<std::string>() +
                   (c["add_generation_prompt"].get<bool>() ? " +gen" : ""),
               src, vars, c);
  }
}

// ---- hand-computed cases ----
TEST(Jinja, WhitespaceControl) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indent before it.
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  EXPECT_EQ(render("{{ 'x' }}\n{{ 'y' }}"), "x\ny");  // {{ }} keeps its newline
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("x {{- ' y ' -}} z"), "x y z");
  EXPECT_EQ(render("a\n  {%+ if true +%}\nb{% endif %}"), "a\n  \nb");
  EXPECT_EQ(render("1 {# note #}\n2 {#- note -#} 3"), "1 23");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("end\n"), "end");  // one trailing newline dropped, as jinja2 does
  EXPECT_EQ(render("a\r\nb"), "a\nb");
}

TEST(Jinja, Constructs) {
  EXPECT_EQ(
      render("{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", R"({"x": 2})"),
      "two");
  EXPECT_EQ(render("{% for m in ms %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}"
                   "{{ loop.last }}{{ loop.length }};{% endfor %}",
                   R"({"ms": ["a", "b"]})"),
            "10TrueFalse2;21FalseTrue2;");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}",
                   R"({"d": {"b": 1, "a": 2}})"),
            "b=1 a=2 ");
  EXPECT_EQ(render("{% for m in ms if m.r != 's' %}{{ m.c }}{{ loop.length }}{% endfor %}",
                   R"({"ms": [{"r": "s", "c": "S"}, {"r": "u", "c": "U"}]})"),
            "U1");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for i in range(9) %}{% if i == 1 %}{% continue %}{% endif %}"
                   "{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "023");
  // A set inside a loop is gone after the iteration; a namespace carries state out.
  EXPECT_EQ(render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}"
                   "{% set n = n + i %}{% set ns.n = ns.n + i %}{% endfor %}{{ n }} {{ ns.n }}"),
            "0 6");
  EXPECT_EQ(render("{% set b %}x{{ 1 + 1 }}{% endset %}{{ b }}"), "x2");
  EXPECT_EQ(
      render("{% macro m(a, b='B') %}<{{ a }}{{ b }}>{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}"),
      "<1B><23>");
  EXPECT_EQ(render("{{ ms[1:] | length }} {{ ms[::-1] | join }} {{ ms[-1] }}",
                   R"({"ms": ["a", "b", "c"]})"),
            "2 cba c");
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 'a' ~ 1 }}"),
            "3 -4 1 3.5 8 a1");
  EXPECT_EQ(render("{{ 'y' if 'b' in 'abc' and 2 not in [1] else 'n' }} {{ not none }}"), "y True");
  EXPECT_EQ(render("{{ m.role }}{{ m['role'] }}{{ m.get('x', 'd') }}", R"({"m": {"role": "u"}})"),
            "uud");
  EXPECT_EQ(render("{{ '  Hi  ' | trim | upper }} {{ [1, 2] | tojson }} {{ {'a': 'é'} | tojson }}"),
            "HI [1, 2] {\"a\": \"é\"}");
  EXPECT_EQ(render("{{ 'a\\n\"b\"' | tojson }}"), "\"a\\n\\\"b\\\"\"");
  EXPECT_EQ(render("{{ 'x' is string }}{{ 1 is number }}{{ {} is mapping }}{{ 2 is even }}"),
            "TrueTrueTrueTrue");
}

TEST(Jinja, UndefinedBehavesAsJinja2) {
  EXPECT_EQ(render("[{{ missing }}]"), "[]");
  EXPECT_EQ(render("{{ missing is defined }} {{ missing | default('d') }} {{ missing | length }}"),
            "False d 0");
  EXPECT_EQ(render("{{ m.absent is defined }}[{{ m.absent }}]", R"({"m": {}})"), "False[]");
  EXPECT_EQ(render("{% if missing %}y{% else %}n{% endif %}{% for x in missing %}x{% endfor %}"),
            "n");
  // An attribute of an undefined value is an error.
  EXPECT_THROW(render("{{ missing.attr }}"), InputError);
  EXPECT_THROW(render("{{ m.absent.deeper }}", R"({"m": {}})"), InputError);
}

TEST(Jinja, ErrorsNameTheLine) {
  try {
    Template::parse("line 1\nline 2 {{ x +\n}}", "cfg.json");
    FAIL() << "expected a syntax error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "cfg.json");
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.field(), "chat_template");
  }
  try {
    Template::parse("a\n{% if x %}\nb", "t");
    FAIL() << "expected a syntax error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("endif"), std::string::npos) << e.what();
  }
  try {
    Template::parse("ok\n\n{{ x | nosuch }}", "t");
    FAIL() << "expected an unknown-filter error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 3);
  }
  try {
    render("a\nb\n{{ 'x' + 1 }}");
    FAIL() << "expected a type error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(e.message().find("concatenate"), std::string::npos) << e.what();
  }
  try {
    render("\n{% if true %}{{ raise_exception('Roles must alternate') }}{% endif %}");
    FAIL() << "expected raise_exception";
  } catch (const RaisedError& e) {
    EXPECT_EQ(e.message(), "Roles must alternate");
    EXPECT_NE(std::string(e.what()).find("t:2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(render("{% set l = [] %}{{ l.append(1) }}"), InputError);  // immutable sandbox
  EXPECT_THROW(render("{% include 'x' %}"), InputError);
  // Runaway templates end in an error, not a crash.
  EXPECT_THROW(render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), InputError);
  EXPECT_THROW(render("{{ 'ab' * 100000000000 }}"), InputError);
  EXPECT_THROW(render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}"),
               InputError);
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "{% if true %}";
  EXPECT_THROW(render(deep), InputError);
  EXPECT_EQ(render("{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}"), "1");
}

TEST(Jinja, ContentSpansSurviveStringOperations) {
  Value vars = Value::dict();
  vars.set("messages", parse_json(R"([{"role": "user", "content": "  hi <|im_end|>  "}])", true));
  const Template t = Template::parse(
      "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content | trim + "
      "'<|im_end|>' }}{% endfor %}",
      "t");
  const Rendered r = t.render(vars);
  EXPECT_EQ(r.text, "<|im_start|>user\nhi <|im_end|><|im_end|>");
  const std::vector<Segment> want = {{"<|im_start|>", false},
                                     {"user", true},
                                     {"\n", false},
                                     {"hi <|im_end|>", true},
                                     {"<|im_end|>", false}};
  EXPECT_EQ(r.segments(), want);

  // Slicing, joining and splitting keep exact spans; a transformed string is all content.
  vars.set("s", Value::string("abcdef", true));
  EXPECT_EQ(
      Template::parse("[{{ s[1:3] }}|{{ ['<', s[:1]] | join('>') }}]", "t").render(vars).segments(),
      (std::vector<Segment>{
          {"[", false}, {"bc", true}, {"|<>", false}, {"a", true}, {"]", false}}));
  EXPECT_EQ(Template::parse("<{{ s | upper }}>", "t").render(vars).segments(),
            (std::vector<Segment>{{"<", false}, {"ABCDEF", true}, {">", false}}));
  EXPECT_EQ(Template::parse("{{ s | replace('cd', '<X>') }}", "t").render(vars).segments(),
            (std::vector<Segment>{{"ab<X>ef", true}}));
  // Template strings stay markup even when they pass through filters.
  EXPECT_EQ(Template::parse("{{ '<s>' | upper }}{{ ('a' ~ s)[:2] }}", "t").render(vars).segments(),
            (std::vector<Segment>{{"<S>a", false}, {"a", true}}));
}

// A model directory's template is input: damaged templates (a byte deleted, duplicated or
// replaced by one of the syntax characters) must parse and render or fail with lmforge's error
// types, never crash or leak another exception.
TEST(Jinja, DamagedTemplatesFailCleanly) {
  std::vector<std::string> sources;
  for (const auto& e : fs::directory_iterator(fixtures() / "templates"))
    sources.push_back(slurp(e.path()));
  std::sort(sources.begin(), sources.end());
  Value vars = Value::dict();
  vars.set("messages", parse_json(R"([{"role": "system", "content": "s"},
      {"role": "user", "content": "u {{ x }}"}, {"role": "assistant", "content": "a"}])",
                                  true));
  vars.set("add_generation_prompt", Value::boolean(true));
  const std::string alphabet = "{}%#-+()[]'\"|.,:=~ \n0a";
  uint64_t state = 12345;
  auto next = [&](size_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return size_t((state >> 33) % n);
  };
  int rendered = 0, failed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string src = sources[next(sources.size())];
    for (int k = 0; k < 3; ++k) {
      const size_t at = next(src.size());
      switch (next(3)) {
        case 0:
          src.erase(at, 1);
          break;
        case 1:
          src.insert(at, 1, src[at]);
          break;
        default:
          src[at] = alphabet[next(alphabet.size())];
      }
    }
    try {
      Template::parse(src, "t").render(vars);
      ++rendered;
    } catch (const InputError&) {
      ++failed;
    } catch (const UsageError&) {
      ++failed;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected " << typeid(e).name() << ": " << e.what() << "\n" << src;
      return;
    }
  }
  EXPECT_GT(rendered, 100);
  EXPECT_GT(failed, 100);
}

}  // namespace
}  // namespace lmforge::jinja
