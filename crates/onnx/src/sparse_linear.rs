//! A hashed-n-gram linear model evaluated in Rust, without ONNX Runtime.
//!
//! The `fast` model's graph is a sparse linear model per output: `sigmoid(b + Σ_k W[ids[k]] · weights[k])`,
//! written as `GatherElements → Reshape → Mul → ReduceSum → Add → Sigmoid`. Running it through ONNX Runtime
//! costs a padded batch, a session call and a gather over a tensor per document; reading `W` and `b` out of the
//! graph's initializers and summing directly costs one pass over the document's features. [`SparseLinear::
//! from_onnx`] accepts a graph only when every requested output is computed exactly that way from the two
//! named inputs (anything else returns `None`, and the caller keeps ONNX Runtime), so the two paths compute the
//! same function; they differ in the last bits only (the sum here is taken in f64; ONNX Runtime sums in f32 and
//! approximates the sigmoid).

use std::collections::HashMap;

/// One output of the model, as the graph holds it: its weights over the hash buckets and its bias.
struct Head<'g> {
    weights: &'g [f32],
    bias: f32,
}

/// The heads of a sparse linear graph, in the order of the outputs they were read for.
pub struct SparseLinear {
    /// The heads' weights interleaved by bucket (`weights[bucket * heads + h]`): a document's buckets are
    /// scattered over a table larger than the caches, and side by side every head's weight of a bucket comes
    /// with the same cache line.
    weights: Vec<f32>,
    biases: Vec<f32>,
}

impl SparseLinear {
    /// The heads of `model` (ONNX bytes) for `outputs`, when each is `sigmoid(b + Σ W[ids] · weights)` of the
    /// inputs `ids` (int64 bucket indices) and `weights` (float feature values) over `buckets` buckets.
    pub fn from_onnx(model: &[u8], ids: &str, weights: &str, outputs: &[&str], buckets: usize) -> Option<Self> {
        let graph = Graph::parse(model)?;
        let heads: Vec<Head> = outputs.iter().map(|&o| graph.head(o, ids, weights, buckets)).collect::<Option<_>>()?;
        let weights = (0..buckets).flat_map(|b| heads.iter().map(move |h| h.weights[b])).collect();
        Some(SparseLinear { weights, biases: heads.iter().map(|h| h.bias).collect() })
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.biases.len()
    }

    /// One probability per output for a row of features (`ids` below the model's bucket count, checked by the
    /// caller's encoder).
    pub fn eval(&self, ids: &[i64], values: &[f32], out: &mut [f32]) {
        match self.biases.len() {
            // `fast` has two heads; the same sums, in the same order, as the general case below.
            2 => {
                let (mut a, mut b) = (0f64, 0f64);
                for (&i, &v) in ids.iter().zip(values) {
                    let w = &self.weights[2 * i as usize..2 * i as usize + 2];
                    a += f64::from(w[0] * v);
                    b += f64::from(w[1] * v);
                }
                out[0] = sigmoid(a + f64::from(self.biases[0]));
                out[1] = sigmoid(b + f64::from(self.biases[1]));
            }
            heads => {
                for (h, (out, &bias)) in out.iter_mut().zip(&self.biases).enumerate() {
                    let dot: f64 = ids
                        .iter()
                        .zip(values)
                        .map(|(&i, &v)| f64::from(self.weights[i as usize * heads + h] * v))
                        .sum();
                    *out = sigmoid(dot + f64::from(bias));
                }
            }
        }
    }
}

fn sigmoid(x: f64) -> f32 {
    (1.0 / (1.0 + (-x).exp())) as f32
}

/// The parts of an ONNX graph the matcher reads: its nodes by output name, and its initializers.
struct Graph<'a> {
    producer: HashMap<&'a str, Node<'a>>,
    floats: HashMap<&'a str, Vec<f32>>,
    ints: HashMap<&'a str, Vec<i64>>,
}

#[derive(Clone)]
struct Node<'a> {
    op: &'a str,
    inputs: Vec<&'a str>,
    /// Integer attributes (`axis`), by name.
    ints: Vec<(&'a str, i64)>,
}

impl<'a> Graph<'a> {
    fn parse(model: &'a [u8]) -> Option<Self> {
        // ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5.
        let graph = fields(model)?.into_iter().find_map(|(n, v)| (n == 7).then_some(v).and_then(Value::bytes))?;
        let mut g = Graph { producer: HashMap::new(), floats: HashMap::new(), ints: HashMap::new() };
        for (n, v) in fields(graph)? {
            match (n, v) {
                (1, Value::Bytes(b)) => {
                    let (node, outputs) = parse_node(b)?;
                    for o in outputs {
                        g.producer.insert(o, node.clone());
                    }
                }
                (5, Value::Bytes(b)) => g.add_initializer(b)?,
                _ => {}
            }
        }
        Some(g)
    }

