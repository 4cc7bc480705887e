import KerasFile

/// Keras 3.7 and later on the TensorFlow backend put a channels_first convolution's bias on the
/// output's LAST axis, not on the channels, whenever that axis is as long as the bias. Relapse
/// computes the documented channel bias (as tf-keras, Keras 2.2, Keras 3.0-3.6 and Keras 3 on
/// JAX, PyTorch and NumPy do), so such a file is refused: its Keras trains and predicts
/// something else.
///
/// How (keras 3.15.1's sources; 3.7.0's are the same): each convolution reshapes its bias to
/// (1, C, 1, ...) under channels_first and calls `ops.add(outputs, bias)`
/// (`keras/src/layers/convolutional/base_conv.py` lines 257-263, `conv1d.py` 160-166,
/// `base_depthwise_conv.py` 205-215, `base_separable_conv.py` 224-230, `base_conv_transpose.py`
/// 226-232). The TensorFlow backend's `add` (`keras/src/backend/tensorflow/numpy.py` lines
/// 108-129) turns an addition whose right operand squeezes to one axis longer than 1 into
/// `tf.nn.bias_add`, with data_format "NHWC" (the bias on the last axis) when
/// `x1.shape[-1] == len(bias)`, else "NCHW". Keras 3.0-3.6 wrote `outputs += bias` and their
/// `add` was `tf.add`: no special case.
///
/// Measured on Keras 3.15.1 and 3.7.0 with TensorFlow 2.21 on the CPU: Conv2DTranspose,
/// DepthwiseConv2D and SeparableConv2D put the bias on the last axis in eager calls, `predict`
/// and `fit`; Conv2D and Conv1D do so in eager calls and under XLA (`jit_compile=True`, Keras's
/// default wherever TensorFlow sees a GPU), while CPU graphs without XLA add it on the channels
/// forward but take its gradient over the last axis, which matches neither. A single output
/// channel squeezes to nothing and stays a plain `tf.add`. Keras 3.6.0 and tf-keras 2.21
/// compute the documented bias in every mode.
enum Keras3BiasAxis {
    /// Whether the Keras that saved a file adds biases this way: Keras 3.7 or later on
    /// TensorFlow. A legacy `.h5` records its backend; a `.keras` does not (`saving_lib.py`
    /// writes only `keras_version` and `date_saved` to metadata.json), and most Keras 3 users
    /// run TensorFlow, so an unrecorded backend counts as TensorFlow.
    static func applies(producer: Producer, backend: String?) -> Bool {
        guard case .keras3(let version) = producer else { return false }
        let numbers = version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? -1 }
        guard numbers.count > 1, numbers[1] >= 7 else { return false }
        return (backend ?? "tensorflow").lowercased() == "tensorflow"
    }

    /// The refusal of one call of a layer, given the per-sample shape it outputs there: a
    /// channels_first convolution with a bias of more than one channel whose last axis is as
    /// long as its channel axis. `convertedFrom`: the Keras of a model `convert` would rewrite
    /// for this one, which computes the channel bias.
    static func refusal(_ spec: LayerSpec, outputShape: [Int], producer: Producer, backend: String?,
                        convertedFrom source: Producer? = nil) -> ConfigRefusal? {
        guard let (dataFormat, useBias) = spec.convolutionBias, dataFormat == .channelsFirst, useBias,
              outputShape.count >= 2, let channels = outputShape.first, channels > 1, outputShape.last == channels
        else { return nil }
        let axis = outputShape.count == 2 ? "length" : "width"
        let keras = "Keras \(producer.version ?? "3")"
        // Saved on JAX or PyTorch, the model can be saved again as a legacy .h5, which records it.
        let backendNote = backend == nil
            ? " (the file does not record its backend: a model saved on JAX or PyTorch records it in a legacy .h5)" : ""
        let consequence = source.map { "\($0) adds it along the channels, so the converted model would compute something else" }
            ?? "Relapse computes the channel bias and cannot reproduce that\(backendNote)"
        return ConfigRefusal(
            scope: "layer '\(spec.name)' (\(spec.className))", key: "data_format", value: .string(dataFormat.rawValue),
            reason: "with \(channels) output channels and an output \(axis) of \(channels): \(keras) on the TensorFlow backend adds this bias along the last axis (the \(axis)), not the channels, when the two sizes are equal; \(consequence)")
    }
}

extension Graph {
    /// Every layer that `Keras3BiasAxis` refuses for a file saved by `producer` on `backend`,
    /// once per layer (a shared layer is judged at each of its calls), in node order.
    func keras3BiasAxisRefusals(_ definition: ModelDefinition, producer: Producer, backend: String?,
                                convertedFrom source: Producer? = nil) -> [ConfigRefusal] {
        guard Keras3BiasAxis.applies(producer: producer, backend: backend) else { return [] }
        var refused = Set<Int>()
        var refusals: [ConfigRefusal] = []
        for node in nodes {
            guard let k = node.spec, !refused.contains(k),
                  let refusal = Keras3BiasAxis.refusal(definition.layers[k], outputShape: node.layer.base.outputShape,
                                                       producer: producer, backend: backend, convertedFrom: source)
            else { continue }
            refused.insert(k)
            refusals.append(refusal)
        }
        return refusals
    }
}

extension LayerSpec {
    /// A convolution's data format and whether it adds a bias; nil for other layers.
    var convolutionBias: (DataFormat, Bool)? {
        switch kind {
        case .conv2D(let c): return (c.dataFormat, c.useBias)
        case .spatial(.depthwiseConv2D(let c)), .spatial(.separableConv2D(let c)), .spatial(.conv2DTranspose(let c)),
             .spatial(.conv1D(let c)):
            return (c.dataFormat, c.useBias)
        default: return nil
        }
    }
}
