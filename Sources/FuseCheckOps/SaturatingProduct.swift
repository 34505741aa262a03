/// `lhs * rhs`, clamped to `Int.min` or `Int.max` where it overflows.
///
/// Sizes derived from a call's parameters (output rows `m * ws`, ranks `ep * tp`) use it, so that
/// a call with absurd parameters still describes itself and reports its violations without
/// trapping; the harness refuses such a call by its memory budget before allocating anything.
func saturatingProduct(_ lhs: Int, _ rhs: Int) -> Int {
    let (product, overflow) = lhs.multipliedReportingOverflow(by: rhs)
    guard overflow else { return product }
    return (lhs < 0) == (rhs < 0) ? Int.max : Int.min
}

/// Whether `lhs * rhs` equals `expected`, an overflowing product being equal to nothing.
func product(_ lhs: Int, _ rhs: Int, equals expected: Int) -> Bool {
    let (product, overflow) = lhs.multipliedReportingOverflow(by: rhs)
    return !overflow && product == expected
}
