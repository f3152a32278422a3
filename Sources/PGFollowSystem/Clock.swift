package import PGFollowCore

#if canImport(Glibc)
  import Glibc
#endif

/// The wall clock, in seconds since the epoch.
package func wallClockNow() -> WallSeconds {
  var time = timespec()
  clock_gettime(CLOCK_REALTIME, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
