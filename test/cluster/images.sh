#!/usr/bin/env bash
# Builds kubeburst's images with no registry and no Docker engine, from the
# project's own Dockerfiles, and writes what was built to
# <cache>/images/images.env:
#
#   1. node base images from debootstrap (Debian $BASE_SUITE: Node.js >= 20.19,
#      ca-certificates, users node/1000 and nonroot/65532):
#        localhost/kubeburst/node-runtime:<hash>  the runtime stage's FROM
#        localhost/kubeburst/node-build:<hash>    + npm and the host CA bundle
#                                                 (npm reaches its registry
#                                                 through an intercepting proxy)
#   2. docker.io/kubeburst/worker:<hash> and docker.io/kubeburst/operator:<hash>
#      with `buildah bud`, the Dockerfiles' base images given as build
#      arguments (their defaults stay the upstream names);
#   3. an OCI archive of each, which node-up.sh imports into containerd.
#
# Every image is tagged with a hash of its inputs (recipe, Dockerfile, the
# build context's files, the base's hash): an unchanged input costs a stat, a
# changed one rebuilds that image and what depends on it.
#
# Usage: test/cluster/images.sh            (as root: debootstrap and buildah)
#        test/cluster/images.sh project DIR BASE
#            a worker project of a user's own: DIR's Dockerfile (the one
#            `kubeburst init` writes) built on the worker image BASE, its
#            build argument WORKER_IMAGE, cached by a hash of DIR's files and
#            BASE; prints IMAGE=<ref> and ARCHIVE=<its OCI archive> (the e2e
#            imports it into the node's containerd)
#   KUBEBURST_IMAGES_FORCE=1  rebuild even when the hashes match
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGES=$CACHE_ROOT/images
mkdir -p "$IMAGES"
exec 8>"$IMAGES/.lock"
flock 8

BASE_SUITE=trixie
BASE_PACKAGES=nodejs,ca-certificates
NPM_VERSION=10.9.4
HOST_CA=/etc/ssl/certs/ca-certificates.crt

sha() { sha256sum | cut -c1-16; }

# buildah's own storage under the cache (layers stay warm between runs); its
# run root is transient. chroot isolation: no user namespaces or runc needed.
BUILDAH_RUN=/run/kubeburst-buildah-$(echo "$IMAGES" | sha | cut -c1-8)
buildah() { command buildah --root "$IMAGES/storage" --runroot "$BUILDAH_RUN" --storage-driver overlay "$@"; }
have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }
cleanup() {
  buildah rm --all >/dev/null 2>&1 || true
  umount -R "$BUILDAH_RUN" 2>/dev/null || true
  rm -rf "$BUILDAH_RUN" "$IMAGES/tmp.$$"
}

