#if canImport(Glibc)
  import Glibc
#endif

func writeStandardError(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
  write(2, pointer, count)
}

func printError(_ message: String) {
  var standardError = StandardError()
  print(message, to: &standardError)
}

struct StandardError: TextOutputStream {
  mutating func write(_ string: String) {
    var bytes = Array(string.utf8)
    _ = bytes.withUnsafeMutableBytes { buffer in
      writeStandardError(buffer.baseAddress, buffer.count)
    }
  }
}
