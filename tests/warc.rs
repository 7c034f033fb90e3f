//! Common Crawl WET/WARC input through the whole pipeline.

mod common;

use std::io::Write;

use arrow::array::{Array, BooleanArray};
use common::*;
use svalbard::config::Config;
use svalbard::pipeline::{self, Job};
use svalbard::source::plan_inputs;

fn wet_record(url: &str, date: &str, id: &str, body: &str) -> Vec<u8> {
    let mut r = Vec::new();
    write!(
        r,
        "WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:{id}>\r\n\
         WARC-Identified-Content-Language: eng\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}\r\n\r\n",
        body.len()
    )
    .unwrap();
    r
}

fn run(inputs: &[String], out: &std::path::Path) -> svalbard::stats::RunStats {
    let mut config = Config::default();
    config.signals.classifiers.clear();
    pipeline::run(&Job::new(plan_inputs(inputs).unwrap(), out.to_path_buf(), config)).unwrap()
}

#[test]
fn wet_records_become_documents_with_metadata_and_vintage() {
    let d = tempfile::tempdir().unwrap();
    let mut raw = wet_record("http://example.org/old", "2021-05-01T10:00:00Z", "1", PROSE);
    raw.extend(wet_record("http://example.org/new", "2024-02-01T10:00:00Z", "2", "Too short."));
    // Each record its own gzip member, as Common Crawl writes them.
    let mut gz = gzip(&raw[..raw.len() / 2]);
    gz.extend(gzip(&raw[raw.len() / 2..]));
    let path = d.path().join("sample.warc.wet.gz");
    std::fs::write(&path, &gz).unwrap();
    let out = d.path().join("out");
    let stats = run(&[path.display().to_string()], &out);
    assert!(stats.totals.balanced());
    assert_eq!((stats.totals.docs_in, stats.totals.clean, stats.totals.rejected), (2, 1, 1));
    let clean = read_category(&out, "clean");
    assert_eq!(strings(&clean, "url"), vec!["http://example.org/old"]);
    assert_eq!(strings(&clean, "language"), vec!["eng"]);
    let v = clean[0].column_by_name("vintage").unwrap().as_any().downcast_ref::<BooleanArray>().unwrap().clone();
    assert!(v.value(0));
    let rejected = read_category(&out, "rejected");
    let v = rejected[0].column_by_name("vintage").unwrap().as_any().downcast_ref::<BooleanArray>().unwrap().clone();
    assert!(!v.value(0) && v.is_valid(0));
}

#[test]
fn truncated_wet_is_damaged_not_lost() {
    let d = tempfile::tempdir().unwrap();
    let mut raw = Vec::new();
    for i in 0..50 {
        raw.extend(wet_record(&format!("http://example.org/{i}"), "2020-01-01T00:00:00Z", &i.to_string(), PROSE));
    }
    let gz = gzip(&raw);
    let path = d.path().join("cut.warc.wet.gz");
    std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
    let out = d.path().join("out");
    let stats = run(&[path.display().to_string()], &out);
    assert!(stats.totals.balanced());
    assert_eq!(stats.inputs_damaged, 1);
    assert!(stats.totals.docs_in > 5 && stats.totals.docs_in <= 50, "{:?}", stats.totals);
    assert!(stats.totals.quarantined >= 1);
    assert_eq!(rows(&out, "quarantine"), stats.totals.quarantined);
}

#[test]
fn real_common_crawl_samples() {
    let Some(data) = shared_data() else {
        eprintln!("SKIP real_common_crawl_samples: ../shared/data is not here (set SVALBARD_SHARED_DATA)");
        return;
    };
    let web = data.join("web");
    let inputs: Vec<String> =
        ["whirlwind.warc.wet.gz", "whirlwind.warc.gz", "dolma_sample-0000.warc.gz", "dolma_sample-0001.warc.gz"]
            .iter()
            .map(|f| web.join(f).display().to_string())
            .collect();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let stats = run(&inputs, &out);
    assert!(stats.totals.balanced());
    // 1 WET document + 1 WARC response + 22 + 15 dolma responses (counted by the reader's own tests).
    assert_eq!(stats.totals.docs_in, 39, "{:?}", stats.totals);
    let urls: Vec<String> =
        ["clean", "rejected"].iter().flat_map(|c| strings(&read_category(&out, c), "url")).collect();
    assert!(urls.iter().any(|u| u == "https://an.wikipedia.org/wiki/Escopete"));
}
