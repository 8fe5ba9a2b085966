# Sourced by scripts/test.sh and scripts/faults.sh: logging, cleanups run at exit, and
# installing what is missing from Debian's packages.

log() { printf '==> %s\n' "$*" >&2; }

# Commands to run (eval'd, in order) when the script exits, however it exits.
cleanups=()
cleanup() { local c; for c in "${cleanups[@]}"; do eval "$c" || true; done; }
trap cleanup EXIT

apt_install() {
    log "installing $*"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
}
