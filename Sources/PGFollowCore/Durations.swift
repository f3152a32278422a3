/// Durations as the configuration writes them and as messages show them.
/// Parses `250ms`, `2s`, `1.5s`, `1m` or a bare number of seconds.
package func parseDuration(_ text: String) -> Duration? {
  let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
  var number = text.trimming()
  var scale = 1.0
  for (suffix, factor) in units where number.hasSuffix(suffix) {
    number = number.dropLast(suffix.count)
    scale = factor
    break
  }
  guard let value = Double(number), value >= 0, value.isFinite else { return nil }
  return .milliseconds(Int64((value * scale * 1000).rounded()))
}

extension Duration {
  /// The duration in seconds, with fractions.
  package var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }

  /// The duration in whole milliseconds, rounded down.
  package var wholeMilliseconds: Int64 {
    components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
  }
}

package func formatDuration(_ duration: Duration) -> String {
  let milliseconds = duration.wholeMilliseconds
  if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
  return "\(milliseconds)ms"
}
