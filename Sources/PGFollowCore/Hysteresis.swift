/// Confirms a change of leader over several cycles before it is applied. With no leader in
/// effect yet the first follow decision is applied at once (reconciling from scratch); a change away from the
/// leader in effect needs `required` sightings of the same new leader with no other leader named
/// in between. Cycles that hold name no leader and neither count nor break the run: a new
/// primary that answers only every other cycle is still followed. It keeps the leader in effect
/// itself, so a dry run (which records nothing) behaves like a real one.
package struct Hysteresis: Sendable, Equatable {
  package let required: Int
  package private(set) var candidate: String?
  package private(set) var sightings = 0
  package private(set) var current: String?

  /// `current` is the leader already in effect (from the state file), if any.
  package init(required: Int, current: String? = nil) {
    self.required = max(1, required)
    self.current = current
  }

  package enum Verdict: Sendable, Equatable {
    case apply
    /// Seen `sightings` of `required` times in a row.
    case confirming(leader: String, sightings: Int, required: Int)
  }

  /// Judges a decision to follow `leader`.
  package mutating func judge(leader: String) -> Verdict {
    if current == nil || leader == current || required == 1 {
      return accept(leader)
    }
    sightings = candidate == leader ? sightings + 1 : 1
    candidate = leader
    if sightings >= required { return accept(leader) }
    return .confirming(leader: leader, sightings: sightings, required: required)
  }

  private mutating func accept(_ leader: String) -> Verdict {
    candidate = nil
    sightings = 0
    current = leader
    return .apply
  }
}
