# The zoo (issue 6): the default suite against payment-center-zoo with each
# bug switched on must fail with a violation of the invariant that bug is
# meant to break (tests/zoo/zoo_case.sh: scenario by scenario, the known
# catchers first, until one names it); with no bug it must pass. Label
# "zoo". The table below is the one in docs/zoo.md: keep them together.
if(TARGET payment-center-zoo AND TARGET paydrill)
  # bug:intended invariants:scenarios to run first (docs/zoo.md's
  # "caught by" column; the rest of the suite follows them).
  set(PD_ZOO_CASES
    "none"
    "no-dedup:duplicate_submission_rejected:duplicate-submissions"
    "dedup-race:duplicate_submission_rejected:duplicate-submissions"
    "no-paying-lock:no_double_charge:pay-double-click,create-commit-drop"
    "new-trade-no-on-retry:no_double_charge:create-5xx"
    "timeout-is-failure:legal_history:create-commit-drop"
    "no-signature-check:no_phantom_payment:callbacks-forged"
    "no-amount-check:amount_integrity:callbacks-forged"
    "non-idempotent-callback:consistent_notifications:callbacks-duplicated-sequential"
    "no-reconciler:no_lost_payment,convergence:callbacks-dropped-all"
    "reconciler-gives-up:no_lost_payment:callback-schedule-exhausted"
    "close-without-gateway:legal_history:payment-after-close"
    "outbox-outside-tx:no_lost_payment,convergence:kill-sut-during-callbacks,chaos"
    "no-late-refund:no_lost_payment:close-lies-late-payment")
  foreach(case ${PD_ZOO_CASES})
    string(REPLACE ":" ";" parts "${case}")
    list(GET parts 0 bug)
    set(invs "")
    set(first "")
    list(LENGTH parts n)
    if(n GREATER 1)
      list(GET parts 1 invs)
    endif()
    if(n GREATER 2)
      list(GET parts 2 first)
    endif()
    add_test(NAME zoo_${bug}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/zoo/zoo_case.sh
              $<TARGET_FILE:paydrill> $<TARGET_FILE:payment-center-zoo>
              ${CMAKE_SOURCE_DIR}/scenarios/default ${CMAKE_BINARY_DIR}/zoo-runs
              ${bug} "${invs}" "${first}")
    set_tests_properties(zoo_${bug} PROPERTIES LABELS zoo TIMEOUT 1800)
  endforeach()
endif()
