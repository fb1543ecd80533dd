# Sourced by the container tests: a podman set up as DESIGN.md §10 says
# (runc, no default ulimits) with its own storage under the cache directory,
# so the tests neither see nor disturb other images on the machine.
#
# OPENSHELL_TEST_CACHE: where the debootstrap root, the podman storage and
# the imported base image live between runs (default /var/tmp/openshell-tests).

: "${OPENSHELL_TEST_CACHE:=/var/tmp/openshell-tests}"
export OPENSHELL_TEST_CACHE
mkdir -p "$OPENSHELL_TEST_CACHE/conf" "$OPENSHELL_TEST_CACHE/storage" "$OPENSHELL_TEST_CACHE/run"

cat > "$OPENSHELL_TEST_CACHE/conf/containers.conf" <<CONF
[containers]
# The hybrid cgroups here reject the runtime's default ulimits.
default_ulimits = []

[engine]
runtime = "runc"
CONF

cat > "$OPENSHELL_TEST_CACHE/conf/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$OPENSHELL_TEST_CACHE/storage"
runroot = "$OPENSHELL_TEST_CACHE/run"
CONF

export CONTAINERS_CONF="$OPENSHELL_TEST_CACHE/conf/containers.conf"
export CONTAINERS_STORAGE_CONF="$OPENSHELL_TEST_CACHE/conf/storage.conf"

pm() { podman --runtime runc "$@"; }
