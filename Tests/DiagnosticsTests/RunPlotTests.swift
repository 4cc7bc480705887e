import Diagnostics
import Foundation
import KerasFile
import Training
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class RunPlotTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try RunFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Collects the elements an SVG holds; parsing fails on anything that is not well-formed XML.
    final class Elements: NSObject, XMLParserDelegate {
        var paths: [[String: String]] = []
        var lines: [[String: String]] = []
        var root: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String]) {
            if root == nil { root = name }
            if name == "path" { paths.append(attributes) }
            if name == "line" { lines.append(attributes) }
        }
    }

    func parse(_ svg: String) throws -> Elements {
        let parser = XMLParser(data: Data(svg.utf8))
        let elements = Elements()
        parser.delegate = elements
        XCTAssertTrue(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
        return elements
    }

    func testSVGIsXMLWithOnePathPerSeries() throws {
        try RunFixtures.train(3, into: directory)
        let scan = try RunScan(directory: directory)
        let elements = try parse(RunPlot.svg(scan))
        XCTAssertEqual(elements.root, "svg")
        XCTAssertEqual(elements.paths.compactMap { $0["data-series"] }, ["loss", "val_loss", "norm/conv2d", "norm/dense"])
        XCTAssertTrue(elements.paths.allSatisfy { ($0["d"] ?? "").hasPrefix("M") })
        XCTAssertEqual(elements.paths.first?["d"]?.filter { $0 == "L" }.count, 2, "three epochs: a move and two segments")
        XCTAssertFalse(elements.lines.contains { $0["stroke-dasharray"] != nil }, "nothing to mark in a healthy run")
    }

    func testJumpIsMarkedAndNaNBreaksTheLine() throws {
        try RunFixtures.train(3, into: directory)
        var file = try KerasModelFile.read(directory + "/epoch-0003.h5")
        var state = try RunState.parse(try XCTUnwrap(file.relapseState))
        state.history[1].values["loss"] = .nan
        state.history[2].values["loss"] = 40
        file.relapseState = try state.json()
        try file.write(to: directory + "/epoch-0003.h5")
        let scan = try RunScan(directory: directory)
        XCTAssertEqual(scan.firstJumpEpoch, 2, "a NaN loss after finite ones counts as a jump")
        let elements = try parse(RunPlot.svg(scan))
        XCTAssertEqual(elements.paths.count, 4)
        let loss = try XCTUnwrap(elements.paths.first { $0["data-series"] == "loss" }?["d"])
        XCTAssertEqual(loss.filter { $0 == "M" }.count, 2, "the NaN epoch splits the loss line in two")
        XCTAssertEqual(elements.lines.filter { $0["stroke-dasharray"] != nil }.count, 2, "jump and NaN markers")
    }
}
