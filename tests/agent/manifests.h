// Small manifest builders for agent tests.
#pragma once

#include <string>

namespace warren::agent::testing {

inline std::string namespaceYaml(const std::string& name, const std::string& mode = "") {
  std::string y = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n";
  if (!mode.empty()) y += "  labels:\n    warren.dev/dataplane-mode: " + mode + "\n";
  return y;
}

inline std::string podYaml(const std::string& ns, const std::string& name, const std::string& node,
                           const std::string& ip, const std::string& labels = "app: web",
                           const std::string& sa = "default") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  uid: uid-" + name + "\n  labels:\n    " + labels + "\nspec:\n  nodeName: " + node +
         "\n  serviceAccountName: " + sa +
         "\n  containers:\n  - name: app\n    image: warren-probe\n    ports:\n    - name: http\n"
         "      containerPort: 8080\nstatus:\n  phase: Running\n  podIP: " + ip + "\n";
}

inline std::string serviceYaml(const std::string& ns, const std::string& name, const std::string& vip,
                               const std::string& selector = "app: web") {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\nspec:\n  clusterIP: " + vip + "\n  selector:\n    " + selector +
         "\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n";
}

}  // namespace warren::agent::testing
