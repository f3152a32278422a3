#if canImport(Glibc)
  import Glibc
#endif

func writeStandardError(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
  write(2, pointer, count)
}
