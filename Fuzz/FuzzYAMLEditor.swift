import PGFollowFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAMLEditor(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  checkYAMLEditProperty(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
