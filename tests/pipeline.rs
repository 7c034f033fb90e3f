//! End-to-end runs of the pipeline: every document lands in exactly one of clean, rejected or quarantine,
//! whatever the input throws at it.

mod common;

use std::io::Write;

use arrow::array::{Array, Float32Array};
use std::path::Path;

use common::*;
use svalbard::config::Config;
use svalbard::pipeline::{self, Job};
use svalbard::sink::OutputFormat;
use svalbard::source::plan_inputs;
use svalbard::stats::RunStats;

fn run(inputs: &[&Path], out: &Path, config: Config) -> RunStats {
    let specs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let job = Job::new(plan_inputs(&specs).unwrap(), out.to_path_buf(), config);
    pipeline::run(&job).unwrap()
}

/// The outputs on disk agree with the stats, and the stats balance, in total and per input.
fn check_conservation(out: &Path, stats: &RunStats) {
    let t = &stats.totals;
    assert!(t.balanced(), "{t:?}");
    for i in &stats.inputs {
        assert!(i.counts.balanced(), "{}: {:?}", i.path, i.counts);
    }
    assert_eq!(rows(out, "clean"), t.clean);
    assert_eq!(rows(out, "rejected"), t.rejected);
    assert_eq!(rows(out, "quarantine"), t.quarantined);
    let on_disk: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(on_disk["totals"]["docs_in"], t.docs_in);
}