# --- a user's worker project ------------------------------------------------------
build_project() { # dir base
  local dir base=$2 name hash image archive t0=$SECONDS
  dir=$(cd "$1" && pwd) || die "no directory $1"
  [[ -f $dir/Dockerfile ]] || die "no Dockerfile in $dir"
  name=$(basename "$dir" | tr -c 'a-z0-9\n' '-')
  # Every file of the build context (node_modules aside: the recipe installs its own), and the base.
  hash=$( {
    echo "$base"
    cd "$dir" && find . -type f ! -path './node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
  } | sha)
  image=localhost/kubeburst/project-$name:$hash
  archive=$IMAGES/project-$name-$hash.oci.tar
  if [[ -n ${KUBEBURST_IMAGES_FORCE:-} || ! -f $archive ]]; then
    [[ $(id -u) == 0 ]] || die "images.sh builds with buildah as root; rerun as root"
    type -P buildah >/dev/null || die "buildah is missing: run images.sh (no arguments) first, which installs it"
    trap cleanup EXIT
    if ! have_image "$base"; then
      # Pruned from buildah's storage by another checkout's build: its archive is the same image.
      # shellcheck source=/dev/null
      [[ -f $IMAGES/images.env ]] && . "$IMAGES/images.env"
      [[ $base == "${KUBEBURST_WORKER_IMAGE:-}" && -f ${KUBEBURST_WORKER_ARCHIVE:-} ]] ||
        die "$base is neither in buildah's storage nor the worker image of $IMAGES/images.env: run images.sh first"
      buildah tag "$(buildah pull -q "oci-archive:$KUBEBURST_WORKER_ARCHIVE")" "$base" >/dev/null
    fi
    log "project $name: building $image on $base ..."
    buildah bud --pull=never --network=host --isolation=chroot --layers=false --build-arg "WORKER_IMAGE=$base" \
      -f "$dir/Dockerfile" -t "$image" "$dir" >"$IMAGES/project-$name-build.log" 2>&1 ||
      die "building $dir/Dockerfile failed; see $IMAGES/project-$name-build.log"
    rm -f "$archive.tmp"
    buildah push "$image" "oci-archive:$archive.tmp:$image" >/dev/null 2>>"$IMAGES/project-$name-build.log" || die "exporting $image failed; see $IMAGES/project-$name-build.log"
    mv -f "$archive.tmp" "$archive"
    # The archive is the cache: buildah's storage keeps images.sh's own images only.
    buildah rmi "$image" >/dev/null 2>&1 || true
    find "$IMAGES" -maxdepth 1 -name "project-$name-*.oci.tar" ! -name "project-$name-$hash.oci.tar" -delete
    log "project $name: built $image in $((SECONDS - t0)) s"
  fi
  printf 'IMAGE=%s\nARCHIVE=%s\n' "$image" "$archive"
}
if [[ ${1:-} == project ]]; then
  (($# == 3)) || die "usage: images.sh project DIR BASE_IMAGE"
  build_project "$2" "$3"
  exit 0
fi

# Files of a build context as `buildah bud` sees them: tracked or new (not
# git-ignored), minus what .dockerignore drops (dist, node_modules, results).
context_hash() { # paths...
  (
    cd "$REPO_ROOT"
    git ls-files -co --exclude-standard -- "$@" |
      grep -vE '(^|/)(dist|node_modules|coverage)/|\.tsbuildinfo$|^bench/results/' |
      LC_ALL=C sort | while read -r f; do [[ -f $f ]] && printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -c1-64)"; done
  ) | sha
}

BASE_HASH=$(
  {
    echo "$BASE_SUITE $BASE_PACKAGES npm@$NPM_VERSION"
    sed -n '/^# --- base/,/^# --- end base/p' "${BASH_SOURCE[0]}"
    [[ -f $HOST_CA ]] && sha256sum <"$HOST_CA"
  } | sha
)
RUNTIME_BASE=localhost/kubeburst/node-runtime:$BASE_HASH
BUILD_BASE=localhost/kubeburst/node-build:$BASE_HASH
WORKER_HASH=$( { echo "$BASE_HASH"; context_hash package.json package-lock.json tsconfig.json tsconfig.base.json .dockerignore worker-runtime api/package.json cli/package.json operator/package.json examples; } | sha)
OPERATOR_HASH=$( { echo "$BASE_HASH"; context_hash package.json package-lock.json tsconfig.json tsconfig.base.json .dockerignore worker-runtime api cli/package.json operator; } | sha)
"$CLUSTER_SCRIPTS_DIR/build.sh" pause
PAUSE_HASH=$( { echo "$PAUSE_VERSION"; sha256sum <"$PAUSE_BIN_DIR/pause"; } | sha)
PAUSE_IMAGE=localhost/kubeburst/pause:$PAUSE_HASH
WORKER_IMAGE=docker.io/kubeburst/worker:$WORKER_HASH
OPERATOR_IMAGE=docker.io/kubeburst/operator:$OPERATOR_HASH

write_env() {
  cat >"$IMAGES/images.env.tmp" <<EOF
# Generated by test/cluster/images.sh; node-up.sh imports the archives.
PAUSE_IMAGE=$PAUSE_IMAGE
PAUSE_ARCHIVE=$IMAGES/pause-$PAUSE_HASH.oci.tar
KUBEBURST_WORKER_IMAGE=$WORKER_IMAGE
KUBEBURST_WORKER_ARCHIVE=$IMAGES/worker-$WORKER_HASH.oci.tar
KUBEBURST_OPERATOR_IMAGE=$OPERATOR_IMAGE
KUBEBURST_OPERATOR_ARCHIVE=$IMAGES/operator-$OPERATOR_HASH.oci.tar
EOF
  mv -f "$IMAGES/images.env.tmp" "$IMAGES/images.env"
}

if [[ -z ${KUBEBURST_IMAGES_FORCE:-} && -f $IMAGES/worker-$WORKER_HASH.oci.tar && -f $IMAGES/operator-$OPERATOR_HASH.oci.tar && -f $IMAGES/pause-$PAUSE_HASH.oci.tar ]]; then
  write_env
  log "images up to date: $WORKER_IMAGE $OPERATOR_IMAGE $PAUSE_IMAGE"
  exit 0
fi

# --- prerequisites -------------------------------------------------------------
need_pkgs=()
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
type -P buildah >/dev/null || need_pkgs+=(buildah) # -P: the buildah() wrapper above is not the program
if ((${#need_pkgs[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${need_pkgs[*]}: install them (apt-get install -y --no-install-recommends ${need_pkgs[*]}) or run as root"
  log "installing ${need_pkgs[*]}"
  apt_install "${need_pkgs[@]}"
fi
[[ $(id -u) == 0 ]] || die "images.sh builds with debootstrap and buildah as root; rerun as root"
command -v npm >/dev/null || die "npm not found (it packs npm@$NPM_VERSION for the build base)"

trap cleanup EXIT
mkdir -p "$IMAGES/tmp.$$"

# --- base ----------------------------------------------------------------------
build_bases() {
  local rootfs=$IMAGES/tmp.$$/rootfs t0=$SECONDS
  log "base: debootstrap $BASE_SUITE ($BASE_PACKAGES) ..."
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$rootfs" http://deb.debian.org/debian \
    >"$IMAGES/debootstrap.log" 2>&1 || die "debootstrap failed; see $IMAGES/debootstrap.log"
  # Users the Dockerfiles name (USER node; USER 65532), and distroless' node path.
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$rootfs/etc/passwd"
  echo 'node:x:1000:' >>"$rootfs/etc/group"
  echo 'nonroot:x:65532:65532::/home/nonroot:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
  echo 'nonroot:x:65532:' >>"$rootfs/etc/group"
  mkdir -p "$rootfs/home/node" "$rootfs/home/nonroot" "$rootfs/nodejs/bin"
  chown 1000:1000 "$rootfs/home/node"
  chown 65532:65532 "$rootfs/home/nonroot"
  ln -sf /usr/bin/node "$rootfs/nodejs/bin/node"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/var/log/*
  tar -C "$rootfs" --numeric-owner -cf "$IMAGES/tmp.$$/rootfs.tar" .

  local c
  c=$(buildah from scratch)
  buildah add "$c" "$IMAGES/tmp.$$/rootfs.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node \
    --label "io.kubeburst.base=$BASE_SUITE $BASE_PACKAGES" "$c"
  buildah commit --rm "$c" "$RUNTIME_BASE" >/dev/null 2>>"$IMAGES/debootstrap.log"

  # Build stage: npm (Debian's npm drags in hundreds of packages; npm's own tarball is one) and the host CA bundle.
  local npm_dir=$IMAGES/tmp.$$/npm
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "npm pack npm@$NPM_VERSION failed"
  tar -C "$npm_dir" -xzf "$npm_dir"/npm-*.tgz
  c=$(buildah from --pull=never "$RUNTIME_BASE")
  buildah copy "$c" "$npm_dir/package" /usr/local/lib/node_modules/npm >/dev/null
  buildah run --isolation chroot "$c" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx'
  if [[ -f $HOST_CA ]]; then
    buildah copy "$c" "$HOST_CA" /etc/ssl/certs/host-ca-bundle.crt >/dev/null
    buildah config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt "$c"
  fi
  buildah commit --rm "$c" "$BUILD_BASE" >/dev/null 2>>"$IMAGES/debootstrap.log"
  rm -rf "$rootfs"
  log "base: built $RUNTIME_BASE and $BUILD_BASE in $((SECONDS - t0)) s"
}
# --- end base

if [[ -n ${KUBEBURST_IMAGES_FORCE:-} ]] || ! have_image "$RUNTIME_BASE" || ! have_image "$BUILD_BASE"; then
  build_bases
fi

# --- project images ------------------------------------------------------------
build_image() { # name image hash dockerfile runtime-arg-name
  local name=$1 image=$2 hash=$3 dockerfile=$4 archive=$IMAGES/$1-$3.oci.tar t0=$SECONDS
  if [[ -z ${KUBEBURST_IMAGES_FORCE:-} && -f $archive ]]; then
    log "$name: $image up to date"
    return
  fi
  log "$name: building $image from $dockerfile ..."
  (cd "$REPO_ROOT" && buildah bud --pull=never --network=host --isolation=chroot --layers=false \
    --build-arg "BUILD_IMAGE=$BUILD_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
    -f "$dockerfile" -t "$image" .) >"$IMAGES/$name-build.log" 2>&1 ||
    die "$name image build failed; see $IMAGES/$name-build.log"
  rm -f "$archive.tmp"
  buildah push "$image" "oci-archive:$archive.tmp:$image" >/dev/null 2>>"$IMAGES/$name-build.log" || die "exporting $image failed; see $IMAGES/$name-build.log"
  mv -f "$archive.tmp" "$archive"
  # Older archives of this image are stale now.
  find "$IMAGES" -maxdepth 1 -name "$name-*.oci.tar" ! -name "$name-$hash.oci.tar" -delete
  log "$name: built $image in $((SECONDS - t0)) s"
}
# The pod sandbox image (containerd's sandbox_image): one static binary.
if [[ -n ${KUBEBURST_IMAGES_FORCE:-} || ! -f $IMAGES/pause-$PAUSE_HASH.oci.tar ]]; then
  c=$(buildah from scratch)
  buildah copy "$c" "$PAUSE_BIN_DIR/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit --rm "$c" "$PAUSE_IMAGE" >/dev/null 2>&1
  buildah push "$PAUSE_IMAGE" "oci-archive:$IMAGES/pause-$PAUSE_HASH.oci.tar.tmp:$PAUSE_IMAGE" >/dev/null 2>&1 || die "exporting $PAUSE_IMAGE failed"
  mv -f "$IMAGES/pause-$PAUSE_HASH.oci.tar.tmp" "$IMAGES/pause-$PAUSE_HASH.oci.tar"
  find "$IMAGES" -maxdepth 1 -name "pause-*.oci.tar" ! -name "pause-$PAUSE_HASH.oci.tar" -delete
  log "pause: built $PAUSE_IMAGE"
fi
build_image worker "$WORKER_IMAGE" "$WORKER_HASH" worker-runtime/Dockerfile
build_image operator "$OPERATOR_IMAGE" "$OPERATOR_HASH" operator/Dockerfile
# Keep buildah's storage to the current images and their bases.
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}}' 2>/dev/null | while read -r ref id; do
  case $ref in "$RUNTIME_BASE" | "$BUILD_BASE" | "$WORKER_IMAGE" | "$OPERATOR_IMAGE") ;; *) buildah rmi -f "$id" >/dev/null 2>&1 || true ;; esac
done
write_env
log "images ready: $WORKER_IMAGE $OPERATOR_IMAGE"
