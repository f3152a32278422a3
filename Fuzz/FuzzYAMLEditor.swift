import PGFollowFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAMLEditor(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  do {
    try checkYAMLEditProperty(Array(UnsafeBufferPointer(start: data, count: size)))
  } catch {
    fatalError("\(error)")
  }
  return 0
}
