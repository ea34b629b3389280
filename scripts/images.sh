#!/usr/bin/env bash
# Builds Warren's OCI images without a Docker daemon (buildah, into the local containers
# storage podman reads), from the CMake build: each image is `cmake --install --component
# <image>` plus exactly the shared libraries its binaries load (ldd) and the dynamic loader.
#   scripts/images.sh BUILD                     images tagged from the commit, in local storage
#   REGISTRY=registry.example.com/warren scripts/images.sh BUILD   ... also pushed there
# Tags: git-<12 hex of HEAD>, with -dirty when the work tree has changes. Two builds of one
# commit give the same tag and (same binaries, file times and creation time pinned to the
# commit time) the same image ID.
# Writes BUILD/images/tag and the overlays BUILD/deploy/{install,install-waypoint,cleanup} pinned to these
# images (with a cluster CA, made once) for `kubectl apply -k` (deploy/README.md).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v buildah >/dev/null || { echo "images: buildah is not installed (make deps)" >&2; exit 1; }

commit=$(git rev-parse --short=12 HEAD)
tag="git-$commit"
[ -z "$(git status --porcelain --untracked-files=no)" ] || tag="$tag-dirty"
epoch=$(git log -1 --format=%ct HEAD)
registry=${REGISTRY:-localhost}

cmake --build "$build" -j"$(nproc)" --target warren-agent warren-ztunnel warren-cni warrenctl warren-waypoint

# stage IMAGE COMPONENT USER: a root filesystem under $build/images/IMAGE/rootfs.
stage() {
  local image=$1 component=$2 user=$3 dir="$build/images/$1/rootfs"
  rm -rf "$build/images/$image"
  mkdir -p "$dir/etc" "$dir/tmp" "$dir/run" "$dir/var"
  # As on the node: /var/run is /run, so /var/run/netns/<pod> and /run/netns/<pod> both open.
  ln -s ../run "$dir/var/run"
  cmake --install "$build" --component "$component" --prefix "$dir/usr/local" --strip >/dev/null
  if [ -z "$(ls -A "$dir/usr/local/bin" 2>/dev/null)" ]; then
    rm -rf "$build/images/$image"
    return 1
  fi
  # The shared libraries the binaries load, at the paths the loader looks for them.
  local lib
  for lib in $(ldd "$dir"/usr/local/bin/* | awk '/=> \// {print $3} /^[ \t]*\/.* \(0x/ {print $1}' | sort -u); do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
  # /lib64/ld-linux-x86-64.so.2 is how the binaries name their loader.
  local interp
  interp=$(readelf -l "$dir"/usr/local/bin/* 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p' | sort -u)
  for lib in $interp; do mkdir -p "$dir$(dirname "$lib")"; cp -L "$lib" "$dir$lib"; done
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"
  # Reproducible layers: every file dated to the commit.
  find "$dir" -exec touch -h -d "@$epoch" {} +
  echo "$user" >"$build/images/$image/user"
}

# commit IMAGE ENTRYPOINT
commit_image() {
  local image=$1 entrypoint=$2 dir="$build/images/$1/rootfs" user
  user=$(cat "$build/images/$image/user")
  local ctr
  ctr=$(buildah from --quiet scratch)
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' RETURN
  buildah copy --quiet "$ctr" "$dir" / >/dev/null
  buildah config --user "$user" --entrypoint "[\"$entrypoint\"]" --cmd '["--help"]' \
    --workingdir / --env PATH=/usr/local/bin \
    --label org.opencontainers.image.source=warren \
    --label org.opencontainers.image.revision="$commit" \
    --label org.opencontainers.image.version="$tag" "$ctr"
  buildah commit --quiet --omit-history --identity-label=false --timestamp "$epoch" \
    --rm "$ctr" "localhost/$image:$tag" >/dev/null
  trap - RETURN
  local id size
  id=$(buildah images --quiet --no-trunc "localhost/$image:$tag" | head -1)
  size=$(du -sh "$dir" | cut -f1)
  echo "images: localhost/$image:$tag ($size unpacked, ${id#sha256:})" | cut -c1-110
  if [ "$registry" != localhost ]; then
    buildah push --quiet "localhost/$image:$tag" "docker://$registry/$image:$tag"
    echo "images: pushed $registry/$image:$tag"
  fi
}

built=()
# warren-node runs as root: its DaemonSets add capabilities, which Kubernetes grants to root only.
stage warren-node node 0 && commit_image warren-node /usr/local/bin/warren-agent && built+=(warren-node)
stage warren-controller controller 65532:65532 &&
  commit_image warren-controller /usr/local/bin/warren-agent && built+=(warren-controller)
stage warren-waypoint waypoint 65532:65532 &&
  commit_image warren-waypoint /usr/local/bin/warren-waypoint && built+=(warren-waypoint)
[ ${#built[@]} -eq 3 ] || { echo "images: built only ${built[*]:-nothing} of warren-node warren-controller warren-waypoint" >&2; exit 1; }
echo "$tag" >"$build/images/tag"

# The install overlays, pinned to these images.
out="$build/deploy"
mkdir -p "$out/install" "$out/cleanup"
rel=$(realpath --relative-to="$out/install" "$root/deploy")
images_yaml() {
  echo "images:"
  for i in "${built[@]}"; do
    # The overlays below already name them localhost/<image>:<release>.
    printf '  - name: localhost/%s\n    newName: %s/%s\n    newTag: %s\n' "$i" "$registry" "$i" "$tag"
  done
}
if [ ! -f "$out/install/ca.key" ]; then
  # A cluster CA for the node agents (Secret warren-ca), made once and kept across rebuilds.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=cluster.local/CN=warren root CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$out/install/ca.key" -out "$out/install/ca.crt" 2>/dev/null
  chmod 600 "$out/install/ca.key"
fi
{
  echo "# Written by scripts/images.sh: deploy/overlays/default pinned to the images of $tag."
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $rel/overlays/default"
  images_yaml
  echo "secretGenerator:"
  echo "  - name: warren-ca"
  echo "    namespace: warren-system"
  echo "    files: [ca.crt, ca.key]"
} >"$out/install/kustomization.yaml"
{
  echo "# Written by scripts/images.sh: the node clean-up pinned to the images of $tag."
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $(realpath --relative-to="$out/cleanup" "$root/deploy")/cleanup"
  images_yaml
} >"$out/cleanup/kustomization.yaml"
# The install plus the waypoint controller (deploy/overlays/waypoint-controller's component), its
# image and the waypoints it creates pinned to these images too (--waypoint-image).
mkdir -p "$out/install-waypoint"
{
  echo "# Written by scripts/images.sh: the install plus the waypoint controller, pinned to $tag."
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - ../install"
  echo "components:"
  echo "  - $(realpath --relative-to="$out/install-waypoint" "$root/deploy")/components/waypoint-controller"
  echo "images:"
  printf '  - name: warren-controller\n    newName: %s/warren-controller\n    newTag: %s\n' "$registry" "$tag"
  echo "patches:"
  echo "  - target: {kind: Deployment, name: warren-controller, namespace: warren-system}"
  echo "    patch: |-"
  echo "      - op: add"
  echo "        path: /spec/template/spec/containers/0/args/-"
  echo "        value: --waypoint-image=$registry/warren-waypoint:$tag"
} >"$out/install-waypoint/kustomization.yaml"
echo "images: tag $tag; install overlay $out/install (kubectl apply -k), with the waypoint controller $out/install-waypoint, clean-up $out/cleanup"
