# The chat-template fixtures (tests/jinja/fixtures/chat_templates/expected.json) are what Python
# jinja2, configured as transformers' apply_chat_template configures it, renders today: the
# reference script re-renders every template x conversation and every snippet and fails on any
# difference, so jinja_test judges lmforge's engine against a current reference. Needs
# /usr/bin/python3 with Debian's python3-jinja2; a missing jinja2 makes the test fail, never skip.
add_test(NAME chat_templates_reference
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/reference/render_chat_templates.py --check)
set_tests_properties(chat_templates_reference PROPERTIES LABELS jinja TIMEOUT 60)
