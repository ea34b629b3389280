# Sourced by scripts/test.sh: the runtime options of a sanitized build (make asan / make tsan),
# read from the build's CMake cache. Every test process and every daemon the lab starts
# inherits them; tests/e2e/lib.sh adds log_path so daemon reports land in the lab dir and fail
# the test. Suppressions live next to this file, each with the reason it is there.
#   warren_sanitizer_env BUILD_DIR    (sets WARREN_SANITIZER: address, thread or "")
warren_sanitizer_env() {
  local build=$1 here san
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  san=$(sed -n 's/^WARREN_SANITIZE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null)
  case "$san" in
    address)
      # ASan + UBSan: stop at the first error (a later one may be its consequence), find leaks
      # at exit, and catch the stack-lifetime and init-order bugs that are off by default.
      export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
      export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
      ;;
    thread)
      # Report every race (halt_on_error=0); a process that reported exits 66 (a test fails).
      export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$here/tsan.supp:print_suppressions=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
      ;;
  esac
  export WARREN_SANITIZER="$san"
}
