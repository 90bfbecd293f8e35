# The alignment acceptance check in its short form (bench/alignment_check.sh --quick): a tiny model
# learns a closed set of invented facts, samples answers that the script's oracle ranks (right
# first, shorter second), and reward / DPO / PPO with their default options must not lower the
# share of correct greedy answers on held-out phrasings. Needs python3 (the oracle and the data).
# At fp32 on every machine, so that CI judges the same numbers everywhere: on a bf16 CPU at
# --precision bf16 (2026-12-02, Zen 5) DPO ended one held-out answer below instruct (13.9% vs
# 16.7% of 36), an open item of the alignment issue.
find_program(LMFORGE_PYTHON3 python3)
if(LMFORGE_PYTHON3)
  add_test(NAME alignment_check
           COMMAND bash ${CMAKE_SOURCE_DIR}/bench/alignment_check.sh $<TARGET_FILE_DIR:lmforge>
                   ${CMAKE_BINARY_DIR}/alignment-check --quick)
  set_tests_properties(alignment_check PROPERTIES LABELS train TIMEOUT 900
                       ENVIRONMENT "THREADS=1;OMP_NUM_THREADS=1;LMFORGE_PRECISION=fp32")
endif()
