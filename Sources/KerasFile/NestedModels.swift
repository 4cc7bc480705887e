/// A Sequential or functional model used as a layer of another (transfer learning's
/// `Sequential([base, Dense(...)])`, a block reused as a layer) is inlined: its layers join the
/// outer model's, wired to the tensors each call of the nested model received, and the outer
/// model's references to the nested model's output point at the inner layer that produces it.
/// The file keeps the nested model's weights in one group under its name (`weightGroups`).
enum NestedModels {
    /// A nested model as parsed, and the outer layer entry that calls it (its inbound nodes).
    struct Call {
        var outer: LayerSpec
        var inner: ModelDefinition
    }

    /// Replaces each placeholder in `layers` by the inner model's layers and rewrites every
    /// reference to a nested model (in `layers` and in `outputs`). `listForm`: the outer config
    /// is Keras 2 / tf.keras's, whose node indices for a nested functional model count a first
    /// node the config omits (`_should_skip_first_node` in tf_keras/src/engine/functional.py).
    static func inline(_ layers: [LayerSpec], nested: [String: Call], outputs: inout [TensorRef], listForm: Bool)
        throws -> (layers: [LayerSpec], weightGroups: [String: [String]], refusals: [ConfigRefusal]) {
        // Where call c of each nested model leaves its output.
        var outputOf: [String: (layer: String, offset: Int)] = [:]
        var refusals: [ConfigRefusal] = []
        for (name, call) in nested {
            guard call.inner.inputs.count == 1, call.inner.outputs.count == 1 else {
                throw ModelConfigParser.Failure("nested model '\(name)' has \(call.inner.inputs.count) inputs and \(call.inner.outputs.count) outputs; nested models with one of each are computed")
            }
            let out = call.inner.outputs[0]
            guard out.nodeIndex == 0, out.tensorIndex == 0 else {
                throw ModelConfigParser.Failure("nested model '\(name)' outputs a later call of '\(out.layer)'")
            }
            for spec in call.inner.layers where spec.inboundNodes.count > 1 {
                throw ModelConfigParser.Failure("nested model '\(name)' calls its layer '\(spec.name)' more than once")
            }
            let referenced = (layers.flatMap { $0.inboundNodes.joined() } + outputs).filter { $0.layer == name }.map(\.nodeIndex)
            let offset = listForm && (referenced.max() ?? 0) >= call.outer.inboundNodes.count ? 1 : 0
            outputOf[name] = (out.layer, offset)
            refusals += call.inner.modelRefusals + call.outer.refusals
        }
        func remap(_ ref: TensorRef) throws -> TensorRef {
            guard let target = outputOf[ref.layer] else { return ref }
            let callIndex = ref.nodeIndex - target.offset
            guard callIndex >= 0, ref.tensorIndex == 0 else {
                throw ModelConfigParser.Failure("a layer reads call \(ref.nodeIndex), output \(ref.tensorIndex) of nested model '\(ref.layer)', which it does not have")
            }
            return TensorRef(layer: target.layer, nodeIndex: callIndex)
        }

        var result: [LayerSpec] = []
        var groups: [String: [String]] = [:]
        for spec in layers {
            guard let call = nested[spec.name] else {
                var copy = spec
                copy.inboundNodes = try spec.inboundNodes.map { try $0.map(remap) }
                result.append(copy)
                continue
            }
            let inputName = call.inner.inputs[0].layer
            // First in a Sequential: no outer tensor feeds it, so its own input layer stays.
            let keepsInput = call.outer.inboundNodes.isEmpty
            let calls = keepsInput ? [[TensorRef(layer: inputName)]] : call.outer.inboundNodes
            for (c, refs) in calls.enumerated() where refs.count != 1 {
                throw ModelConfigParser.Failure("nested model '\(spec.name)' is called on \(refs.count) tensors (call \(c)); it takes one")
            }
            for var inner in call.inner.layers {
                if inner.name == inputName {
                    if keepsInput { result.append(inner) }
                    continue
                }
                if !call.outer.training.trainable { inner.training.trainable = false }
                // Call c of the nested model is call c of each of its layers.
                let innerNode = inner.inboundNodes.first ?? []
                inner.inboundNodes = try calls.enumerated().map { c, outerRefs in
                    try innerNode.map { ref in
                        guard ref.layer == inputName else { return TensorRef(layer: ref.layer, nodeIndex: c) }
                        return keepsInput ? ref : try remap(outerRefs[0])
                    }
                }
                inner.callTraining = Array(repeating: inner.callTraining.first ?? nil, count: calls.count)
                result.append(inner)
            }
            // The file keeps every weight of the nested model (its own nested ones included) in one group.
            groups[spec.name] = call.inner.layers.filter { $0.name != inputName }.map(\.name)
        }
        outputs = try outputs.map(remap)
        var seen = Set<String>()
        for spec in result where !seen.insert(spec.name).inserted {
            throw ModelConfigParser.Failure("layer name '\(spec.name)' is used both inside a nested model and outside it")
        }
        return (result, groups, refusals)
    }
}

/// A weight in a file's group: the layer it belongs to and its name within the layer.
public struct StoredWeight: Equatable, Sendable {
    public var layer: String
    public var weight: String
    /// Among Keras's `trainable_weights` (its layer trains, and it is not state).
    public var trainable: Bool
}

extension ModelDefinition {
    /// The weights a file's group `name` holds, in stored order; nil when no layer or nested
    /// model has that name. A layer's group is its `weightNames`; a nested model's group is its
    /// `trainable_weights` then its `non_trainable_weights` (`_legacy_weights` in tf_keras's and
    /// Keras 3's legacy h5 saving), each in its layers' order.
    public func storedWeights(group name: String) -> [StoredWeight]? {
        func weights(of spec: LayerSpec) -> [StoredWeight] {
            spec.weightNames.map { StoredWeight(layer: spec.name, weight: $0,
                                                trainable: spec.training.trainable && !spec.nonTrainableWeightNames.contains($0)) }
        }
        if let members = weightGroups[name] {
            let all = members.compactMap { layer(named: $0) }.flatMap(weights(of:))
            return all.filter(\.trainable) + all.filter { !$0.trainable }
        }
        guard let spec = layer(named: name), !isInsideNestedModel(spec.name) else { return nil }
        return weights(of: spec)
    }

    /// The file's weight groups the architecture expects: every layer with weights outside a
    /// nested model, and every nested model.
    public var expectedWeightGroups: [String] {
        let nested = Set(weightGroups.values.joined())
        return layers.filter { !$0.weightNames.isEmpty && !nested.contains($0.name) }.map(\.name) + weightGroups.keys.sorted()
    }

    func isInsideNestedModel(_ layer: String) -> Bool {
        weightGroups.values.contains { $0.contains(layer) }
    }
}
