# Helpers shared by scripts/test-cluster and scripts/failover-tools; source it.

# The PostgreSQL server binaries' directory: PGFOLLOW_PG_BIN when set (another version's, as
# scripts/setup unpacks them), else the newest under /usr/lib/postgresql.
pg_bin() {
  local dir
  if [ -n "${PGFOLLOW_PG_BIN:-}" ]; then echo "$PGFOLLOW_PG_BIN"; return; fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 1; }
  echo "$dir"
}

# Runs a command as postgres when root (PostgreSQL refuses to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A free TCP port on 127.0.0.1, picked at random below the ephemeral range (20000-32000), so that
# no client socket can take it before the server binds it. PORTS_FILE, when set, lists the ports
# already picked for this directory, which are not picked again.
free_port() {
  python3 - "${PORTS_FILE:-}" <<'PY'
import random, socket, sys
taken = set()
if sys.argv[1]:
    try:
        taken = {int(line) for line in open(sys.argv[1]) if line.strip()}
    except FileNotFoundError:
        pass
for _ in range(1000):
    port = random.randint(20000, 32000)
    if port in taken:
        continue
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        probe.close()
    if sys.argv[1]:
        try:
            open(sys.argv[1], "a").write(f"{port}\n")
        except OSError:
            pass
    print(port)
    sys.exit(0)
sys.exit("no free port found")
PY
}
