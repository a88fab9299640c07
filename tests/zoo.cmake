# The zoo (issue 6): the default suite against payment-center-zoo with each
# bug switched on must fail with a violation of the invariant that bug is
# meant to break; with no bug it must pass. Label "zoo". The table below is
# the one in docs/zoo.md: keep them together.
if(TARGET payment-center-zoo AND TARGET paydrill)
  set(PD_ZOO_CASES
    "none"
    "no-dedup:duplicate_submission_rejected"
    "dedup-race:duplicate_submission_rejected"
    "no-paying-lock:no_double_charge"
    "new-trade-no-on-retry:no_double_charge"
    "timeout-is-failure:legal_history"
    "no-signature-check:no_phantom_payment"
    "no-amount-check:amount_integrity"
    "non-idempotent-callback:consistent_notifications"
    "no-reconciler:no_lost_payment,convergence"
    "reconciler-gives-up:no_lost_payment"
    "close-without-gateway:legal_history"
    "outbox-outside-tx:no_lost_payment,convergence"
    "no-late-refund:no_lost_payment")
  foreach(case ${PD_ZOO_CASES})
    string(REPLACE ":" ";" parts "${case}")
    list(GET parts 0 bug)
    set(invs "")
    list(LENGTH parts n)
    if(n GREATER 1)
      list(GET parts 1 invs)
      string(REPLACE "," ";" invs "${invs}")
    endif()
    add_test(NAME zoo_${bug}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/zoo/zoo_case.sh
              $<TARGET_FILE:paydrill> $<TARGET_FILE:payment-center-zoo>
              ${CMAKE_SOURCE_DIR}/scenarios/default ${CMAKE_BINARY_DIR}/zoo-runs
              ${bug} ${invs})
    set_tests_properties(zoo_${bug} PROPERTIES LABELS zoo TIMEOUT 1800)
  endforeach()
endif()
