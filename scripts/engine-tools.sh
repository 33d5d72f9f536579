#!/usr/bin/env bash
# Builds the real Pulumi engine and its provider plugins from Go modules (docs/engine.md): Pulumi's
# installer and plugin downloads cannot be reached here, the Go module proxy can. Idempotent: every tool
# is built once into a cache directory outside the repository, named by tool and version, and skipped
# when it is there. Nothing of those modules (sources, generated schema) enters the repository.
#
#   bash scripts/engine-tools.sh            probe the modules, build the CLI and providers that are missing
#   bash scripts/engine-tools.sh --cluster  the same, plus a local Kubernetes control plane (kube-apiserver
#                                           & co, etcd, kwok) for the real-cluster scenarios
#   bash scripts/engine-tools.sh --paths    print NAME=path of each tool (what tests/engine uses), build nothing
#
# ENGINE_TOOLS_DIR moves the cache (default /var/cache/microservice-model/engine-tools).
set -euo pipefail

TOOLS_DIR=${ENGINE_TOOLS_DIR:-/var/cache/microservice-model/engine-tools}

# Versions. Untagged nested modules exist only as pseudo-versions of a release commit.
PULUMI_VERSION=v3.274.1
K8S_PROVIDER_VERSION=4.25.0
K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199 # the v4.25.0 tag commit
COMMAND_PROVIDER_VERSION=1.2.1
# Optional: only the docker target uses it, and the docker provider cannot come from Go modules at all
# (it replaces a Terraform provider with a patched git submodule). The proxy refused this module
# (403 on its version list and on this pseudo-version); built if it is ever served.
COMMAND_PROVIDER_PSEUDO=v0.0.0-20260303235922-7f3eb6f3b77c # the v1.2.1 tag commit
KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

PULUMI_PKG=github.com/pulumi/pulumi/pkg/v3
PULUMI_SDK=github.com/pulumi/pulumi/sdk/v3
K8S_PROVIDER_MOD=github.com/pulumi/pulumi-kubernetes/provider/v4
COMMAND_PROVIDER_MOD=github.com/pulumi/pulumi-command/provider
ETCD_SERVER_MOD=go.etcd.io/etcd/server/v3

# Each tool in its own directory, named by version; bin/pulumi is the layout the Automation API's
# PulumiCommand(root) expects.
PULUMI_DIR=$TOOLS_DIR/pulumi-$PULUMI_VERSION
K8S_PROVIDER_DIR=$TOOLS_DIR/pulumi-resource-kubernetes-$K8S_PROVIDER_VERSION
COMMAND_PROVIDER_DIR=$TOOLS_DIR/pulumi-resource-command-$COMMAND_PROVIDER_VERSION
KUBERNETES_DIR=$TOOLS_DIR/kubernetes-$KUBERNETES_VERSION
ETCD_DIR=$TOOLS_DIR/etcd-$ETCD_VERSION
KWOK_DIR=$TOOLS_DIR/kwok-$KWOK_VERSION
GOMODCACHE_DIR=$TOOLS_DIR/gomodcache

if [[ ${1:-} == --paths ]]; then
    echo "PULUMI=$PULUMI_DIR/bin/pulumi"
    echo "PULUMI_VERSION=$PULUMI_VERSION"
    echo "KUBERNETES_PROVIDER=$K8S_PROVIDER_DIR/pulumi-resource-kubernetes"
    echo "KUBERNETES_PROVIDER_VERSION=$K8S_PROVIDER_VERSION"
    echo "COMMAND_PROVIDER=$COMMAND_PROVIDER_DIR/pulumi-resource-command"
    echo "COMMAND_PROVIDER_VERSION=$COMMAND_PROVIDER_VERSION"
    echo "KUBERNETES_BIN=$KUBERNETES_DIR"
    echo "KUBERNETES_VERSION=$KUBERNETES_VERSION"
    echo "ETCD=$ETCD_DIR/etcd"
    echo "KWOK_BIN=$KWOK_DIR"
    echo "KWOK_STAGES=$GOMODCACHE_DIR/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
    exit 0
fi
CLUSTER=false
[[ ${1:-} == --cluster ]] && CLUSTER=true

command -v go >/dev/null || { echo "engine-tools: go is not installed" >&2; exit 1; }
command -v jq >/dev/null || { echo "engine-tools: jq is not installed (apt-get install jq)" >&2; exit 1; }

# One module and build cache for every tool, outside the repository; the machine's own Go, never a
# downloaded toolchain; builds at the lowest priority (2 cores shared with everything else).
export GOMODCACHE=$GOMODCACHE_DIR GOCACHE=$TOOLS_DIR/gocache
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$TOOLS_DIR"
GO=(nice -n 19 go)

