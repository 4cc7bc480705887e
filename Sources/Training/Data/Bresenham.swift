/// The pixels of the segment from `from` to `to`, in order along it, by Bresenham's integer
/// algorithm: one pixel per step along the major axis, each 8-adjacent to the one before.
/// Integer only, so every platform draws exactly the same line.
func bresenhamLine(from: (x: Int, y: Int), to: (x: Int, y: Int)) -> [(x: Int, y: Int)] {
    let dx = abs(to.x - from.x), dy = -abs(to.y - from.y)
    let sx = from.x < to.x ? 1 : -1, sy = from.y < to.y ? 1 : -1
    var error = dx + dy
    var (x, y) = from
    var pixels: [(x: Int, y: Int)] = []
    pixels.reserveCapacity(max(dx, -dy) + 1)
    while true {
        pixels.append((x, y))
        if x == to.x && y == to.y { return pixels }
        let twice = 2 * error
        if twice >= dy { error += dy; x += sx }
        if twice <= dx { error += dx; y += sy }
    }
}