#[test]
fn conservation_over_every_kind_of_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let docs = good_docs(300);

    // Plain JSONL with malformed lines, invalid UTF-8, a missing text field and blank lines mixed in.
    let mut mixed = jsonl_bytes(&docs[..100]);
    mixed.extend_from_slice(b"{\"id\": \"broken\", \"text\": \"unterminated\n");
    mixed.extend_from_slice(b"{\"id\": \"latin1\", \"text\": \"caf\xe9\"}\n");
    mixed.extend_from_slice(b"{\"id\": \"notext\"}\n\n   \n");
    mixed.extend_from_slice(&jsonl_bytes(&docs[100..150]));
    std::fs::write(dir.join("a_mixed.jsonl"), &mixed).unwrap();
    // An empty file.
    std::fs::write(dir.join("b_empty.jsonl"), b"").unwrap();
    // Truncated .gz and .zst.
    // Large enough for several zstd blocks (128 KiB each): a cut inside the first block leaves nothing.
    let payload = jsonl_bytes(&good_docs(3000));
    let gz = gzip(&payload);
    std::fs::write(dir.join("c_truncated.jsonl.gz"), &gz[..gz.len() * 2 / 3]).unwrap();
    let zst = zstd::encode_all(payload.as_slice(), 3).unwrap();
    std::fs::write(dir.join("d_truncated.jsonl.zst"), &zst[..zst.len() * 2 / 3]).unwrap();
    // A good Parquet file and a truncated one.
    let pq = dir.join("e_good.parquet");
    write_parquet(&pq, &docs[..120]);
    let bytes = std::fs::read(&pq).unwrap();
    std::fs::write(dir.join("f_truncated.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    // One 50 MB document.
    let word_pool = ["river", "bridge", "council", "meeting", "the", "of", "and", "summer", "traffic", "library"];
    let mut huge = String::with_capacity(50 << 20);
    let mut i = 0usize;
    while huge.len() < 50 << 20 {
        huge.push_str(word_pool[(i * 7 + i / 3) % word_pool.len()]);
        huge.push(if i % 17 == 16 { '\n' } else { ' ' });
        i += 1;
    }
    write_jsonl(&dir.join("g_huge.jsonl"), &[("huge".into(), huge)]);

    let out = d.path().join("out");
    let stats = run(&[&dir], &out, Config::default());
    check_conservation(&out, &stats);

    let by_name = |n: &str| stats.inputs.iter().find(|i| i.path.ends_with(n)).unwrap();
    let a = by_name("a_mixed.jsonl");
    assert_eq!(a.counts.docs_in, 153);
    assert_eq!(a.counts.quarantined, 3);
    assert_eq!(a.counts.blank_lines, 2);
    assert_eq!(by_name("b_empty.jsonl").counts.docs_in, 0);
    for n in ["c_truncated.jsonl.gz", "d_truncated.jsonl.zst"] {
        let s = by_name(n);
        assert!(!s.damage.is_empty(), "{n} should be marked damaged");
        assert!(s.counts.docs_in > 50 && s.counts.docs_in < 3000, "{n}: {:?}", s.counts);
    }
    assert_eq!(by_name("e_good.parquet").counts.docs_in, 120);
    let f = by_name("f_truncated.parquet");
    assert!(f.error.as_deref().unwrap().contains("not a readable Parquet file"));
    assert_eq!(f.counts.quarantined, 1);
    let g = by_name("g_huge.jsonl");
    assert_eq!((g.counts.docs_in, g.counts.rejected), (1, 1));
    assert_eq!(g.rules["gopher_quality.too_many_words"].rejected, 1);
    assert!(stats.had_input_problems());
    assert_eq!(stats.inputs_failed, 1);
    assert_eq!(stats.inputs_damaged, 2);

    // The quarantine keeps the raw bytes and the reason.
    let q = read_category(&out, "quarantine");
    let errors = strings(&q, "error");
    assert!(errors.iter().any(|e| e == "invalid UTF-8"));
    assert!(errors.iter().any(|e| e.contains("missing text field")));
    assert!(errors.iter().any(|e| e.starts_with("malformed JSON")));
}

fn write_parquet(path: &Path, docs: &[(String, String)]) {
    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false), Field::new("text", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(docs.iter().map(|d| d.0.as_str()))),
            Arc::new(StringArray::from_iter_values(docs.iter().map(|d| d.1.as_str()))),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_max_row_group_row_count(Some(50))
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn verdicts_reasons_and_passthrough_columns() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(9));
    let out = d.path().join("out");
    let stats = run(&[&input], &out, Config::default());
    check_conservation(&out, &stats);
    assert_eq!((stats.totals.clean, stats.totals.rejected), (3, 6));
    let clean = read_category(&out, "clean");
    assert_eq!(strings(&clean, "verdict"), vec!["clean"; 3]);
    assert_eq!(strings(&clean, "id"), vec!["doc-0", "doc-3", "doc-6"]);
    assert_eq!(strings(&clean, "url")[0], "https://example.org/doc-0");
    let schema = clean[0].schema();
    for col in [
        "gopher_quality_word_count",
        "gopher_repetition_dup_line_frac",
        "c4_sentence_count",
        "fineweb_line_punct_frac",
        "vocab_excess_rate",
        "fast_p_machine",
        "p_machine",
        "reasons",
        "flags",
    ] {
        assert!(schema.index_of(col).is_ok(), "missing column {col}");
    }
    // Signals that are off by default write no columns.
    assert!(
        schema.index_of("stylometry_type_token_ratio").is_err()
            && schema.index_of("typography_curly_quote_frac").is_err()
    );
    let rejected = read_category(&out, "rejected");
    let reasons = strings(&rejected, "reasons");
    assert!(reasons[0].contains("gopher_quality.too_few_words"), "{reasons:?}");
    // "Buy now!" forty times has no stop word: Gopher's word rules run first and reject it, so its repetition is
    // not measured (scoring stops at the first quality signal that rejects) unless every signal scores.
    assert_eq!(reasons[1], "gopher_quality.stop_words");
    assert!(stats.rules["gopher_quality.too_few_words"].rejected >= 3);
    let mut all = Config::default();
    all.signals.score_all = true;
    run(&[&input], &d.path().join("all"), all);
    let reasons = strings(&read_category(&d.path().join("all"), "rejected"), "reasons");
    assert!(reasons[1].contains("gopher_quality.stop_words,gopher_repetition.dup_line"), "{reasons:?}");
}

#[test]
fn flagging_rules_keep_documents_clean() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3));
    let out = d.path().join("out");
    let config = Config::from_toml_str(
        "[signals.gopher_quality]\naction = \"flag\"\n[signals.gopher_repetition]\naction = \"flag\"\n[signals.c4]\naction = \"flag\"\n[signals.fineweb]\naction = \"flag\"\n",
    )
    .unwrap();
    let stats = run(&[&input], &out, config);
    assert_eq!(stats.totals.clean, 3);
    let flags = strings(&read_category(&out, "clean"), "flags");
    assert!(flags[1].contains("gopher_quality.too_few_words"));
}

