#!/usr/bin/env bash
# images/kind-node/build.sh — build an air-gapped kind node image (no container registry needed), one per
# Kubernetes version.
#
# Everything comes from Debian apt (debootstrap) and the Go module proxy: Kubernetes is built from the
# k8s.io/kubernetes module through a wrapper go.mod pinning the staging modules; etcd, CoreDNS, crictl,
# local-path-provisioner and pause are built from their modules; the CNI is a small DaemonSet (src/default-cni.yaml)
# instead of kindnetd. `kind build node-image` is not used (it pulls images); the node image is assembled by hand.
#
# usage: build.sh [ensure|stage...]       default: ensure
#   ensure   image present (matching key) -> nothing; cached tar present -> docker load; else full build + save tar
#   stages   gomod build rootfs base components node save  (for debugging one stage)
#   key      print the cache key;  tarball  print the cached tar's path;  kubectl DEST  kubectl of this version
# env:  K8S_VERSION (the one variable: the root Makefile passes it), KIND_VERSION (pinned by the root Makefile),
#       CACHE (default ~/.cache/spacefleet), NODE_IMAGE (default spacefleet/kind-node:$K8S_VERSION),
#       ETCD_VERSION COREDNS_VERSION (default: the table below), CRICTL_VERSION, GOMODCACHE/GOCACHE (warm across runs)
# work dir: $CACHE/kind-node-$K8S_VERSION (rootfs, wrapper modules, binaries, logs); finished image:
# $CACHE/images/kind-node-$K8S_VERSION-<key>.tar.zst. Each version has its own work dir, lock and tars: building one
# version never waits for, rewrites or evicts another.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
SRC=$HERE/src
CACHE=${CACHE:-$HOME/.cache/spacefleet}
IMGCACHE=$CACHE/images

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.${K8S_VERSION#v1.}}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
# What else a Kubernetes minor needs, as the Go module proxy here serves it. etcd: the version kubeadm of that minor
# asks for (`kubeadm config images list`; the image is tagged with kubeadm's name). CoreDNS: kubeadm 1.30 asks for
# 1.11.3, whose quic-go does not build with this Go; one CoreDNS serves every minor (tagged as kubeadm asks).
# crictl: one for every minor (it speaks CRI v1 to the node's containerd, whatever the Kubernetes version; kubeadm up to
# 1.30 runs `crictl info|pods|stopp|rmp|pull|inspecti`, kind `crictl inspecti`): the proxy serves cri-tools v1.34.0
# and v1.37.0 only, and one version lets every node share one add-on build (addons_mod).
MINOR=$(echo "${K8S_VERSION#v}" | cut -d. -f1-2)
case $MINOR in
  #     etcd              CoreDNS
  1.30) d_etcd=v3.5.15;   d_coredns=v1.14.6 ;;
  1.33) d_etcd=v3.5.23;   d_coredns=v1.14.3 ;;
  1.37) d_etcd=v3.7.0;    d_coredns=v1.14.6 ;;
  *) echo "build.sh: no row for Kubernetes $MINOR in the version table (images/kind-node/build.sh): add its etcd and CoreDNS" >&2; exit 2 ;;
esac
ETCD_VERSION=${ETCD_VERSION:-$d_etcd}
COREDNS_VERSION=${COREDNS_VERSION:-$d_coredns}
CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}
LPP_VERSION=${LPP_VERSION:-v0.0.30}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NODE_IMAGE=${NODE_IMAGE:-spacefleet/kind-node:$K8S_VERSION}
# Never $CACHE/kind-node/...: clones of the older recipe use that directory and delete parts of it.
W=$CACHE/kind-node-$K8S_VERSION
# Intermediate images are per version too (two versions may build at the same moment).
BASE_IMAGE=spacefleet/kind-base:$SUITE-$K8S_VERSION
KP_BASE_IMAGE=spacefleet/kube-proxy-base:$SUITE-$K8S_VERSION

export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS=
export PATH=$W/k8s/bin:/usr/local/go/bin:$PATH

