//! Helpers shared by the integration tests: corpora made on the spot, and readers for outputs.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, Float32Array, RecordBatch, StringArray};

/// A paragraph of ordinary prose that passes every heuristic.
pub const PROSE: &str = "The town council met on Tuesday evening to discuss the new bridge over the river. \
Several residents spoke about the traffic on the old road, and the mayor promised a decision before the end of the month. \
Work on the bridge could start in the spring if the budget is approved. \
Local shops have asked for a say in the timing, since the road works will take away parking for most of the summer. \
The council will publish the plans on its website next week and hold a public meeting in the library.";

/// Documents: (id, text) good prose, a short one, a repetitive one.
pub fn good_docs(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let text = match i % 3 {
                0 => format!("{PROSE}\n\nUpdate {i}: the meeting was moved to Thursday."),
                1 => "Too short to keep.".to_string(),
                _ => "Buy now!\n".repeat(40),
            };
            (format!("doc-{i}"), text)
        })
        .collect()
}

pub fn jsonl_line(id: &str, text: &str) -> String {
    serde_json::json!({"id": id, "text": text, "url": format!("https://example.org/{id}")}).to_string()
}

pub fn write_jsonl(path: &Path, docs: &[(String, String)]) {
    let mut f = std::fs::File::create(path).unwrap();
    for (id, text) in docs {
        writeln!(f, "{}", jsonl_line(id, text)).unwrap();
    }
}

pub fn jsonl_bytes(docs: &[(String, String)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (id, text) in docs {
        writeln!(v, "{}", jsonl_line(id, text)).unwrap();
    }
    v
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// All part files of a category, sorted.
pub fn parts(out: &Path, category: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(out.join(category)) else { return Vec::new() };
    let mut v: Vec<PathBuf> =
        rd.map(|e| e.unwrap().path()).filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.')).collect();
    v.sort();
    v
}

pub fn read_category(out: &Path, category: &str) -> Vec<RecordBatch> {
    parts(out, category).iter().flat_map(|p| svalbard::sink::read_part(p).unwrap()).collect()
}

pub fn rows(out: &Path, category: &str) -> u64 {
    read_category(out, category).iter().map(|b| b.num_rows() as u64).sum()
}

pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
            (0..c.len()).map(move |i| c.value(i).to_string())
        })
        .collect()
}

/// Where the shared data lives, if this checkout has it (a user's fresh clone does not).
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("SVALBARD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    p.is_dir().then_some(p)
}

/// A Float32 column over all batches, in order.
pub fn floats(batches: &[RecordBatch], column: &str) -> Vec<f32> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap().as_any().downcast_ref::<Float32Array>().unwrap().clone();
            (0..c.len()).map(move |i| c.value(i))
        })
        .collect()
}

/// A copy of the model folder `src` (its `model.onnx` and `tokenizer.json`) in a temporary folder, with its card
/// (`model.toml`) edited by `edit`.
pub fn edited_model(src: &Path, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["model.onnx", "tokenizer.json"] {
        std::fs::copy(src.join(f), d.path().join(f)).unwrap();
    }
    let card = std::fs::read_to_string(src.join("model.toml")).unwrap();
    std::fs::write(d.path().join("model.toml"), edit(&card)).unwrap();
    d
}
