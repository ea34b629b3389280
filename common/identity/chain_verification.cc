#include "common/identity/chain_verification.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>

#include "common/identity/openssl_errors.h"

namespace warren::identity {
namespace {

std::string joinUris(std::span<const SpiffeId> ids) {
  std::vector<std::string_view> uris;
  uris.reserve(ids.size());
  for (const auto& id : ids) uris.push_back(id.uri());
  return fmt::format("[{}]", fmt::join(uris, ", "));
}

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

}  // namespace

Result<SpiffeId> checkIdentity(std::span<const SpiffeId> presented, const IdentityPolicy& policy) {
  if (presented.empty()) {
    return fail(Error(ErrorCode::kPermissionDenied,
                      "peer certificate has no SPIFFE URI SAN (spiffe://<td>/ns/<ns>/sa/<sa>)"));
  }
  if (!policy.trust_domain.empty()) {
    for (const auto& id : presented) {
      if (id.trustDomain() != policy.trust_domain) {
        return fail(Error(ErrorCode::kPermissionDenied,
                          fmt::format("peer identity {} is in trust domain \"{}\", expected \"{}\"",
                                      id.uri(), id.trustDomain(), policy.trust_domain)));
      }
    }
  }
  if (policy.expected.empty()) return presented.front();
  for (const auto& want : policy.expected) {
    for (const auto& id : presented) {
      if (id == want) return id;
    }
  }
  return fail(Error(ErrorCode::kPermissionDenied,
                    fmt::format("peer identity {} is not one of the expected identities {}",
                                joinUris(presented), joinUris(policy.expected))));
}

Result<ossl::X509Store> makeRootStore(std::span<const ossl::X509Ptr> roots) {
  if (roots.empty()) return fail(Error::invalid("no trust roots"));
  ossl::X509Store store(X509_STORE_new());
  if (!store) return fail(opensslError(ErrorCode::kInternal, "allocating an X509_STORE"));
  for (size_t i = 0; i < roots.size(); ++i) {
    if (X509_STORE_add_cert(store.get(), roots[i].get()) != 1) {
      return fail(opensslError(ErrorCode::kInvalidArgument, fmt::format("adding root {}", i)));
    }
  }
  return store;
}

Result<SpiffeId> verifyCertificateChain(X509* leaf, std::span<const ossl::X509Ptr> intermediates,
                                        std::span<const ossl::X509Ptr> roots, Clock::time_point now,
                                        const IdentityPolicy& policy) {
  if (leaf == nullptr) return fail(Error::invalid("verifyCertificateChain: no leaf"));
  auto store = makeRootStore(roots);
  if (!store) return fail(std::move(store).error());
  X509Stack untrusted(sk_X509_new_null());
  if (!untrusted) return fail(opensslError(ErrorCode::kInternal, "allocating a stack"));
  for (const auto& c : intermediates) {
    if (!X509_add_cert(untrusted.get(), c.get(), X509_ADD_FLAG_UP_REF)) {
      return fail(opensslError(ErrorCode::kInternal, "collecting intermediates"));
    }
  }
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store->get(), leaf, untrusted.get()) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "initialising chain verification"));
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return fail(Error(ErrorCode::kPermissionDenied,
                      fmt::format("certificate chain does not verify: {} (at depth {})",
                                  X509_verify_cert_error_string(err),
                                  X509_STORE_CTX_get_error_depth(ctx.get()))));
  }
  auto ids = spiffeIdsOf(leaf);
  return checkIdentity(ids, policy);
}

}  // namespace warren::identity
