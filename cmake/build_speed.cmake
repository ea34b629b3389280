# How the build stays fast where nothing is cached (CI: a fresh clone, 2 cores, no ccache).
# Measured in ARCHITECTURE.md "Build and tests"; every knob is a cache variable, so a
# developer can turn it off to check what it hides.
#
#  - WARREN_LINKER (default: lld when installed, scripts/deps.sh installs it): GNU ld spends
#    seconds per test executable reading the same static libraries and their DWARF.
#  - WARREN_DEBUG_INFO = full (-g, the default) | lines (-g1: functions and line tables, no
#    locals) | none. CI builds with `none` (.ci/run): DWARF is a fifth to a third of the
#    compile time per file and most of the link time; nothing in `make test` reads it. perf
#    (`make bench-profile`) names functions from the symbol table, which every level keeps
#    (nothing in the build dir is stripped); `full` is for gdb.
#  - WARREN_PCH (default OFF): the heavy third-party headers (std, fmt, spdlog, nlohmann json,
#    yaml-cpp; gtest and gmock for tests) parsed once into two precompiled headers that every
#    target reuses (about 0.85x the CPU per file where they are included, +1 s where not).
#    OFF by default: with GCC 12 a precompiled libstdc++ loses its system-header status for
#    the middle-end warnings, and the known -Warray-bounds false positive in
#    std::string's memcpy (char_traits.h:431) fails fuzz/http1_codec_fuzz.cc and
#    tests/agent/translation_test.cc under -Werror; it is worth turning on once those build.
#  - WARREN_TEST_OPTIMIZE (default -O1): the flag for the test code itself (every target that
#    links gtest); the libraries under test keep the build type's -O2, so every test still runs
#    the optimised code it checks. GCC at -O2 spends 33 s on one table-driven test file
#    (tests/waypoint/authz_evaluator_test.cc; 19 s at -O1) for nothing a test needs. Empty:
#    the build type's flag.
#
# Nothing here needs a call from a folder's CMakeLists.txt: warren_build_speed_apply(), at the
# end of the top-level one, walks every target the folders defined.

set(WARREN_DEBUG_INFO "full" CACHE STRING "Debug info: full (-g), lines (-g1) or none")
set_property(CACHE WARREN_DEBUG_INFO PROPERTY STRINGS full lines none)
if(WARREN_DEBUG_INFO STREQUAL "lines")
  set(_warren_g -g1)
elseif(WARREN_DEBUG_INFO STREQUAL "none")
  set(_warren_g -g0)
elseif(WARREN_DEBUG_INFO STREQUAL "full")
  set(_warren_g "")
else()
  message(FATAL_ERROR "WARREN_DEBUG_INFO must be full, lines or none, not '${WARREN_DEBUG_INFO}'")
endif()
# The last -g on a command line wins, so this overrides the build type's -g.
if(_warren_g)
  add_compile_options(${_warren_g})
endif()

