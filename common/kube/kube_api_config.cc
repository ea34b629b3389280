#include "common/kube/kube_api_config.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace warren::kube {
namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return fail(WARREN_SYS_ERROR("read " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<std::string> base64Decode(const std::string& in, const std::string& what) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return fail(Error::invalid(what + ": not base64"));
  size_t pad = 0;
  for (auto it = in.rbegin(); it != in.rend() && *it == '='; ++it) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

YAML::Node named(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list.IsSequence()) return YAML::Node();
  for (const auto& item : list)
    if (item["name"] && item["name"].as<std::string>() == name) return item[field];
  return YAML::Node();
}

std::string str(const YAML::Node& n, const char* key) {
  return n && n[key] && n[key].IsScalar() ? n[key].as<std::string>() : "";
}

}  // namespace

Result<KubeApiConfig> inClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host) return fail(Error::notFound("KUBERNETES_SERVICE_HOST is not set"));
  KubeApiConfig c;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  c.server = "https://" + h + ":" + (port && *port ? port : "443");
  auto token = readFile(sa_dir + "/token");
  if (!token) return fail(token.error());
  c.token = *token;
  while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == '\r')) c.token.pop_back();
  c.ca_file = sa_dir + "/ca.crt";
  return c;
}

Result<KubeApiConfig> kubeconfigFile(const std::string& path) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return fail(Error::invalid("kubeconfig " + path + ": " + e.what()));
  }
  KubeApiConfig c;
  std::string ctx_name = str(doc, "current-context");
  YAML::Node ctx = named(doc["contexts"], ctx_name, "context");
  if (!ctx || ctx.IsNull())
    return fail(
        Error::invalid("kubeconfig " + path + ": current-context '" + ctx_name + "' not found"));
  YAML::Node cluster = named(doc["clusters"], str(ctx, "cluster"), "cluster");
  if (!cluster || cluster.IsNull())
    return fail(
        Error::invalid("kubeconfig " + path + ": cluster '" + str(ctx, "cluster") + "' not found"));
  YAML::Node user = named(doc["users"], str(ctx, "user"), "user");
  c.server = str(cluster, "server");
  if (c.server.empty())
    return fail(Error::invalid("kubeconfig " + path + ": cluster has no server"));
  c.ca_file = str(cluster, "certificate-authority");
  if (auto d = str(cluster, "certificate-authority-data"); !d.empty()) {
    auto pem = base64Decode(d, "certificate-authority-data");
    if (!pem) return fail(pem.error());
    c.ca_pem = *pem;
  }
  c.insecure_skip_verify = str(cluster, "insecure-skip-tls-verify") == "true";
  if (user && !user.IsNull()) {
    c.token = str(user, "token");
    if (auto tf = str(user, "tokenFile"); !tf.empty() && c.token.empty()) {
      auto t = readFile(tf);
      if (!t) return fail(t.error());
      c.token = *t;
    }
    c.client_cert_file = str(user, "client-certificate");
    c.client_key_file = str(user, "client-key");
    if (auto d = str(user, "client-certificate-data"); !d.empty()) {
      auto pem = base64Decode(d, "client-certificate-data");
      if (!pem) return fail(pem.error());
      c.client_cert_pem = *pem;
    }
    if (auto d = str(user, "client-key-data"); !d.empty()) {
      auto pem = base64Decode(d, "client-key-data");
      if (!pem) return fail(pem.error());
      c.client_key_pem = *pem;
    }
  }
  return c;
}

Result<KubeApiConfig> discoverKubeApiConfig() {
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host && *host)
    return inClusterConfig("/var/run/secrets/kubernetes.io/serviceaccount");
  if (const char* kc = std::getenv("KUBECONFIG"); kc && *kc) return kubeconfigFile(kc);
  if (const char* home = std::getenv("HOME"); home && *home)
    return kubeconfigFile(std::string(home) + "/.kube/config");
  return fail(Error::notFound("no Kubernetes API config: not in a cluster and no $KUBECONFIG"));
}

}  // namespace warren::kube