    /// TensorProto: dims = 1, data_type = 2 (1 float, 7 int64), float_data = 4, int64_data = 7, name = 8,
    /// raw_data = 9 (little-endian).
    fn add_initializer(&mut self, tensor: &'a [u8]) -> Option<()> {
        let (mut name, mut kind, mut raw) = ("", 0, None);
        let (mut floats, mut ints) = (Vec::new(), Vec::new());
        for (n, v) in fields(tensor)? {
            match (n, v) {
                (2, Value::Varint(t)) => kind = t,
                (4, Value::Fixed32(x)) => floats.push(f32::from_bits(x)),
                (4, Value::Bytes(b)) => {
                    floats.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())))
                }
                (7, Value::Varint(x)) => ints.push(x as i64),
                (7, Value::Bytes(b)) => ints.extend(varints(b)?.into_iter().map(|x| x as i64)),
                (8, Value::Bytes(b)) => name = std::str::from_utf8(b).ok()?,
                (9, Value::Bytes(b)) => raw = Some(b),
                _ => {}
            }
        }
        match (kind, raw) {
            (1, Some(b)) => floats = b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
            (7, Some(b)) => ints = b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
            _ => {}
        }
        match kind {
            1 => {
                self.floats.insert(name, floats);
            }
            7 => {
                self.ints.insert(name, ints);
            }
            _ => {}
        }
        Some(())
    }

    /// The node computing `output`, when it is `op` (its inputs are then in `node.inputs`).
    fn node(&self, output: &str, op: &str) -> Option<&Node<'a>> {
        self.producer.get(output).filter(|n| n.op == op)
    }

    /// Of two inputs, the one that is not `known` (commutative ops list them in either order).
    fn other(inputs: &[&'a str], known: impl Fn(&str) -> bool) -> Option<&'a str> {
        match *inputs {
            [a, b] if known(b) => Some(a),
            [a, b] if known(a) => Some(b),
            _ => None,
        }
    }

    /// `output = Sigmoid(Add(ReduceSum(Mul(Reshape(GatherElements(W, Reshape(ids, [-1])), Shape(ids)),
    /// weights), [1]), b))`, with W of `buckets` floats and b one float.
    fn head(&self, output: &str, ids: &str, weights: &str, buckets: usize) -> Option<Head<'_>> {
        let sigmoid = self.node(output, "Sigmoid")?;
        let add = self.node(sigmoid.inputs.first()?, "Add")?;
        let is_bias = |n: &str| self.floats.get(n).is_some_and(|b| b.len() == 1);
        let dot = Self::other(&add.inputs, is_bias)?;
        let bias_name = add.inputs.iter().find(|&&n| n != dot)?;
        let reduce = self.node(dot, "ReduceSum")?;
        if reduce.inputs.len() != 2 || !matches!(self.ints.get(reduce.inputs[1]).map(Vec::as_slice), Some([1] | [-1])) {
            return None;
        }
        let mul = self.node(reduce.inputs[0], "Mul")?;
        let gathered = Self::other(&mul.inputs, |n| n == weights)?;
        let reshape = self.node(gathered, "Reshape")?;
        let shape = self.node(reshape.inputs.get(1)?, "Shape")?;
        let gather = self.node(reshape.inputs.first()?, "GatherElements")?;
        if shape.inputs != [ids] || gather.inputs.len() != 2 || gather.ints.iter().any(|&(k, v)| k == "axis" && v != 0)
        {
            return None;
        }
        let flat = self.node(gather.inputs[1], "Reshape")?;
        if flat.inputs.first() != Some(&ids) || self.ints.get(flat.inputs.get(1)?).map(Vec::as_slice) != Some(&[-1]) {
            return None;
        }
        let table = self.floats.get(gather.inputs[0]).filter(|w| w.len() == buckets)?;
        Some(Head { weights: table, bias: self.floats[bias_name][0] })
    }
}

