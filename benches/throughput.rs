//! End-to-end throughput of `filter` against the raw baseline of only parsing the input, in the same run.
//!
//!   .venv/bin/python -m svalbard_train.bench.corpus --out bench-data --size-mb 500 --parquet   # once, after `bash scripts/setup_python.sh arrow`
//!   cargo bench --bench throughput                                           # or: bash scripts/bench.sh
//!
//! Env: SVALBARD_BENCH_DIR (default bench-data), SVALBARD_BENCH_REPS (default 3). Prints, per case, the
//! median MB/s (uncompressed input bytes) over the repetitions and its ratio to the parse baseline with the
//! same thread count. With DIR/cc/corpus.jsonl (`svalbard_train.bench.corpus --out DIR/cc --mix cc`, which
//! scripts/bench.sh writes), the same for a Common Crawl-like mix where most pages fail a quality rule, against
//! its own parse baseline.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use svalbard::config::Config;
use svalbard::pipeline::{self, Job};
use svalbard::source::plan_inputs;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The floor: memory-map the file and parse every line with simd-json into a value, nothing else.
fn parse_only(path: &Path, threads: usize) -> f64 {
    let file = std::fs::File::open(path).unwrap();
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let t = Instant::now();
    let chars: usize = pool.install(|| {
        map.par_split(|&b| b == b'\n')
            .map_init(Vec::new, |buf: &mut Vec<u8>, line: &[u8]| {
                if line.is_empty() {
                    return 0;
                }
                buf.clear();
                buf.extend_from_slice(line);
                let v = simd_json::to_borrowed_value(buf).unwrap();
                use simd_json::prelude::*;
                v.get("text").and_then(|t| t.as_str()).map_or(0, |t| t.len())
            })
            .sum()
    });
    assert!(chars > 0);
    map.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// What a case enables, applied to the default config.
type Setup = fn(&mut Config);

fn heuristics(c: &mut Config) {
    c.signals.classifiers.clear();
}

fn with_fast(_: &mut Config) {}

/// No heuristic rules and no ensemble (which reads their columns): a case then measures one signal's own
/// cost inside the pipeline, against the same parse baseline.
fn without_heuristics(c: &mut Config) {
    let s = &mut c.signals;
    s.gopher_quality.enabled = false;
    s.gopher_repetition.enabled = false;
    s.c4.enabled = false;
    s.fineweb.enabled = false;
    s.vocab.enabled = false;
    c.ensemble.enabled = Some(false);
}

/// The `fast` classifier alone (issue 3's target: 100 MB/s on 2 cores inside the pipeline).
fn fast_only(c: &mut Config) {
    without_heuristics(c);
}

/// The n-gram LM alone.
fn ngram_only(c: &mut Config) {
    without_heuristics(c);
    c.signals.classifiers.clear();
    c.signals.ngram_lm.enabled = true;
    c.signals.ngram_lm.model = Some(ngram_model());
}

fn ngram_model() -> PathBuf {
    PathBuf::from(std::env::var("SVALBARD_BENCH_NGRAM").unwrap_or_else(|_| ".svalbard/models/ngram-human-4.bin".into()))
}

fn filter(input: &Path, threads: usize, setup: Setup, out: &Path) -> f64 {
    let mut config = Config::default();
    config.pipeline.threads = threads;
    setup(&mut config);
    let _ = std::fs::remove_dir_all(out);
    let job = Job::new(plan_inputs(&[input.display().to_string()]).unwrap(), out.to_path_buf(), config);
    let stats = pipeline::run(&job).unwrap();
    assert!(stats.totals.balanced());
    stats.totals.bytes_in as f64 / 1e6 / stats.elapsed_s
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing special: run only under bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = PathBuf::from(std::env::var("SVALBARD_BENCH_DIR").unwrap_or_else(|_| "bench-data".into()));
    let reps: usize = std::env::var("SVALBARD_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let jsonl = dir.join("corpus.jsonl");
    let parquet = dir.join("corpus.parquet");
    if !jsonl.exists() {
        eprintln!(
            "no {}: run `bash scripts/setup_python.sh arrow && .venv/bin/python -m svalbard_train.bench.corpus --out {} --size-mb 500 --parquet` first",
            jsonl.display(),
            dir.display()
        );
        std::process::exit(1);
    }
    let out = std::env::temp_dir().join("svalbard-bench-out");
    let size = std::fs::metadata(&jsonl).unwrap().len();
    println!(
        "corpus {} ({:.0} MB), {reps} repetitions, median MB/s of uncompressed input",
        jsonl.display(),
        size as f64 / 1e6
    );
    println!("{:<44} {:>8} {:>9} {:>10}", "case", "threads", "MB/s", "vs parse");
    let common_crawl = dir.join("cc").join("corpus.jsonl");
    for threads in [1usize, 2] {
        let baseline = |input: &Path, name: &str| {
            let base = median((0..reps).map(|_| parse_only(input, threads)).collect());
            println!("{:<44} {:>8} {:>9.1} {:>10}", name, threads, base, "1.00");
            base
        };
        let base = baseline(&jsonl, "baseline: mmap + simd-json parse only");
        let case_against = |name: &str, input: &Path, setup: Setup, base: f64| {
            if !input.exists() {
                return;
            }
            let v = median((0..reps).map(|_| filter(input, threads, setup, &out)).collect());
            println!("{:<44} {:>8} {:>9.1} {:>10.2}", name, threads, v, v / base);
        };
        let case = |name: &str, input: &Path, setup: Setup| case_against(name, input, setup, base);
        case("filter JSONL, heuristics", &jsonl, heuristics);
        case("filter JSONL, heuristics + fast classifier", &jsonl, with_fast);
        case("filter JSONL, fast classifier alone", &jsonl, fast_only);
        case("filter Parquet (zstd), heuristics", &parquet, heuristics);
        case("filter Parquet (zstd), heuristics + fast", &parquet, with_fast);
        if ngram_model().exists() {
            case("filter JSONL, ngram_lm only", &jsonl, ngram_only);
        } else {
            println!("(no {}: scripts/build_ngram.sh builds it; ngram_lm case skipped)", ngram_model().display());
        }
        if common_crawl.exists() {
            let base = baseline(&common_crawl, "Common Crawl-like: parse only");
            case_against("Common Crawl-like JSONL, heuristics", &common_crawl, heuristics, base);
            case_against("Common Crawl-like JSONL, heuristics + fast", &common_crawl, with_fast, base);
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
