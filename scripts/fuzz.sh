#!/usr/bin/env bash
# Coverage-guided fuzzing of every fuzz/<name>_fuzz.cc with libFuzzer (clang-19, ASan + UBSan),
# each for N seconds from its seed corpus, then one table: executions, coverage, findings.
#   scripts/fuzz.sh [--seconds N] [--build DIR] [TARGET...]     (make fuzz FUZZ_SECONDS=N)
# Work corpora (what the fuzzer found interesting) grow in DIR/corpus/<name> across runs; the
# checked-in seeds in fuzz/corpus/<name> are only read. Findings (crash-, leak-, timeout-,
# oom- inputs) land in DIR/findings/<name>/ with the log in DIR/logs/<name>.log; once fixed,
# copy each into fuzz/corpus/<name>/ so `make test` replays it for good (fuzz/README.md).
# Exit status: 0 when no target found anything.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
build=build-fuzz
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) targets+=("${1%_fuzz}"); shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: --seconds wants a number, not '$seconds'" >&2; exit 2; }

# clang-19 and its libFuzzer runtime: GCC cannot build libFuzzer targets, and Debian 12's
# default clang (14) lacks C++23 std::expected with libstdc++ 12. `make test` does not need
# them, so scripts/deps.sh leaves them out and this script installs them on first use.
fuzzer_rt=/usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.fuzzer-x86_64.a
if ! command -v clang++-19 >/dev/null || [ ! -f "$fuzzer_rt" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "fuzz: installing clang-19 and libclang-rt-19-dev (libFuzzer for C++23)"
    apt-get -o DPkg::Lock::Timeout=600 install -y clang-19 libclang-rt-19-dev >/dev/null ||
      { echo "fuzz: apt-get install clang-19 libclang-rt-19-dev failed" >&2; exit 2; }
  else
    echo "fuzz: needs clang-19 and libclang-rt-19-dev: apt-get install clang-19 libclang-rt-19-dev" >&2
    exit 2
  fi
fi

if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cc; do n=$(basename "$f" .cc); targets+=("${n%_fuzz}"); done
fi
names=()
for t in "${targets[@]}"; do
  [ -f "fuzz/${t}_fuzz.cc" ] || { echo "fuzz: no target fuzz/${t}_fuzz.cc" >&2; exit 2; }
  names+=("${t}_fuzz")
done

echo "== fuzz: building ${#names[@]} targets in $build (clang-19, libFuzzer + ASan + UBSan)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARREN_FUZZ=ON >/dev/null || exit 2
cmake --build "$build" -j"$(nproc)" --target "${names[@]}" || { echo "fuzz: build failed" >&2; exit 2; }

mkdir -p "$build/logs"
summary="$build/fuzz-summary.md"
{
  echo "| target | seconds | executions | exec/s | coverage (edges) | features | corpus | findings |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$summary"
total_findings=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_fuzz"
  work="$build/corpus/$t"
  findings="$build/findings/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$findings"
  rm -f "$findings"/*
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096
        -artifact_prefix="$findings/")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  echo "== fuzz: $t for ${seconds}s"
  # libFuzzer writes new inputs into the first corpus dir only: the seeds stay untouched.
  timeout --kill-after=30 $((seconds + 300)) "$bin" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  rate=$(grep -oE 'stat::average_exec_per_sec: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last" | sed 's/corp: //')
  found=$(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
            -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
  # A run that ends early without an artifact (a crash in start-up, a sanitizer report in a
  # thread) is a finding too.
  if [ "$found" -eq 0 ] && [ "$rc" -ne 0 ]; then found=1; fi
  total_findings=$((total_findings + found))
  status="${found}"
  [ "$found" -eq 0 ] || status="${found} (see $log)"
  printf '   executions %s, %s/s, cov %s, ft %s, corpus %s, findings %s\n' \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status"
  echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $status |" >>"$summary"
done
echo
cat "$summary"
echo
echo "fuzz: ${#targets[@]} targets, $total_findings findings (table in $summary)"
[ "$total_findings" -eq 0 ]