/// NodeProto: input = 1, output = 2, op_type = 4, attribute = 5 (AttributeProto: name = 1, i = 3).
fn parse_node(node: &[u8]) -> Option<(Node<'_>, Vec<&str>)> {
    let mut n = Node { op: "", inputs: Vec::new(), ints: Vec::new() };
    let mut outputs = Vec::new();
    for (k, v) in fields(node)? {
        match (k, v) {
            (1, Value::Bytes(b)) => n.inputs.push(std::str::from_utf8(b).ok()?),
            (2, Value::Bytes(b)) => outputs.push(std::str::from_utf8(b).ok()?),
            (4, Value::Bytes(b)) => n.op = std::str::from_utf8(b).ok()?,
            (5, Value::Bytes(b)) => {
                let attribute = fields(b)?;
                let name = attribute.iter().find_map(|(k, v)| (*k == 1).then_some(*v).and_then(Value::bytes));
                let int = attribute.iter().find_map(|(k, v)| match (k, v) {
                    (3, Value::Varint(i)) => Some(*i as i64),
                    _ => None,
                });
                if let (Some(name), Some(int)) = (name, int) {
                    n.ints.push((std::str::from_utf8(name).ok()?, int));
                }
            }
            _ => {}
        }
    }
    Some((n, outputs))
}

/// A protobuf field's value by wire type.
#[derive(Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    fn bytes(self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        x |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(x);
        }
    }
    None
}

fn varints(buf: &[u8]) -> Option<Vec<u64>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        out.push(varint(buf, &mut pos)?);
    }
    Some(out)
}

/// The fields of one protobuf message, in order; `None` when it is malformed.
fn fields(buf: &[u8]) -> Option<Vec<(u32, Value<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(buf, &mut pos)?),
            1 => {
                pos = pos.checked_add(8).filter(|&p| p <= buf.len())?;
                Value::Fixed64
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|&e| e <= buf.len())?;
                let b = &buf[pos..end];
                pos = end;
                Value::Bytes(b)
            }
            5 => {
                let end = pos.checked_add(4).filter(|&e| e <= buf.len())?;
                let x = u32::from_le_bytes(buf[pos..end].try_into().unwrap());
                pos = end;
                Value::Fixed32(x)
            }
            _ => return None,
        };
        out.push(((key >> 3) as u32, value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: &[u8] = include_bytes!("../../../models/fast/model.onnx");

    #[test]
    fn reads_the_fast_graph_and_refuses_other_names() {
        let m = SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine", "p_machine_short"], 1 << 19).unwrap();
        assert_eq!(m.outputs(), 2);
        // An empty document is the bias alone.
        let mut out = [0f32; 2];
        m.eval(&[], &[], &mut out);
        assert!(out.iter().all(|p| *p > 0.0 && *p < 1.0), "{out:?}");
        assert!(SparseLinear::from_onnx(FAST, "weights", "ids", &["p_machine"], 1 << 19).is_none());
        assert!(SparseLinear::from_onnx(FAST, "ids", "weights", &["nope"], 1 << 19).is_none());
        assert!(SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine"], 1 << 18).is_none());
    }

    /// Each head gives the same bits whether it is read alone, with the other, or in the other order: the
    /// two-head loop and the general one sum the same products in the same order.
    #[test]
    fn heads_read_together_or_alone_agree_bit_for_bit() {
        let both = SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine", "p_machine_short"], 1 << 19).unwrap();
        let swapped =
            SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine_short", "p_machine"], 1 << 19).unwrap();
        let long = SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine"], 1 << 19).unwrap();
        let short = SparseLinear::from_onnx(FAST, "ids", "weights", &["p_machine_short"], 1 << 19).unwrap();
        let ids: Vec<i64> = (0..3000i64).map(|k| (k * 7919 + 13) % (1 << 19)).collect();
        let values: Vec<f32> = (0..3000).map(|k| 0.01 + (k % 17) as f32 / 400.0).collect();
        let (mut b, mut s, mut l, mut h) = ([0f32; 2], [0f32; 2], [0f32; 1], [0f32; 1]);
        both.eval(&ids, &values, &mut b);
        swapped.eval(&ids, &values, &mut s);
        long.eval(&ids, &values, &mut l);
        short.eval(&ids, &values, &mut h);
        assert_eq!([b[0].to_bits(), b[1].to_bits()], [l[0].to_bits(), h[0].to_bits()]);
        assert_eq!([s[0].to_bits(), s[1].to_bits()], [h[0].to_bits(), l[0].to_bits()]);
        assert_ne!(b[0], b[1], "the two heads are different models");
    }

    #[test]
    fn malformed_bytes_are_not_a_graph() {
        assert!(SparseLinear::from_onnx(&FAST[..FAST.len() / 2], "ids", "weights", &["p_machine"], 1 << 19).is_none());
        assert!(SparseLinear::from_onnx(b"\xff\xff\xff", "ids", "weights", &["p_machine"], 1 << 19).is_none());
        assert!(SparseLinear::from_onnx(b"", "ids", "weights", &["p_machine"], 1 << 19).is_none());
    }
}