served=()
missing=()
probe() { # module@version: downloads it into GOMODCACHE (a no-op when cached) and says if it is served
    local out
    if out=$("${GO[@]}" mod download -json "$1" 2>&1) && ! jq -e '.Error' <<<"$out" >/dev/null 2>&1; then
        served+=("$1")
        echo "served:   $1"
    else
        missing+=("$1")
        echo "MISSING:  $1: $(jq -r '.Error // empty' <<<"$out" 2>/dev/null | head -1 || true)"
    fi
}
is_served() { [[ " ${served[*]} " == *" $1 "* ]]; }

gomod_of() { "${GO[@]}" mod download -json "$1" | jq -r .GoMod; }
dir_of() { "${GO[@]}" mod download -json "$1" | jq -r .Dir; }

# A wrapper module in a temp dir: `go install` refuses modules whose go.mod has replace directives.
# Copies the target's non-local replaces (a local one, ../sdk, is covered by requiring that sibling).
new_wrapper() { # dir, module@version whose replaces to copy
    local dir=$1 gomod
    (cd "$dir" && "${GO[@]}" mod init local/engine-tool >/dev/null 2>&1)
    gomod=$(gomod_of "$2")
    while IFS=$'\t' read -r old new; do
        (cd "$dir" && "${GO[@]}" mod edit -replace "$old=$new")
    done < <("${GO[@]}" mod edit -json "$gomod" |
        jq -r '.Replace[]? | select(.New.Version != null) |
            [(.Old.Path + (if .Old.Version then "@" + .Old.Version else "" end)),
             (.New.Path + "@" + .New.Version)] | @tsv')
}

built=()
skipped=()
failed=()
timed_build() { # name, target dir, a binary it holds when complete, function that builds into $work/out/
    local name=$1 target=$2 marker=$3 fn=$4 start work
    if [[ -x $target/$marker ]]; then
        skipped+=("$name")
        echo "skipped:  $name (built: $target)"
        return 0
    fi
    start=$(date +%s)
    work=$(mktemp -d)
    mkdir "$work/out"
    echo "building: $name (log: $work/build.log)"
    if (cd "$work" && "$fn" "$work") >"$work/build.log" 2>&1 && [[ -x $work/out/$marker ]]; then
        echo "$(($(date +%s) - start))" >"$work/out/build-seconds" # the cold build time, for docs/engine.md
        rm -rf "$target"                                          # an unfinished earlier attempt
        mv "$work/out" "$target"
        built+=("$name")
        echo "built:    $name in $(($(date +%s) - start)) s: $target"
        rm -rf "$work"
    else
        failed+=("$name")
        echo "FAILED:   $name after $(($(date +%s) - start)) s; last lines of $work/build.log:" >&2
        tail -20 "$work/build.log" >&2
    fi
}

build_pulumi() {
    local w=$1
    new_wrapper "$w" "$PULUMI_PKG@$PULUMI_VERSION"
    cd "$w"
    "${GO[@]}" get "$PULUMI_PKG@$PULUMI_VERSION" "$PULUMI_SDK@$PULUMI_VERSION"
    # The Automation API checks `pulumi version`; without the ldflag it prints v3.0.0-dev.
    mkdir -p out/bin
    "${GO[@]}" build -trimpath \
        -ldflags "-s -w -X $PULUMI_SDK/go/common/version.Version=$PULUMI_VERSION" \
        -o out/bin/pulumi "$PULUMI_PKG/cmd/pulumi"
    out/bin/pulumi version
}

build_k8s_provider() {
    local w=$1 src
    new_wrapper "$w" "$K8S_PROVIDER_MOD@$K8S_PROVIDER_PSEUDO"
    cd "$w"
    "${GO[@]}" get "$K8S_PROVIDER_MOD@$K8S_PROVIDER_PSEUDO"
    # main.go go:embeds schema-embed.json, generated from the module's schema.json by its generate.go
    # (sets the version). The module cache is read-only: generate next to a copy of main.go here.
    src=$(dir_of "$K8S_PROVIDER_MOD@$K8S_PROVIDER_PSEUDO")/cmd/pulumi-resource-kubernetes
    mkdir -p cmd/provider
    cp "$src"/{main.go,generate.go,schema.json,terraform-mapping.json} cmd/provider/
    chmod u+w cmd/provider/*
    (cd cmd/provider && VERSION=$K8S_PROVIDER_VERSION "${GO[@]}" run ./generate.go)
    rm cmd/provider/generate.go
    "${GO[@]}" build -trimpath \
        -ldflags "-s -w -X $K8S_PROVIDER_MOD/pkg/version.Version=$K8S_PROVIDER_VERSION" \
        -o out/pulumi-resource-kubernetes ./cmd/provider
}

build_command_provider() {
    local w=$1
    new_wrapper "$w" "$COMMAND_PROVIDER_MOD@$COMMAND_PROVIDER_PSEUDO"
    cd "$w"
    "${GO[@]}" get "$COMMAND_PROVIDER_MOD@$COMMAND_PROVIDER_PSEUDO"
    "${GO[@]}" build -trimpath \
        -ldflags "-s -w -X $COMMAND_PROVIDER_MOD/pkg/version.Version=v$COMMAND_PROVIDER_VERSION" \
        -o out/pulumi-resource-command "$COMMAND_PROVIDER_MOD/cmd/pulumi-resource-command"
}

build_kubernetes() {
    # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces: replace each with
    # the release of the same minor and patch (v1.34.4 -> v0.34.4).
    local w=$1 staging=v0${KUBERNETES_VERSION#v1} minor flags=()
    minor=${KUBERNETES_VERSION#v1.}
    minor=${minor%%.*}
    cd "$w"
    "${GO[@]}" mod init local/engine-tool >/dev/null 2>&1
    while read -r module; do
        "${GO[@]}" mod edit -replace "$module=$module@$staging"
    done < <("${GO[@]}" mod edit -json "$(gomod_of "k8s.io/kubernetes@$KUBERNETES_VERSION")" |
        jq -r '.Replace[]? | select(.New.Version == null and (.New.Path | startswith("./staging/"))) | .Old.Path')
    "${GO[@]}" get "k8s.io/kubernetes@$KUBERNETES_VERSION"
    # `<binary> --version` must name the release (kwokctl and kubectl read it); the default is v0.0.0.
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=("-X $pkg.gitVersion=$KUBERNETES_VERSION" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=$minor"
            "-X $pkg.gitTreeState=clean")
    done
    "${GO[@]}" build -trimpath -ldflags "-s -w ${flags[*]}" -o out/ \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
    local w=$1 sibling
    cd "$w"
    "${GO[@]}" mod init local/engine-tool >/dev/null 2>&1
    # server/v3 replaces its siblings with ../: require them at the same release instead.
    for sibling in api/v3 client/pkg/v3 client/v3 pkg/v3; do
        "${GO[@]}" get "go.etcd.io/etcd/$sibling@$ETCD_VERSION"
    done
    "${GO[@]}" get "$ETCD_SERVER_MOD@$ETCD_VERSION"
    "${GO[@]}" build -trimpath -ldflags "-s -w" -o out/etcd "$ETCD_SERVER_MOD"
}

build_kwok() {
    local w=$1
    GOBIN=$w/out "${GO[@]}" install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
        "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

echo "== probing modules (GOMODCACHE=$GOMODCACHE)"
probe "$PULUMI_PKG@$PULUMI_VERSION"
probe "$PULUMI_SDK@$PULUMI_VERSION"
probe "$K8S_PROVIDER_MOD@$K8S_PROVIDER_PSEUDO"
probe "$COMMAND_PROVIDER_MOD@$COMMAND_PROVIDER_PSEUDO"
if $CLUSTER; then
    probe "k8s.io/kubernetes@$KUBERNETES_VERSION"
    probe "$ETCD_SERVER_MOD@$ETCD_VERSION"
    probe "sigs.k8s.io/kwok@$KWOK_VERSION"
fi

build_if_served() { # name, dir, marker, function, module@version...
    local name=$1 dir=$2 marker=$3 fn=$4 module
    shift 4
    for module in "$@"; do
        if ! is_served "$module"; then
            failed+=("$name (not served: $module)")
            return 0
        fi
    done
    timed_build "$name" "$dir" "$marker" "$fn"
}

echo "== building into $TOOLS_DIR"
build_if_served "pulumi $PULUMI_VERSION" "$PULUMI_DIR" bin/pulumi build_pulumi \
    "$PULUMI_PKG@$PULUMI_VERSION" "$PULUMI_SDK@$PULUMI_VERSION"
build_if_served "pulumi-resource-kubernetes $K8S_PROVIDER_VERSION" "$K8S_PROVIDER_DIR" \
    pulumi-resource-kubernetes build_k8s_provider "$K8S_PROVIDER_MOD@$K8S_PROVIDER_PSEUDO"
if is_served "$COMMAND_PROVIDER_MOD@$COMMAND_PROVIDER_PSEUDO"; then
    timed_build "pulumi-resource-command $COMMAND_PROVIDER_VERSION" "$COMMAND_PROVIDER_DIR" \
        pulumi-resource-command build_command_provider
else
    echo "unavailable: pulumi-resource-command $COMMAND_PROVIDER_VERSION (not served; optional: docker target only)"
fi
if $CLUSTER; then
    build_if_served "etcd $ETCD_VERSION" "$ETCD_DIR" etcd build_etcd "$ETCD_SERVER_MOD@$ETCD_VERSION"
    build_if_served "kwok $KWOK_VERSION" "$KWOK_DIR" kwokctl build_kwok "sigs.k8s.io/kwok@$KWOK_VERSION"
    build_if_served "kubernetes $KUBERNETES_VERSION" "$KUBERNETES_DIR" kubectl build_kubernetes \
        "k8s.io/kubernetes@$KUBERNETES_VERSION"
fi

echo "== summary"
echo "served:  ${#served[@]}, missing: ${#missing[@]}"
echo "built:   ${built[*]:-none}"
echo "skipped: ${skipped[*]:-none}"
if ((${#failed[@]})); then
    echo "FAILED:  ${failed[*]}" >&2
    exit 1
fi
