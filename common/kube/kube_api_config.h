// Where and how to reach the Kubernetes API: in-cluster (service-account token and CA under
// /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT) or a
// kubeconfig (current context: server, certificate-authority[-data], token or client
// certificate[-data], insecure-skip-tls-verify).
#pragma once

#include <string>

#include "common/error.h"

namespace warren::kube {

struct KubeApiConfig {
  std::string server;  // "https://10.96.0.1:443" (http:// only for tests)
  std::string token;
  std::string ca_file, ca_pem;
  std::string client_cert_file, client_cert_pem;
  std::string client_key_file, client_key_pem;
  bool insecure_skip_verify = false;
};

// `sa_dir` is normally /var/run/secrets/kubernetes.io/serviceaccount.
Result<KubeApiConfig> inClusterConfig(const std::string& sa_dir);
Result<KubeApiConfig> kubeconfigFile(const std::string& path);
// In-cluster when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG, else ~/.kube/config.
Result<KubeApiConfig> discoverKubeApiConfig();

}  // namespace warren::kube