log() { echo "[kind-node $K8S_VERSION $(date +%T)] $*" >&2; }
# cpu_now: CPU seconds (user+sys) of this shell's finished children so far, into CPU_S (bash `times`, no subshell)
cpu_now() {
  local f u s; mkdir -p "$W/logs"; f=$W/logs/.times.$BASHPID
  times > "$f"; { read -r _ _; read -r u s; } < "$f"; rm -f "$f"
  CPU_S=$(awk -v u="$u" -v s="$s" 'function sec(x, a) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
    BEGIN { printf "%d", sec(u) + sec(s) }')
}
# timed NAME CMD...: wall and CPU time of a stage, and the load while it ran, into $W/logs/timings.txt
timed() {
  local s d c0; s=$(date +%s); cpu_now; c0=$CPU_S; log "$1 ..."; "${@:2}"; d=$(( $(date +%s) - s )); cpu_now
  log "$1 done in ${d}s (cpu $(( CPU_S - c0 ))s, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "$(date +%FT%T) $1 wall=${d}s cpu=$(( CPU_S - c0 ))s load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >> "$W/logs/timings.txt"
}

# The cache key: every file of this recipe + every version. Changing any of them rebuilds the image.
key() {
  { cd "$HERE" && find . -type f ! -name README.md | LC_ALL=C sort | xargs sha256sum
    echo "$K8S_VERSION $STAGING_VERSION $ETCD_VERSION $COREDNS_VERSION $CRICTL_VERSION $LPP_VERSION $KIND_VERSION $SUITE $NODE_IMAGE"
  } | sha256sum | cut -c1-16
}
KEY=$(key)
TARBALL=$IMGCACHE/kind-node-$K8S_VERSION-$KEY.tar.zst

kind_src() { mkdir -p "$W"; (cd "$W" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir); }
# the local-path images kind's storage manifest (kind $KIND_VERSION) asks for; the helper also runs the CNI
kind_storage_image() { # storageProvisionerImage | storageHelperImage
  local v; v=$(sed -n "s/^const $1 = \"\(.*\)\"\$/\1/p" "$(kind_src)/pkg/build/nodeimage/const_storage.go")
  [ -n "$v" ] || { echo "no $1 in kind $KIND_VERSION's pkg/build/nodeimage/const_storage.go" >&2; exit 1; }
  echo "$v"
}

# ---------------------------------------------------------------- Go modules (wrapper modules under $W)
wrapper_mod() { # dir module@version...
  mkdir -p "$W/$1"; printf 'module kindnode/%s\n\ngo 1.24.0\n' "$1" > "$W/$1/go.mod"
  echo "package x" > "$W/$1/tools.go"; (cd "$W/$1" && go get "${@:2}")
}
gomod_k8s() {
  mkdir -p "$W/k8s"; cd "$W"
  # k8s.io/kubernetes replaces every k8s.io/* staging module with ./staging/... paths that are not in the module
  # zip: depend on it from a wrapper module that pins each staging module to $STAGING_VERSION instead.
  local gm; gm=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
  { printf 'module kindnode/k8s\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    sed -n '/^replace/,/^)/p' "$gm" | grep '=>' | awk -v v="$STAGING_VERSION" '{print "\t"$1" => "$1" "v}'
    echo ')'; } > k8s/go.mod
  echo "package k8s" > k8s/tools.go
  local pkgs=() c
  for c in kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    pkgs+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION")
  done
  (cd k8s && go get "${pkgs[@]}")
}
# CoreDNS (src/coredns/main.go: the plugins a node's Corefile uses), local-path-provisioner and crictl in one module:
# one dependency graph, so the client-go, API types and gRPC they share compile once, not once per program (each
# pinned another client-go). Nothing in it depends on the Kubernetes minor: every node version builds the same
# graph and finds it in the Go build cache. The checksum DB (through the proxy here) does not answer for cri-tools
# and its k8s.io/cri-client dependency: GONOSUMDB for those.
ADDON_PKGS=(./coredns github.com/rancher/local-path-provisioner sigs.k8s.io/cri-tools/cmd/crictl)
# one `go build` per program: together, the go command refuses the build for an import path two of them spell with
# different case (an old github.com/Sirupsen/logrus deep in local-path-provisioner's graph); apart, they still share
# every compiled package through the build cache
go_build_addons() {
  local p
  for p in "${ADDON_PKGS[@]}"; do
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" -o bin/ "$p" || return 1
  done
}
addons_mod() {
  rm -rf "$W/addons"; mkdir -p "$W/addons/coredns"
  sed '/^\/\/go:build ignore$/d' "$SRC/coredns/main.go" > "$W/addons/coredns/main.go"
  local get=("github.com/rancher/local-path-provisioner@$LPP_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION") p
  while read -r p; do get+=("$p@$COREDNS_VERSION"); done \
    < <(sed -n 's/^\t_\{0,1\} *"\(github.com\/coredns\/coredns\/[^"]*\)"$/\1/p' "$W/addons/coredns/main.go")
  GONOSUMDB=sigs.k8s.io/cri-tools,k8s.io wrapper_mod addons "${get[@]}"
}
gomod() {
  gomod_k8s; cd "$W"
  wrapper_mod etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  addons_mod
  rm -rf pause; cp -r "$SRC/pause" pause
  kind_src >/dev/null
}

