# The parts pam, broker, portal and dovecot of tests/bench/run-benchmarks (included by
# CMakeLists.txt): their programs, and a CTest each in its --quick form.
target_link_libraries(bench_broker PRIVATE nlohmann_json::nlohmann_json)  # --out JSON
# Called as `bench_PART --out F --stores D` they run their script (part_script.h).
target_compile_definitions(bench_broker PRIVATE APPPASS_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# The `pam` part of tests/bench/run-benchmarks (tests/bench/bench_pam.sh runs it): whole PAM
# transactions through the real libpam under pam_wrapper, pam_permit / pam_apppass /
# pam_unix (yescrypt) / pam_bench_argon2.so. Root only.
find_package(pam_wrapper REQUIRED)
add_executable(bench_pam bench_pam.cc)
target_link_libraries(bench_pam PRIVATE apppass_core PkgConfig::PAM PkgConfig::OATH
                      PkgConfig::SODIUM nlohmann_json::nlohmann_json)
target_compile_definitions(bench_pam PRIVATE BENCH_PAM_WRAPPER_LIBRARY="${PAM_WRAPPER_LIBRARY}"
                           APPPASS_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(bench_pam pam_apppass pam_bench_argon2)

# A bench-only PAM module (never installed): Argon2id verification of one stored hash.
add_library(pam_bench_argon2 MODULE pam_bench_argon2.cc)
set_target_properties(pam_bench_argon2 PROPERTIES PREFIX "" OUTPUT_NAME pam_bench_argon2)
target_link_libraries(pam_bench_argon2 PRIVATE PkgConfig::PAM PkgConfig::SODIUM)
target_link_options(pam_bench_argon2 PRIVATE -Wl,--no-undefined)

# The parts of tests/bench/run-benchmarks owned here, each in its --quick form: every
# answer checked, no time asserted (the figures land in this build dir, never in docs/).
# Root only (system users, a root-only store, Dovecot): 77 otherwise.
#   bench_pam_quick      whole PAM transactions (no floor-0 build here: its rows left out)
#   bench_broker_quick   verify round trips and self-service CREATEs through apppassd
#   bench_portal_quick   apppass-web page times (tests/web_load at small sizes)
#   bench_dovecot_quick  IMAP LOGIN/s through a real Dovecot on 127.0.0.1, apppass vs pam_unix
find_program(APPPASS_BASH bash REQUIRED)
# Not in the sanitizer build (see bench_smoke in CMakeLists.txt).
if(APPPASS_SANITIZE)
  return()
endif()
set(_bench_dir ${CMAKE_CURRENT_SOURCE_DIR})
set(_bench_out ${CMAKE_CURRENT_BINARY_DIR}/quick)
file(MAKE_DIRECTORY ${_bench_out})
add_test(NAME bench_pam_quick
         COMMAND ${APPPASS_BASH} ${_bench_dir}/bench_pam.sh --build ${CMAKE_BINARY_DIR}
                 --nofloor-build ${CMAKE_BINARY_DIR}/no-floor-0-build --out ${_bench_out}/pam.json --quick)
add_test(NAME bench_broker_quick
         COMMAND ${APPPASS_BASH} ${_bench_dir}/bench_broker.sh --build ${CMAKE_BINARY_DIR}
                 --out ${_bench_out}/broker.json --quick)
add_test(NAME bench_portal_quick
         COMMAND ${APPPASS_BASH} ${_bench_dir}/bench_portal.sh --build ${CMAKE_BINARY_DIR}
                 --out ${_bench_out}/portal.json --quick)
add_test(NAME bench_dovecot_quick
         COMMAND ${APPPASS_BASH} ${_bench_dir}/bench_dovecot.sh --build ${CMAKE_BINARY_DIR}
                 --out ${_bench_out}/dovecot.json --quick)
set_tests_properties(bench_pam_quick bench_broker_quick bench_portal_quick PROPERTIES
  LABELS bench TIMEOUT 120 SKIP_RETURN_CODE 77)
set_tests_properties(bench_dovecot_quick PROPERTIES
  LABELS "bench;dovecot" TIMEOUT 120 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
