# Self-test of the PyTorch LoRA reference (tests/reference/lora_reference.py --selftest): its merged
# and unmerged formulations agree, a zero B is the identity, PEFT's suffix matching adapts GPT-2's
# two c_proj modules, and unknown targets or stray tensors are refused, so the reference is right
# before lora_parity_test judges lmforge with it. Needs /usr/bin/python3 with torch; a missing torch
# makes the test fail, never skip.
add_test(NAME lora_reference_selftest
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/reference/lora_reference.py --selftest)
set_tests_properties(lora_reference_selftest PROPERTIES LABELS model TIMEOUT 120)
