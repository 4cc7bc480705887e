import Foundation

/// `relapse scan --plot`: loss and val_loss (top) and per-layer weight norms (bottom) against
/// epochs, both on log scales so a jump from 0.01 to 5 reads as clearly as one from 1 to 500,
/// with the first jump, NaN and explosion marked. Plain SVG 1.1, one <path> per series.
public enum RunPlot {
    public struct Series: Sendable {
        public var name: String
        public var points: [(epoch: Int, value: Double)]
    }

    static let width = 900.0, height = 620.0
    static let left = 80.0, right = 690.0
    static let panels: [(top: Double, bottom: Double)] = [(60, 290), (360, 580)]
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"]

    /// The series `svg` draws: loss and val_loss from the history, one norm per layer from the checkpoints.
    public static func series(_ scan: RunScan) -> (losses: [Series], norms: [Series]) {
        let losses = ["loss", "val_loss"].map { key in
            Series(name: key, points: scan.history.compactMap { row in row.values[key].map { (row.epoch, $0) } })
        }.filter { !$0.points.isEmpty }
        let layers = scan.epochs.first?.layerNorms.map(\.layer) ?? []
        let norms = layers.map { layer in
            Series(name: "norm/" + layer, points: scan.epochs.compactMap { e in
                e.layerNorms.first { $0.layer == layer }.map { (e.epoch, $0.norm) }
            })
        }
        return (losses, norms)
    }