# The linker. ld.lld is LLVM's (package lld); any name `-fuse-ld=` takes works (mold too).
if(NOT DEFINED CACHE{WARREN_LINKER})
  find_program(_warren_lld ld.lld)
  set(_warren_default_linker "")
  # GCC builds only: the libFuzzer build (clang-19) keeps its own toolchain's default.
  if(_warren_lld AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(_warren_default_linker lld)
  endif()
  set(WARREN_LINKER "${_warren_default_linker}" CACHE STRING
    "Linker for -fuse-ld= (lld, mold, gold, bfd); empty: the compiler's default")
endif()
if(WARREN_LINKER)
  include(CheckLinkerFlag)
  check_linker_flag(CXX "-fuse-ld=${WARREN_LINKER}" WARREN_LINKER_WORKS_${WARREN_LINKER})
  if(NOT WARREN_LINKER_WORKS_${WARREN_LINKER})
    message(FATAL_ERROR "WARREN_LINKER=${WARREN_LINKER}: -fuse-ld=${WARREN_LINKER} does not link "
      "here (install it, or configure with -DWARREN_LINKER= for the default linker)")
  endif()
  add_link_options(-fuse-ld=${WARREN_LINKER})
endif()

set(WARREN_TEST_OPTIMIZE "-O1" CACHE STRING "Optimisation flag for test code (empty: the build type's)")

option(WARREN_PCH "Precompiled headers for the heavy third-party headers (GCC)" OFF)
# A precompiled header is refused (-Winvalid-pch, an error under -Werror) where a macro it
# depends on differs: gRPC's pkg-config flags add -pthread (_REENTRANT) to the targets that
# link it, so every target gets it and one header serves all.
if(WARREN_PCH)
  add_compile_options(-pthread)
  # ccache refuses to cache a compile that uses a precompiled header ("could not use
  # precompiled header") unless its sloppiness allows pch_defines and time_macros; the other
  # two keep what a developer's ccache.conf usually sets (the environment replaces it).
  if(CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache$")
    find_program(WARREN_ENV env REQUIRED)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${WARREN_ENV}
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_ctime,include_file_mtime
      ${CMAKE_CXX_COMPILER_LAUNCHER})
  endif()
endif()

# Headers every library and binary target precompiles; tests add gtest and gmock. Only
# third-party and standard headers: our own headers change too often, and warnings in them
# must stay with the file that includes them.
set(WARREN_PCH_HEADERS
  <algorithm> <atomic> <chrono> <cstdint> <cstring> <expected> <filesystem> <fstream>
  <functional> <map> <memory> <mutex> <optional> <set> <span> <string> <string_view> <thread>
  <variant> <vector>
  <fmt/format.h> <spdlog/spdlog.h> <nlohmann/json.hpp> <yaml-cpp/yaml.h>)
set(WARREN_PCH_TEST_HEADERS ${WARREN_PCH_HEADERS} <gtest/gtest.h> <gmock/gmock.h>)

# Every target defined in DIR and below.
function(_warren_targets_below dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _warren_targets_below(${sub} below)
    list(APPEND targets ${below})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Whether TARGET links LIB, directly or through the libraries it links (a precompiled header
# is only valid where the compile definitions it was built with, fmt's and spdlog's, hold).
function(_warren_links target lib out)
  set(seen)
  set(todo ${target})
  set(found FALSE)
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    if(t STREQUAL lib)
      set(found TRUE)
      break()
    endif()
    get_target_property(type ${t} TYPE)
    set(deps)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(d ${deps})
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      list(APPEND todo ${d})
    endforeach()
  endwhile()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

function(warren_build_speed_apply)
  _warren_targets_below(${CMAKE_SOURCE_DIR} targets)
  # Test code: every target linking gtest (the last -O on the command line wins).
  set(test_targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      _warren_links(${t} GTest::gtest has_gtest)
      if(has_gtest)
        list(APPEND test_targets ${t})
        if(WARREN_TEST_OPTIMIZE)
          target_compile_options(${t} PRIVATE ${WARREN_TEST_OPTIMIZE})
        endif()
      endif()
    endif()
  endforeach()
  if(NOT WARREN_PCH)
    return()
  endif()
  # Two owners, each compiling its precompiled header once with the flags of the targets that
  # reuse it: warnings, warren_common's definitions (fmt, spdlog), gtest's.
  set(anchor ${CMAKE_BINARY_DIR}/warren_pch_anchor.cc)
  file(CONFIGURE OUTPUT ${anchor} CONTENT "// The precompiled headers' owner (cmake/build_speed.cmake).\n")
  # warren_common's own usage requirements, not warren_common (which reuses warren_pch).
  get_target_property(common_deps warren_common INTERFACE_LINK_LIBRARIES)
  add_library(warren_pch OBJECT ${anchor})
  target_link_libraries(warren_pch PRIVATE ${common_deps} warren_warnings)
  target_precompile_headers(warren_pch PRIVATE ${WARREN_PCH_HEADERS})
  add_library(warren_pch_test OBJECT ${anchor})
  target_link_libraries(warren_pch_test PRIVATE ${common_deps} warren_warnings GTest::gtest GTest::gmock)
  target_precompile_headers(warren_pch_test PRIVATE ${WARREN_PCH_TEST_HEADERS})
  if(WARREN_TEST_OPTIMIZE)
    target_compile_options(warren_pch_test PRIVATE ${WARREN_TEST_OPTIMIZE})
  endif()
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(sources ${t} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.(cc|cpp|cxx)$")
    get_target_property(options ${t} COMPILE_OPTIONS)
    # A target compiled with its own sanitizer (tests/common/uring's uring_asan_test) cannot
    # use a header precompiled without it.
    if(NOT sources OR options MATCHES "-fsanitize")
      continue()
    endif()
    _warren_links(${t} warren_common has_common)
    if(NOT has_common)
      continue()
    endif()
    if(t IN_LIST test_targets)
      target_precompile_headers(${t} REUSE_FROM warren_pch_test)
    else()
      target_precompile_headers(${t} REUSE_FROM warren_pch)
    endif()
  endforeach()
endfunction()