#[test]
fn parquet_output_and_small_parts() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3000));
    let out = d.path().join("out");
    let mut config = Config::default();
    config.output.format = OutputFormat::Parquet;
    config.output.max_file_bytes = 64 << 10;
    config.input.batch_docs = 200;
    config.input.batch_bytes = 64 << 10;
    let stats = run(&[&input], &out, config);
    check_conservation(&out, &stats);
    assert!(parts(&out, "clean").len() > 2);
    assert!(parts(&out, "clean").iter().all(|p| p.extension().unwrap() == "parquet"));
    let ids = strings(&read_category(&out, "clean"), "id");
    assert_eq!(ids.len(), 1000);
    assert_eq!(ids[999], "doc-2997");
}

/// With two threads the scorer takes two batches at a time when the reader has them ready: every document
/// still lands once, in input order, with the scores one thread gives.
#[test]
fn batches_scored_two_at_a_time_keep_their_order_and_scores() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3000));
    let outputs: Vec<_> = [1usize, 2]
        .iter()
        .map(|&threads| {
            let out = d.path().join(format!("out-{threads}"));
            let mut config = Config::default();
            config.pipeline.threads = threads;
            config.input.batch_docs = 100;
            let stats = run(&[&input], &out, config);
            check_conservation(&out, &stats);
            let clean = read_category(&out, "clean");
            let rejected = read_category(&out, "rejected");
            (strings(&clean, "id"), strings(&rejected, "id"), strings(&rejected, "reasons"))
        })
        .collect();
    let (clean, rejected, _) = &outputs[0];
    let want_clean: Vec<String> = (0..3000).step_by(3).map(|i| format!("doc-{i}")).collect();
    assert_eq!(clean, &want_clean);
    assert_eq!(rejected.len(), 2000);
    assert!(rejected.windows(2).all(|w| w[0][4..].parse::<u32>().unwrap() < w[1][4..].parse::<u32>().unwrap()));
    assert_eq!(outputs[0], outputs[1], "one thread and two give the same outputs");
}

#[test]
fn a_rerun_resumes_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.jsonl");
    let b = d.path().join("b.jsonl");
    write_jsonl(&a, &good_docs(30));
    write_jsonl(&b, &good_docs(12));
    let out = d.path().join("out");
    let first = run(&[&a, &b], &out, Config::default());
    let listing = |out: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = ["clean", "rejected"]
            .iter()
            .flat_map(|c| parts(out, c))
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = listing(&out);
    // Simulate a run killed in the middle of input b: its marker and one part gone, a temporary left over.
    std::fs::remove_file(out.join("_progress/part-00001.json")).unwrap();
    std::fs::write(out.join("clean/.part-00001-0001.arrow.tmp"), b"half").unwrap();
    let second = run(&[&a, &b], &out, Config::default());
    assert_eq!(second.inputs_resumed, 1);
    assert_eq!(second.totals, first.totals);
    assert_eq!(listing(&out), before);
    assert!(!out.join("clean/.part-00001-0001.arrow.tmp").exists());
    // A different config must not silently mix into the same outputs.
    let mut other = Config::default();
    other.signals.c4.min_sentences = 1;
    let specs = vec![a.display().to_string(), b.display().to_string()];
    let e = pipeline::run(&Job::new(plan_inputs(&specs).unwrap(), out.clone(), other)).unwrap_err();
    assert!(e.to_string().contains("different configuration"), "{e}");
}