    public static func svg(_ scan: RunScan) -> String {
        let (losses, norms) = series(scan)
        let allEpochs = (losses + norms).flatMap { $0.points.map(\.epoch) } + scan.epochs.map(\.epoch)
        let first = allEpochs.min() ?? 0, last = max(allEpochs.max() ?? 1, first + 1)
        func x(_ epoch: Int) -> Double { left + (right - left) * Double(epoch - first) / Double(last - first) }

        var out = [##"<?xml version="1.0" encoding="UTF-8"?>"##,
                   ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" viewBox="0 0 \##(Int(width)) \##(Int(height))" font-family="sans-serif" font-size="12">"##,
                   ##"<rect width="100%" height="100%" fill="white"/>"##,
                   ##"<text x="\##(left)" y="24" font-size="15">\##(escape("relapse scan: " + scan.directory))</text>"##]
        var colorIndex = 0
        for (panel, (title, group)) in [("loss (log scale)", losses), ("weight norm per layer (log scale)", norms)].enumerated() {
            let (top, bottom) = panels[panel]
            let values = group.flatMap { $0.points.map(\.value) }.filter { $0.isFinite && $0 > 0 }
            var low = log10(values.min() ?? 0.1), high = log10(values.max() ?? 1)
            if high - low < 1 { low -= 0.5; high += 0.5 }
            func y(_ v: Double) -> Double { bottom - (bottom - top) * (log10(v) - low) / (high - low) }
            out.append(##"<text x="\##(left)" y="\##(top - 10)" font-size="13">\##(title)</text>"##)
            out.append(##"<rect x="\##(left)" y="\##(top)" width="\##(right - left)" height="\##(bottom - top)" fill="none" stroke="#999"/>"##)
            for exponent in Int(low.rounded(.up))...max(Int(low.rounded(.up)), Int(high.rounded(.down))) {
                let yy = y(pow(10, Double(exponent)))
                out.append(##"<line x1="\##(left)" y1="\##(f(yy))" x2="\##(right)" y2="\##(f(yy))" stroke="#eee"/>"##)
                out.append(##"<text x="\##(left - 6)" y="\##(f(yy + 4))" text-anchor="end">1e\##(exponent)</text>"##)
            }
            for epoch in ticks(first, last) {
                out.append(##"<text x="\##(f(x(epoch)))" y="\##(bottom + 16)" text-anchor="middle">\##(epoch)</text>"##)
            }
            for (i, series) in group.enumerated() {
                let color = palette[colorIndex % palette.count]
                colorIndex += 1
                out.append(##"<path data-series="\##(escape(series.name))" d="\##(pathData(series, x: x, y: y))" fill="none" stroke="\##(color)" stroke-width="1.8"/>"##)
                let ly = top + 14 + Double(i) * 18
                out.append(##"<line x1="\##(right + 15)" y1="\##(ly)" x2="\##(right + 40)" y2="\##(ly)" stroke="\##(color)" stroke-width="2"/>"##)
                out.append(##"<text x="\##(right + 46)" y="\##(ly + 4)">\##(escape(series.name))</text>"##)
            }
        }
        out.append(##"<text x="\##((left + right) / 2)" y="\##(height - 8)" text-anchor="middle">epoch</text>"##)
        let markers = [("first loss jump", scan.firstJumpEpoch, "#d62728"), ("first NaN/Inf", scan.firstNaNEpoch, "#000000"),
                       ("first explosion", scan.firstExplosionEpoch, "#ff7f0e")]
        for (i, (label, epoch, color)) in markers.enumerated() {
            guard let epoch else { continue }
            let xx = f(x(epoch))
            out.append(##"<line x1="\##(xx)" y1="\##(panels[0].top)" x2="\##(xx)" y2="\##(panels[1].bottom)" stroke="\##(color)" stroke-dasharray="6,4" stroke-width="1.5"/>"##)
            out.append(##"<text x="\##(xx)" y="\##(panels[0].top + 14 + Double(i) * 14)" fill="\##(color)" dx="4">\##(label): epoch \##(epoch)</text>"##)
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// One panel of series against epochs on a log scale, with labelled vertical markers
    /// (`relapse replay`'s overlay of branch loss curves). The first series is drawn dashed.
    public static func overlay(title: String, panelTitle: String, series: [Series], markers: [(String, Int, String)],
                               firstEpoch: Int? = nil) -> String {
        let top = 60.0, bottom = 560.0
        let allEpochs = series.flatMap { $0.points.map(\.epoch) } + markers.map(\.1) + (firstEpoch.map { [$0] } ?? [])
        let first = allEpochs.min() ?? 0, last = max(allEpochs.max() ?? 1, first + 1)
        func x(_ epoch: Int) -> Double { left + (right - left) * Double(epoch - first) / Double(last - first) }
        let values = series.flatMap { $0.points.map(\.value) }.filter { $0.isFinite && $0 > 0 }
        var low = log10(values.min() ?? 0.1), high = log10(values.max() ?? 1)
        if high - low < 1 { low -= 0.5; high += 0.5 }
        func y(_ v: Double) -> Double { bottom - (bottom - top) * (log10(v) - low) / (high - low) }
        var out = [##"<?xml version="1.0" encoding="UTF-8"?>"##,
                   ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(bottom + 60))" viewBox="0 0 \##(Int(width)) \##(Int(bottom + 60))" font-family="sans-serif" font-size="12">"##,
                   ##"<rect width="100%" height="100%" fill="white"/>"##,
                   ##"<text x="\##(left)" y="24" font-size="15">\##(escape(title))</text>"##,
                   ##"<text x="\##(left)" y="\##(top - 10)" font-size="13">\##(escape(panelTitle))</text>"##,
                   ##"<rect x="\##(left)" y="\##(top)" width="\##(right - left)" height="\##(bottom - top)" fill="none" stroke="#999"/>"##]
        for exponent in Int(low.rounded(.up))...max(Int(low.rounded(.up)), Int(high.rounded(.down))) {
            let yy = y(pow(10, Double(exponent)))
            out.append(##"<line x1="\##(left)" y1="\##(f(yy))" x2="\##(right)" y2="\##(f(yy))" stroke="#eee"/>"##)
            out.append(##"<text x="\##(left - 6)" y="\##(f(yy + 4))" text-anchor="end">1e\##(exponent)</text>"##)
        }
        for epoch in ticks(first, last) {
            out.append(##"<text x="\##(f(x(epoch)))" y="\##(bottom + 16)" text-anchor="middle">\##(epoch)</text>"##)
        }
        for (i, s) in series.enumerated() {
            let color = i == 0 ? "#000000" : palette[(i - 1) % palette.count]
            let dash = i == 0 ? ##" stroke-dasharray="5,3""## : ""
            out.append(##"<path data-series="\##(escape(s.name))" d="\##(pathData(s, x: x, y: y))" fill="none" stroke="\##(color)" stroke-width="1.8"\##(dash)/>"##)
            let ly = top + 14 + Double(i) * 18
            out.append(##"<line x1="\##(right + 15)" y1="\##(ly)" x2="\##(right + 40)" y2="\##(ly)" stroke="\##(color)" stroke-width="2"\##(dash)/>"##)
            out.append(##"<text x="\##(right + 46)" y="\##(ly + 4)">\##(escape(s.name))</text>"##)
        }
        for (i, (label, epoch, color)) in markers.enumerated() {
            let xx = f(x(epoch))
            out.append(##"<line x1="\##(xx)" y1="\##(top)" x2="\##(xx)" y2="\##(bottom)" stroke="\##(color)" stroke-dasharray="6,4" stroke-width="1.2"/>"##)
            out.append(##"<text x="\##(xx)" y="\##(top + 14 + Double(i) * 14)" fill="\##(color)" dx="4">\##(escape(label))</text>"##)
        }
        out.append(##"<text x="\##((left + right) / 2)" y="\##(bottom + 40)" text-anchor="middle">epoch</text>"##)
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// A NaN, infinite or non-positive value (no place on a log axis) breaks the line.
    static func pathData(_ series: Series, x: (Int) -> Double, y: (Double) -> Double) -> String {
        var parts: [String] = []
        var penDown = false
        for (epoch, value) in series.points {
            guard value.isFinite, value > 0 else { penDown = false; continue }
            parts.append((penDown ? "L" : "M") + "\(f(x(epoch))) \(f(y(value)))")
            penDown = true
        }
        // An empty d is invalid SVG; a series with no drawable point still gets its (empty) path.
        return parts.isEmpty ? "M \(f(x(0))) 0" : parts.joined(separator: " ")
    }

    static func ticks(_ first: Int, _ last: Int) -> [Int] {
        let span = max(last - first, 1)
        let step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].first { span / $0 <= 10 } ?? span / 10
        return Array(stride(from: first, through: last, by: step))
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
