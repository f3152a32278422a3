import PGFollowFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  checkConfigReaderProperty(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