# ---------------------------------------------------------------- Go build (binaries under $W/*/bin)
k8s_ldflags() {
  local maj min ld="-s -w" p
  maj=$(echo "${K8S_VERSION#v}" | cut -d. -f1); min=$(echo "${K8S_VERSION#v}" | cut -d. -f2)
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do   # what hack/lib/version.sh sets
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$maj -X $p.gitMinor=$min -X $p.gitTreeState=clean"
    ld="$ld -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=2025-01-01T00:00:00Z"
  done
  echo "$ld"
}
# kubectl alone (the `tools-kind` target), from the same wrapper module: build.sh kubectl DEST. The node image's
# own kubectl when this version's node was built here (no second compile), else built from the wrapper module.
kubectl_bin() {
  work_lock
  if [ -x "$W/k8s/bin/kubectl" ] && "$W/k8s/bin/kubectl" version --client 2>/dev/null | grep -x "Client Version: $K8S_VERSION" >/dev/null; then
    log "kubectl: the node image's ($W/k8s/bin/kubectl)"; cp "$W/k8s/bin/kubectl" "$1"; return
  fi
  [ -f "$W/k8s/go.sum" ] || gomod_k8s
  (cd "$W/k8s" && go build -trimpath -ldflags "$(k8s_ldflags)" -o "$1" k8s.io/kubernetes/cmd/kubectl)
}
go_build_k8s() { # ldflags
  go build -v -trimpath -tags selinux,notest -ldflags "$1" -o bin/ "${K8S_PKGS[@]}" 2> "$W/logs/go-build-kubernetes.log" \
    || { tail -30 "$W/logs/go-build-kubernetes.log" >&2; return 1; }
}
build() {
  cd "$W"
  local ld; ld=$(k8s_ldflags)
  local c; K8S_PKGS=()
  for c in kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do K8S_PKGS+=("k8s.io/kubernetes/cmd/$c"); done
  (cd k8s && mkdir -p bin && timed go-build-kubernetes go_build_k8s "$ld")
  # -v listed the packages actually compiled (not found in the Go build cache): how cold this build was
  local all; all=$(cd k8s && go list -deps -tags selinux,notest "${K8S_PKGS[@]}" | wc -l)
  echo "$(grep -c . "$W/logs/go-build-kubernetes.log" || true) of $all packages compiled (the rest came from the Go build cache)" \
    | tee "$W/logs/go-build-kubernetes.txt" >&2
  (cd etcd && mkdir -p bin && timed go-build-etcd go build -trimpath -ldflags "-s -w" -o bin/etcd go.etcd.io/etcd/server/v3)
  (cd addons && mkdir -p bin && timed go-build-addons go_build_addons)
  (cd pause && mkdir -p bin && go build -trimpath -ldflags "-s -w" -o bin/pause .)
}

