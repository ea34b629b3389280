#include "common/identity/openssl_errors.h"

#include <openssl/err.h>

namespace warren::identity {

std::string drainOpensslErrors() {
  std::string out;
  // Bounded: the queue holds at most ERR_NUM_ERRORS (16) entries.
  for (int i = 0; i < 32; ++i) {
    const char* data = nullptr;
    int flags = 0;
    unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
    if (code == 0) break;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason part.
    std::string_view text(buf);
    auto pos = text.rfind(':');
    out += pos == std::string_view::npos ? text : text.substr(pos + 1);
    if ((flags & ERR_TXT_STRING) && data != nullptr && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  ERR_clear_error();
  return out;
}

Error opensslError(ErrorCode code, std::string context) {
  std::string detail = drainOpensslErrors();
  if (!detail.empty()) context += ": " + detail;
  return Error(code, std::move(context));
}

}  // namespace warren::identity
