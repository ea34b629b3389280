#!/usr/bin/env bash
# Checks of deploy/ without a cluster (deploy/README.md "Checks"), in `make test` through ctest:
#   deploy/checks/run.sh            render every overlay (kubectl kustomize), yamllint, validate
#                                   against the Kubernetes + Gateway API schemas and our CRDs
#                                   (validate.mjs), lint our invariants (lint.py)
#   deploy/checks/run.sh --selftest the validator rejects a broken manifest naming each error
set -euo pipefail
checks=$(cd "$(dirname "$0")" && pwd)
deploy=$(dirname "$checks")
py=/usr/bin/python3  # Debian's, with python3-yaml
[ -d "$checks/node_modules/kubernetes-models" ] ||
  { echo "checks: $checks/node_modules is missing (make deps runs npm ci there)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "checks: kubectl is not installed (make deps)" >&2; exit 1; }

if [ "${1:-}" = --selftest ]; then
  out=$(node "$checks/validate.mjs" "$checks/testdata/invalid.yaml" "$deploy/base/crds/"*.yaml 2>&1) &&
    { echo "selftest: the validator accepted testdata/invalid.yaml: $out" >&2; exit 1; }
  for want in "DaemonSet y/x: /spec/template/spec/containers/0/ports/0/containerPort must be integer" \
    "PeerAuthentication n/p: /spec/mtls/mode must be equal to one of the allowed values" \
    "HTTPRoute n/r: /spec/rules/0/matches/0/path/type must be equal to one of the allowed values"; do
    [[ "$out" == *"$want"* ]] || { echo "selftest: missing '$want' in: $out" >&2; exit 1; }
  done
  echo "selftest: validate.mjs rejects testdata/invalid.yaml naming its 3 errors"
  exit 0
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for overlay in overlays/default overlays/waypoint-controller cleanup; do
  kubectl kustomize "$deploy/$overlay" >"$out/${overlay//\//-}.yaml"
  echo "render: $overlay: $(grep -c '^kind:' "$out/${overlay//\//-}.yaml") objects"
done
(cd "$deploy" && yamllint -s -c checks/yamllint.yaml .) && echo "yamllint: deploy/ clean"
node "$checks/validate.mjs" "$out"/*.yaml "$deploy/examples/"*.yaml
"$py" "$checks/lint.py" "$out"/*.yaml
