# Where scripts/setup unpacks the PostgreSQL servers of other majors (16, 17, 18), each in a
# directory named by its major: a cache the postgres user can reach when root, else the build's.
servers_dir() {
  if [ -n "${PGFOLLOW_SERVERS:-}" ]; then
    echo "$PGFOLLOW_SERVERS"
  elif [ "$(id -u)" = 0 ]; then
    echo "${PGFOLLOW_DEBIAN_ROOT_CACHE:-/var/cache/pgfollow-tests}/postgresql"
  else
    echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build/postgresql"
  fi
}
