/// For each element of a row-major tensor of shape `full`, its flat index in a row-major tensor
/// of shape `small`, where `small[d]` is `full[d]` or 1 (an axis it is broadcast along, or
/// reduced over). PReLU's shared alpha, Normalization's statistics, a broadcasting merge's
/// inputs and a constraint's norms all map their elements this way.
func broadcastIndex(from full: [Int], to small: [Int]) -> [Int] {
    precondition(full.count == small.count, "ranks \(full.count) and \(small.count) differ")
    var strides = [Int](repeating: 0, count: full.count)
    var step = 1
    for d in (0..<full.count).reversed() {
        strides[d] = small[d] == 1 ? 0 : step
        step *= small[d]
    }
    var index = [Int](repeating: 0, count: full.reduce(1, *))
    var coords = [Int](repeating: 0, count: full.count)
    for e in index.indices {
        var k = 0
        for d in coords.indices { k += coords[d] * strides[d] }
        index[e] = k
        var d = coords.count - 1
        while d >= 0 {
            coords[d] += 1
            if coords[d] < full[d] { break }
            coords[d] = 0
            d -= 1
        }
    }
    return index
}