# ---------------------------------------------------------------- Debian root filesystems
rootfs() {
  command -v debootstrap >/dev/null || { echo "missing debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  [ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
  mkdir -p "$W/logs"; cd "$W"
  # node: what kind's base image installs (minus nfs/iscsi) + Debian's containerd, runc and CNI plugins
  [ -e rootfs/usr/bin/containerd ] || { rm -rf rootfs; debootstrap --variant=minbase \
    --include=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,fuse-overlayfs \
    "$SUITE" rootfs "$MIRROR" > logs/debootstrap-node.log 2>&1; } &
  # kube-proxy image: iptables, nftables, conntrack
  [ -e rootfs-kp/usr/sbin/xtables-nft-multi ] || { rm -rf rootfs-kp; debootstrap --variant=minbase \
    --include=iptables,nftables,conntrack "$SUITE" rootfs-kp "$MIRROR" > logs/debootstrap-kp.log 2>&1; } &
  wait
  if [ ! -e rootfs/usr/bin/containerd ] || [ ! -e rootfs-kp/usr/sbin/xtables-nft-multi ]; then tail -20 logs/debootstrap-*.log >&2; exit 1; fi
  # busybox: local-path helper image and the CNI installer DaemonSet
  rm -rf rootfs-bb; mkdir -p rootfs-bb/bin rootfs-bb/tmp rootfs-bb/etc; chmod 1777 rootfs-bb/tmp
  cp /bin/busybox rootfs-bb/bin/ && chroot rootfs-bb /bin/busybox --install -s /bin
}

# ---------------------------------------------------------------- kind base image (mirrors kind's images/base/Dockerfile)
base() {
  cd "$W"
  local R=rootfs KB; KB=$(kind_src)/images/base/files
  if [ ! -e $R/kind/bin/mount-product-files.sh ]; then
    install -m0755 "$KB"/usr/local/bin/* $R/usr/local/bin/
    mkdir -p $R/kind/bin $R/LICENSES $R/etc/containerd $R/etc/default $R/etc/sysctl.d $R/etc/systemd/system/kubelet.service.d
    install -m0644 "$KB"/kind/README.txt $R/kind/; install -m0755 "$KB"/kind/bin/* $R/kind/bin/
    install -m0644 "$KB"/LICENSES/* $R/LICENSES/; install -m0644 "$KB"/etc/crictl.yaml $R/etc/
    install -m0644 "$KB"/etc/containerd/config.toml $R/etc/containerd/
    install -m0644 "$KB"/etc/default/kubelet $R/etc/default/; install -m0644 "$KB"/etc/sysctl.d/* $R/etc/sysctl.d/
    install -m0644 "$KB"/etc/systemd/system/*.service "$KB"/etc/systemd/system/*.slice $R/etc/systemd/system/
    install -m0644 "$KB"/etc/systemd/system/kubelet.service.d/* $R/etc/systemd/system/kubelet.service.d/
    # kind expects containerd in /usr/local/bin and CNI plugins in /opt/cni/bin; Debian uses /usr/bin and /usr/lib/cni
    for b in containerd ctr containerd-shim-runc-v2; do ln -sf /usr/bin/$b $R/usr/local/bin/$b; done
    mkdir -p $R/opt/cni; rm -rf $R/opt/cni/bin; ln -s /usr/lib/cni $R/opt/cni/bin
    find $R/lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
    rm -f $R/lib/systemd/system/multi-user.target.wants/* $R/etc/systemd/system/*.wants/* \
          $R/lib/systemd/system/local-fs.target.wants/* $R/lib/systemd/system/sockets.target.wants/*udev* \
          $R/lib/systemd/system/sockets.target.wants/*initctl* $R/lib/systemd/system/basic.target.wants/*
    echo "ReadKMsg=no" >> $R/etc/systemd/journald.conf
    ln -sf /lib/systemd/systemd $R/sbin/init
    chroot $R systemctl enable kubelet.service containerd.service undo-mount-hacks.service
    chroot $R systemctl mask systemd-binfmt.service
    mkdir -p $R/etc/kubernetes/manifests
    # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj ("can't get final child's PID from pipe: EOF" on
    # every pod sandbox): let containerd clamp pod oom_score_adj to its own value. Harmless elsewhere.
    sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' $R/etc/containerd/config.toml
    chroot $R ctr oci spec \
      | chroot $R jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | chroot $R jq 'del(.process.rlimits)' > $R/etc/containerd/cri-base.json
    rm -rf $R/var/cache/apt/archives/*.deb $R/var/lib/apt/lists/* $R/usr/share/doc/* $R/usr/share/man/* \
           $R/usr/share/info/* $R/usr/share/locale/* $R/var/log/*.log $R/var/cache/debconf/*-old
    : > $R/etc/machine-id
  fi
  tar -C "$R" --numeric-owner -cf - . | docker import - "$BASE_IMAGE-raw" >/dev/null
  rm -rf ctx/base; mkdir -p ctx/base   # docker import --change cannot set STOPSIGNAL on docker 20.10
  printf 'FROM %s-raw\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]\n' "$BASE_IMAGE" > ctx/base/Dockerfile
  local out; out=$(docker build -q -t "$BASE_IMAGE" ctx/base 2>&1) || { echo "$out" >&2; exit 1; }
  # kube-proxy base: Debian minbase + iptables-wrapper (picks nft vs legacy like the upstream images)
  R=rootfs-kp
  rm -rf $R/var/cache/apt/archives/*.deb $R/var/lib/apt/lists/* $R/usr/share/doc/* $R/usr/share/man/* $R/usr/share/info/* $R/usr/share/locale/*
  install -m0755 "$SRC/iptables-wrapper" $R/usr/sbin/iptables-wrapper
  for x in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf iptables-wrapper $R/usr/sbin/$x; done
  tar -C "$R" --numeric-owner -cf - . | docker import - "$KP_BASE_IMAGE" >/dev/null
}

# ---------------------------------------------------------------- component images (exact names kubeadm/kind ask for)
img() { # name ctxdir
  docker build -q -t "$1" "$2" >/dev/null 2>&1 || docker build -t "$1" "$2"
  docker save -o "$W/component-images/$(echo "$1" | tr '/:' '__').tar" "$1"
}
scratch_img() { # name binary dest [entrypoint]
  local d; d=$W/ctx/$(basename "$2"); rm -rf "$d"; mkdir -p "$d/tmp"; chmod 1777 "$d/tmp"; cp "$2" "$d/"
  { echo "FROM scratch"; echo "COPY tmp /tmp"; echo "COPY $(basename "$2") $3"; echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
    if [ -n "${4:-}" ]; then echo "ENTRYPOINT [\"$4\"]"; fi; } > "$d/Dockerfile"
  img "$1" "$d"
}
components() {
  cd "$W"; rm -rf component-images; mkdir -p component-images ctx
  # etcd/CoreDNS tags differ from the versions that could be built: use the names kubeadm asks for
  local list etcd_img coredns_img pause_img sandbox R=registry.k8s.io c d lpp_img lpp_helper_img
  lpp_img=$(kind_storage_image storageProvisionerImage); lpp_helper_img=$(kind_storage_image storageHelperImage)
  list=$(k8s/bin/kubeadm config images list --kubernetes-version "$K8S_VERSION")
  etcd_img=$(echo "$list" | grep /etcd:); coredns_img=$(echo "$list" | grep /coredns); pause_img=$(echo "$list" | grep /pause:)
  sandbox=$(grep -oP 'sandbox_image = "\K[^"]+' rootfs/etc/containerd/config.toml)   # containerd's sandbox image
  for c in kube-apiserver kube-controller-manager kube-scheduler; do scratch_img "$R/$c:$K8S_VERSION" "k8s/bin/$c" "/usr/local/bin/$c"; done
  scratch_img "$etcd_img" etcd/bin/etcd /usr/local/bin/etcd
  scratch_img "$coredns_img" addons/bin/coredns /coredns /coredns
  scratch_img "$pause_img" pause/bin/pause /pause /pause
  [ "$sandbox" = "$pause_img" ] || { docker tag "$pause_img" "$sandbox"; docker save -o component-images/sandbox.tar "$sandbox"; }
  scratch_img "$lpp_img" addons/bin/local-path-provisioner /usr/local/bin/local-path-provisioner
  tar -C rootfs-bb --numeric-owner -cf - . | docker import --change 'ENV PATH=/bin' - "$lpp_helper_img" >/dev/null
  docker save -o component-images/local-path-helper.tar "$lpp_helper_img"
  d=ctx/kube-proxy; rm -rf $d; mkdir -p $d; cp k8s/bin/kube-proxy $d/
  printf 'FROM %s\nCOPY kube-proxy /usr/local/bin/kube-proxy\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' "$KP_BASE_IMAGE" > $d/Dockerfile
  img "$R/kube-proxy:$K8S_VERSION" "$d"
}

# ---------------------------------------------------------------- node image (a by-hand `kind build node-image`)
node() {
  cd "$W"; mkdir -p manifests extract
  # kindnetd cannot be fetched; the CNI runs on the local-path helper image (busybox), which the node carries anyway
  sed "s|@LPP_HELPER_IMAGE@|$(kind_storage_image storageHelperImage)|" "$SRC/default-cni.yaml" > manifests/default-cni.yaml
  printf 'module kindnode/extract\n\ngo 1.24.0\n' > extract/go.mod   # kind's default storage manifest, verbatim
  sed 's/^package nodeimage/package main/' "$(kind_src)/pkg/build/nodeimage/const_storage.go" > extract/storage.go
  printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Print(defaultStorageManifest) }\n' > extract/main.go
  (cd extract && go run .) > manifests/default-storage.yaml
  local cid t
  cid=$(docker run -d --entrypoint=sleep --security-opt seccomp=unconfined "$BASE_IMAGE" infinity)
  trap "docker rm -f -v '$cid' >/dev/null 2>&1 || true" EXIT
  for b in kubeadm kubelet kubectl; do docker cp "k8s/bin/$b" "$cid:/usr/bin/$b"; done
  docker cp addons/bin/crictl "$cid:/usr/local/bin/crictl"
  docker exec "$cid" chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl
  docker exec "$cid" sh -c "printf '%s' '$K8S_VERSION' > /kind/version && mkdir -p /kind/manifests"
  docker cp manifests/default-cni.yaml "$cid:/kind/manifests/default-cni.yaml"
  docker cp manifests/default-storage.yaml "$cid:/kind/manifests/default-storage.yaml"
  docker exec "$cid" bash -c 'nohup containerd > /var/log/containerd-build.log 2>&1 &'
  for _ in $(seq 100); do docker exec "$cid" ctr version >/dev/null 2>&1 && break; sleep 0.2; done
  for t in component-images/*.tar; do
    docker exec -i "$cid" ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - < "$t" >/dev/null
  done
  docker exec "$cid" ctr --namespace=k8s.io images ls -q | grep -v '^sha256:' >&2
  docker exec "$cid" pkill containerd || true
  for _ in $(seq 100); do docker exec "$cid" pgrep containerd >/dev/null || break; sleep 0.2; done
  docker exec "$cid" rm -f /var/log/containerd-build.log
  docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
    --change "LABEL io.spacefleet.kind-node.key=$KEY" --change "LABEL io.spacefleet.kind-node.kubernetes=$K8S_VERSION" \
    "$cid" "$NODE_IMAGE" >/dev/null
  docker rm -f -v "$cid" >/dev/null; trap - EXIT
}

save() {
  mkdir -p "$IMGCACHE"
  docker save "$NODE_IMAGE" | zstd -T0 -3 -q -o "$TARBALL.$$.tmp" && mv -f "$TARBALL.$$.tmp" "$TARBALL"
  # keep only the current key's tarball of THIS version (other versions' tars stay: each is cached on its own)
  find "$IMGCACHE" -maxdepth 1 -name "kind-node-$K8S_VERSION-*.tar.zst" ! -name "$(basename "$TARBALL")" -delete
}

image_key() { docker image inspect -f '{{ index .Config.Labels "io.spacefleet.kind-node.key" }}' "$NODE_IMAGE" 2>/dev/null || true; }

# The work dir and the image cache serve every clone on the machine, sometimes at the same moment: one run per
# version at a time works in $W (held until this script exits); the others wait, then find the image it built.
# Another version has another lock and builds meanwhile.
work_lock() {
  local l=$CACHE/locks/kind-node-$K8S_VERSION.lock
  mkdir -p "$CACHE/locks"
  exec 9>"$l"
  if ! flock -n 9; then log "waiting for another run using $W (lock $l)"; flock 9; fi
}

ensure() {
  work_lock
  if [ "$(image_key)" = "$KEY" ]; then
    log "$NODE_IMAGE is up to date (key $KEY)"; [ -s "$TARBALL" ] || timed save save; return
  fi
  if [ -s "$TARBALL" ]; then
    timed docker-load sh -c "zstd -dc '$TARBALL' | docker load >/dev/null"
    [ "$(image_key)" = "$KEY" ] && { log "$NODE_IMAGE loaded from $TARBALL"; return; }
    log "cached tarball does not hold key $KEY: rebuilding"
  fi
  log "building $NODE_IMAGE (key $KEY) in $W"
  mkdir -p "$W/logs"
  # the Debian rootfs (network: apt) runs while the modules download and Kubernetes compiles
  ( timed rootfs rootfs ) > "$W/logs/rootfs.log" 2>&1 &
  local rootfs_pid=$!
  log "go modules (log: $W/logs/gomod.log)"
  timed gomod gomod 2> "$W/logs/gomod.log" || { tail -20 "$W/logs/gomod.log" >&2; exit 1; }
  timed build build
  wait $rootfs_pid || { cat "$W/logs/rootfs.log" >&2; exit 1; }
  timed base base
  timed components components
  timed node node
  timed save save
  docker images "$NODE_IMAGE" >&2
}

[ $# -eq 0 ] && set -- ensure
for s in "$@"; do
  case $s in
    ensure) ensure ;;
    key) echo "$KEY" ;;
    tarball) echo "$TARBALL" ;;
    kubectl) shift; kubectl_bin "${1:?usage: build.sh kubectl DEST}"; exit 0 ;;
    gomod|build|rootfs|base|components|node|save) timed "$s" "$s" ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done
