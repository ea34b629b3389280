// Stand-in for libFuzzer's main when not fuzzing: feeds each file (or each file in each
// directory) named on the command line to LLVMFuzzerTestOneInput once. Exit 0 when every
// input ran; a crash or sanitizer report fails the run, which is the point.
// `--make-seeds DIR` writes the target's seed corpus into DIR when the target defines
// WarrenFuzzMakeSeeds (a weak symbol, so targets without seeds need nothing).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int WarrenFuzzMakeSeeds(const char* dir);

namespace {

bool runFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--make-seeds") {
    if (WarrenFuzzMakeSeeds == nullptr) {
      std::fprintf(stderr, "replay: this target has no seed maker\n");
      return 2;
    }
    return WarrenFuzzMakeSeeds(argv[2]);
  }
  int ran = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(p, ec)) {
        if (entry.is_regular_file()) {
          ok = runFile(entry.path()) && ok;
          ++ran;
        }
      }
    } else {
      ok = runFile(p) && ok;
      ++ran;
    }
  }
  std::fprintf(stderr, "replay: %d inputs\n", ran);
  return ok ? 0 : 1;
}