#[test]
fn cli_exit_codes_and_dry_run() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(6));
    let out = d.path().join("out");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let ok = run(&["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(stats["totals"]["docs_in"], 6);

    let gz = d.path().join("t.jsonl.gz");
    let bytes = gzip(&jsonl_bytes(&good_docs(200)));
    std::fs::File::create(&gz).unwrap().write_all(&bytes[..bytes.len() / 2]).unwrap();
    let damaged = run(&["filter", gz.to_str().unwrap(), "-o", d.path().join("o2").to_str().unwrap(), "-q"]);
    assert_eq!(damaged.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&damaged.stderr).contains("damaged"));

    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[signals.c4]\nmin_sentence = 3\n").unwrap();
    let bad = run(&["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-c", cfg.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("min_sentence"));

    assert_eq!(run(&["filter", "/nonexistent.jsonl", "-o", out.to_str().unwrap()]).status.code(), Some(4));
    assert_eq!(run(&["filter", "-o", out.to_str().unwrap()]).status.code(), Some(2));

    let dry = run(&["filter", input.to_str().unwrap(), "-o", d.path().join("o3").to_str().unwrap(), "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&dry.stdout).contains("part-00000"));
    assert!(!d.path().join("o3").exists());
    let v = run(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(3));
}

#[test]
fn vault_sign_verify_and_tamper() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(6));
    let out = d.path().join("out");
    let keys = d.path().join("keys");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let mut cfg = Config::default();
    cfg.signals.classifiers.clear();
    let cfg_path = d.path().join("c.toml");
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    assert_eq!(run(&["filter", &s(&input), "-o", &s(&out), "-q", "-c", &s(&cfg_path)]).status.code(), Some(0));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    assert!(outputs.iter().any(|o| o["path"].as_str().unwrap().starts_with("clean/") && o["rows"] == 2));
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(run(&["keygen", &s(&keys)]).status.code(), Some(0));
    let key = keys.join("svalbard-ed25519.key");
    let pubkey = keys.join("svalbard-ed25519.pub");
    assert_eq!(run(&["sign", &s(&out), "--key", &s(&key)]).status.code(), Some(0));
    let ok = run(&["verify", &s(&out), "--pubkey", &s(&pubkey)]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    // Tamper one byte of a clean partition.
    let part = parts(&out, "clean")[0].clone();
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let bad = run(&["verify", &s(&out), "--pubkey", &s(&pubkey)]);
    assert_eq!(bad.status.code(), Some(7));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("changed") && err.contains("clean/part-00000-0000.arrow"), "{err}");
}

#[test]
fn ngram_lm_signal_from_a_trained_model_and_from_arpa() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let train = d.path().join("train.jsonl");
    write_jsonl(&train, &(0..40).map(|i| (format!("t{i}"), format!("{PROSE} Note {i}."))).collect::<Vec<_>>());
    let model = d.path().join("m/lm.bin");
    let out = std::process::Command::new(bin)
        .args([
            "lm",
            "train",
            train.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
            "--order",
            "3",
            "--min-count",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // A tiny ARPA model: p(a) = 0.1, p(b) = 0.01, p(</s>) = 0.1, <unk> 0.001.
    let arpa = d.path().join("tiny.arpa");
    std::fs::write(
        &arpa,
        "\\data\\\nngram 1=5\n\n\\1-grams:\n-1\t<s>\t0\n-1\ta\t0\n-2\tb\t0\n-1\t</s>\t0\n-3\t<unk>\t0\n\n\\end\\\n",
    )
    .unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(
        &input,
        &[
            ("seen".into(), PROSE.into()),
            ("other".into(), "zebra quantum lattice marmalade".into()),
            ("ab".into(), "a b".into()),
        ],
    );
    for (m, check_arpa) in [(&model, false), (&arpa, true)] {
        let mut config = Config::default();
        config.signals.classifiers.clear();
        config.signals.ngram_lm.enabled = true;
        config.signals.ngram_lm.model = Some(m.clone());
        // These few-word documents fail the quality rules; the detectors score them only with score_all.
        config.signals.score_all = true;
        let o = d.path().join(format!("o{check_arpa}"));
        let stats = run(&[&input], &o, config);
        assert_eq!(stats.totals.docs_in, 3);
        let batches: Vec<_> = ["clean", "rejected"].iter().flat_map(|c| read_category(&o, c)).collect();
        let mut ppl = std::collections::HashMap::new();
        for b in &batches {
            let ids = strings(std::slice::from_ref(b), "id");
            let col = b
                .column_by_name("ngram_lm_perplexity")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow::array::Float32Array>()
                .unwrap()
                .clone();
            for (i, id) in ids.iter().enumerate() {
                ppl.insert(id.clone(), col.value(i));
            }
        }
        if check_arpa {
            // "a b": log10 p = -1 (a) -2 (b) -1 (</s>) over 3 tokens → ppl = 10^(4/3).
            assert!((ppl["ab"] as f64 - 10f64.powf(4.0 / 3.0)).abs() < 1e-2, "{}", ppl["ab"]);
        } else {
            // Text the model was trained on is far more predictable than unseen words.
            assert!(ppl["seen"] < ppl["other"] / 10.0, "{ppl:?}");
        }
    }
}

#[test]
fn vintage_documents_are_kept_whatever_the_detector_says() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    for (id, date) in [("old", "2019-06-01T12:00:00Z"), ("new", "2024-01-01"), ("undated", "")] {
        writeln!(f, "{}", serde_json::json!({"id": id, "text": PROSE, "date": date})).unwrap();
    }
    drop(f);
    let mut config = Config::from_toml_str(
        "[vintage]\nkeep = true\n[ensemble]\nenabled = false\n[[signals.classifiers]]\nmodel = \"builtin:fast\"\nthreshold = 0.0\n",
    )
    .unwrap();
    config.signals.gopher_quality.action = svalbard::spec::Action::Flag;
    let out = d.path().join("out");
    let stats = run(&[&input], &out, config);
    assert_eq!((stats.totals.clean, stats.totals.rejected), (1, 2));
    let clean = read_category(&out, "clean");
    assert_eq!(strings(&clean, "id"), vec!["old"]);
    assert!(strings(&clean, "flags")[0].contains("fast.machine"));
    let v = clean[0]
        .column_by_name("vintage")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .unwrap()
        .clone();
    assert!(v.value(0));
    assert_eq!(strings(&read_category(&out, "rejected"), "reasons"), vec!["fast.machine"; 2]);
}

#[test]
fn shards_cover_every_input_once_and_merge() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for k in 0..5 {
        let p = d.path().join(format!("in{k}.jsonl"));
        write_jsonl(&p, &good_docs(10 + k));
        inputs.push(p.display().to_string());
    }
    let out = d.path().join("out");
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "[signals]\nclassifiers = []\n").unwrap();
    for shard in ["0/2", "1/2"] {
        let mut args = vec!["filter".to_string()];
        args.extend(inputs.iter().cloned());
        args.extend(
            ["-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap(), "--shard", shard].map(String::from),
        );
        let o = std::process::Command::new(bin).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = std::process::Command::new(bin).args(["merge-stats", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(merged["totals"]["docs_in"], 10 + 11 + 12 + 13 + 14);
    assert_eq!(merged["inputs"].as_array().unwrap().len(), 5);
    assert_eq!(rows(&out, "clean") + rows(&out, "rejected"), 60);
}

#[test]
fn sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_outputs() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for k in 0..6 {
        let p = d.path().join(format!("in{k}.jsonl"));
        write_jsonl(&p, &good_docs(4000));
        inputs.push(p.display().to_string());
    }
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "[signals]\nclassifiers = []\n[input]\nbatch_docs = 500\n[output]\nmax_file_bytes = 200000\n")
        .unwrap();
    let args = |out: &Path| {
        let mut a = vec!["filter".to_string()];
        a.extend(inputs.iter().cloned());
        a.extend(["-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap()].map(String::from));
        a
    };
    let snapshot = |out: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = ["clean", "rejected", "quarantine"]
            .iter()
            .flat_map(|c| parts(out, c))
            .map(|p| (p.strip_prefix(out).unwrap().display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let reference = d.path().join("reference");
    assert_eq!(std::process::Command::new(bin).args(args(&reference)).output().unwrap().status.code(), Some(0));
    let want = snapshot(&reference);
    assert!(want.len() > 6);
    for (k, delays_ms) in [[5u64, 0], [40, 0], [120, 60], [300, 30]].iter().enumerate() {
        let out = d.path().join(format!("killed{k}"));
        for &ms in delays_ms.iter().filter(|&&ms| ms > 0) {
            let mut child = std::process::Command::new(bin).args(args(&out)).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(ms));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        let o = std::process::Command::new(bin).args(args(&out)).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(snapshot(&out), want, "outputs differ after kills at {delays_ms:?} ms");
        let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
        assert_eq!(stats["totals"]["docs_in"], 24000);
    }
}

#[test]
fn documents_signed_by_a_trusted_publisher_are_kept() {
    use ed25519_dalek::SigningKey;
    let publisher = SigningKey::from_bytes(&[7u8; 32]);
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    let sign = |k: &SigningKey, t: &str| svalbard::vault::sign::sign_text(k, t);
    writeln!(f, "{}", serde_json::json!({"id": "signed", "text": PROSE, "signature": sign(&publisher, PROSE)}))
        .unwrap();
    writeln!(f, "{}", serde_json::json!({"id": "stranger", "text": PROSE, "signature": sign(&stranger, PROSE)}))
        .unwrap();
    writeln!(
        f,
        "{}",
        serde_json::json!({"id": "tampered", "text": format!("{PROSE}!"), "signature": sign(&publisher, PROSE)})
    )
    .unwrap();
    writeln!(f, "{}", serde_json::json!({"id": "unsigned", "text": PROSE})).unwrap();
    drop(f);
    let key_hex = hex::encode(publisher.verifying_key().to_bytes());
    let config = Config::from_toml_str(&format!(
        "[trust]\npublic_keys = [\"{key_hex}\"]\n[ensemble]\nenabled = false\n[[signals.classifiers]]\nmodel = \"builtin:fast\"\nthreshold = 0.0\n"
    ))
    .unwrap();
    let out = d.path().join("out");
    let stats = run(&[&input], &out, config);
    assert_eq!((stats.totals.clean, stats.totals.rejected), (1, 3));
    let clean = read_category(&out, "clean");
    assert_eq!(strings(&clean, "id"), vec!["signed"]);
    let s = clean[0]
        .column_by_name("signed_human")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .unwrap()
        .clone();
    assert!(s.value(0));
    assert_eq!(strings(&read_category(&out, "rejected"), "id"), vec!["stranger", "tampered", "unsigned"]);
}

/// Whether each row's `column` is null, over all batches, in order.
fn nulls(batches: &[arrow::array::RecordBatch], column: &str) -> Vec<bool> {
    batches.iter().flat_map(|b| (0..b.num_rows()).map(move |i| b.column_by_name(column).unwrap().is_null(i))).collect()
}

/// Early exit: the quality signals run cheapest first, and the first that rejects a document ends its scoring (the
/// quality signals after it and every detector skip it), which cannot change any verdict. Against a run with
/// `score_all`: the same verdicts for every document and the clean rows byte for byte; on the rejected rows, the
/// reasons of the first rejecting quality signal only, and null columns exactly for the signals skipped;
/// stats.json counts the documents each signal scored.
#[test]
fn scoring_stops_at_the_first_quality_rejection() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample/web_sample.jsonl");
    let d = tempfile::tempdir().unwrap();
    let (all_out, early_out) = (d.path().join("all"), d.path().join("early"));
    let mut all = Config::default();
    all.signals.score_all = true;
    let all_stats = run(&[&sample], &all_out, all);
    let early_stats = run(&[&sample], &early_out, Config::default());
    check_conservation(&early_out, &early_stats);
    assert_eq!(all_stats.totals, early_stats.totals);

    // The clean documents passed every quality rule and are scored alike, up to the last bit of a model's score:
    // a batched ONNX run sums in an order that depends on its batchmates, and here they are fewer.
    let (all_clean, early_clean) = (read_category(&all_out, "clean"), read_category(&early_out, "clean"));
    assert_eq!(all_clean.len(), early_clean.len());
    for (a, e) in all_clean.iter().zip(&early_clean) {
        assert_eq!(a.schema(), e.schema());
        for (field, (x, y)) in a.schema().fields().iter().zip(a.columns().iter().zip(e.columns())) {
            match (x.as_any().downcast_ref::<Float32Array>(), y.as_any().downcast_ref::<Float32Array>()) {
                (Some(x), Some(y)) => {
                    assert_eq!(x.null_count() + y.null_count(), 0, "{}", field.name());
                    let close = x
                        .values()
                        .iter()
                        .zip(y.values())
                        .all(|(p, q)| (p - q).abs() <= 1e-6 || p.to_bits() == q.to_bits());
                    assert!(close, "{}", field.name());
                }
                _ => assert!(x == y, "{}", field.name()),
            }
        }
    }
    let (all_rejected, early_rejected) = (read_category(&all_out, "rejected"), read_category(&early_out, "rejected"));
    assert_eq!(strings(&all_rejected, "id"), strings(&early_rejected, "id"));
    let (all_reasons, reasons) = (strings(&all_rejected, "reasons"), strings(&early_rejected, "reasons"));
    // The quality signals in the order they run, each with a column of its own.
    let order = [
        ("gopher_quality", "gopher_quality_word_count"),
        ("fineweb", "fineweb_line_punct_frac"),
        ("c4", "c4_sentence_count"),
        ("gopher_repetition", "gopher_repetition_dup_line_frac"),
    ];
    let mut stopped_at = [0u64; 4];
    let mut by_quality = Vec::new();
    for (i, (everything, early)) in all_reasons.iter().zip(&reasons).enumerate() {
        let first = order.iter().position(|(id, _)| everything.split(',').any(|r| r.starts_with(&format!("{id}."))));
        by_quality.push(first.is_some());
        let Some(first) = first else {
            assert_eq!(early, everything, "row {i}: rejected by a detector, scored in full");
            continue;
        };
        stopped_at[first] += 1;
        let prefix = format!("{}.", order[first].0);
        let want: Vec<&str> = everything.split(',').filter(|r| r.starts_with(&prefix)).collect();
        assert_eq!(early.split(',').collect::<Vec<_>>(), want, "row {i}: the first rejecting signal's reasons only");
        for (k, (id, column)) in order.iter().enumerate() {
            assert_eq!(nulls(&early_rejected, column)[i], k > first, "row {i}: {id} ran iff it comes no later");
        }
    }
    let skipped = by_quality.iter().filter(|&&q| q).count();
    assert!(skipped > 0 && skipped < reasons.len(), "the sample has documents of both kinds: {reasons:?}");
    assert!(
        stopped_at.iter().filter(|&&n| n > 0).count() >= 2,
        "rejections by several quality signals: {stopped_at:?}"
    );
    for column in ["fast_p_machine", "vocab_excess_rate", "p_machine"] {
        assert_eq!(nulls(&early_rejected, column), by_quality, "{column}");
        assert!(nulls(&all_rejected, column).iter().all(|&n| !n), "{column}");
    }

    let docs = early_stats.totals.clean + early_stats.totals.rejected;
    assert_eq!(all_stats.scored["fast"], docs);
    assert_eq!(early_stats.scored["fast"], docs - skipped as u64);
    assert_eq!(early_stats.scored["gopher_quality"], docs);
    assert_eq!(early_stats.scored["fineweb"], docs - stopped_at[0]);
    assert_eq!(early_stats.scored["gopher_repetition"], docs - stopped_at[..3].iter().sum::<u64>());
    assert_eq!(early_stats.scored["ensemble"], docs - skipped as u64);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(early_out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(on_disk["scored"]["fast"], docs - skipped as u64);
    assert_eq!(on_disk["inputs"][0]["scored"]["fast"], docs - skipped as u64);
}

/// `filter --score-all` is `[signals] score_all = true` from the command line: the detectors score the documents
/// a quality rule rejected too.
#[test]
fn score_all_flag_scores_every_document() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample/web_sample.jsonl");
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = d.path().join(name);
        let mut args = vec!["filter", sample.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--json"];
        args.extend(extra);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_svalbard")).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (stats, read_category(&out, "rejected"))
    };
    let (all, all_rejected) = run("all", &["--score-all"]);
    let (early, early_rejected) = run("early", &[]);
    let docs = all["totals"]["clean"].as_u64().unwrap() + all["totals"]["rejected"].as_u64().unwrap();
    assert_eq!(all["scored"]["fast"].as_u64(), Some(docs));
    assert!(early["scored"]["fast"].as_u64().unwrap() < docs, "the sample has documents a quality rule rejects");
    assert!(nulls(&all_rejected, "fast_p_machine").iter().all(|&n| !n));
    assert!(nulls(&early_rejected, "fast_p_machine").iter().any(|&n| n));
}
