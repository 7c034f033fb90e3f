//! Issue 28, vault and CLI hardening: `manifest` and `verify` never follow a symlink out of the run directory
//! nor block on a FIFO, manifest paths cannot escape the run directory, and logs carry no colour codes when
//! stderr is not a terminal.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{good_docs, write_jsonl};
use svalbard::config::Config;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_svalbard")
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Run the CLI, killing it after `limit`: a hang is a test failure, not a stuck test suite.
fn run_with_timeout(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("svalbard {args:?} hung (killed after {limit:?}); stderr: {}", String::from_utf8_lossy(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(args: &[&str]) -> Output {
    run_with_timeout(args, Duration::from_secs(60))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished run (heuristics only, so no model is needed): (temp dir, run dir, key dir).
fn finished_run() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(6));
    let out = d.path().join("out");
    let mut cfg = Config::default();
    cfg.signals.classifiers.clear();
    let cfg_path = d.path().join("c.toml");
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let o = run(&["filter", &s(&input), "-o", &s(&out), "-q", "-c", &s(&cfg_path)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let keys = d.path().join("keys");
    assert_eq!(run(&["keygen", &s(&keys)]).status.code(), Some(0));
    (d, out, keys)
}

fn sign(out: &Path, keys: &Path) {
    let o = run(&["sign", &s(out), "--key", &s(&keys.join("svalbard-ed25519.key"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn verify(out: &Path, keys: &Path) -> Output {
    run(&["verify", &s(out), "--pubkey", &s(&keys.join("svalbard-ed25519.pub"))])
}

fn mkfifo(path: &Path) {
    let o = Command::new("mkfifo").arg(path).output().expect("mkfifo");
    assert!(o.status.success(), "mkfifo {}: {}", path.display(), String::from_utf8_lossy(&o.stderr));
}

/// A symlink in the run directory to a file outside it: the manifest would certify `/etc/passwd`.
#[test]
fn manifest_refuses_a_symlink_in_the_run_directory() {
    let (d, out, _keys) = finished_run();
    let secret = d.path().join("outside.txt");
    std::fs::write(&secret, "not part of the run\n").unwrap();
    std::os::unix::fs::symlink(&secret, out.join("clean/evil.arrow")).unwrap();
    let o = run(&["manifest", &s(&out)]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "manifest certified a symlink: {err}");
    assert!(err.contains("symlink") && err.contains("clean/evil.arrow"), "{err}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(!manifest.contains("evil"), "the refused manifest was written anyway");
}

/// A symlinked directory is not walked into, and not silently skipped either.
#[test]
fn manifest_refuses_a_symlinked_directory() {
    let (d, out, _keys) = finished_run();
    let outside = d.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("x.arrow"), "x").unwrap();
    std::os::unix::fs::symlink(&outside, out.join("linked")).unwrap();
    let o = run(&["manifest", &s(&out)]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("symlink") && err.contains("linked"), "{err}");
}

/// A symlink slipped into a signed run: `verify` fails with exit 7 and says why.
#[test]
fn verify_fails_on_a_symlink() {
    let (_d, out, keys) = finished_run();
    sign(&out, &keys);
    assert_eq!(verify(&out, &keys).status.code(), Some(0));
    std::os::unix::fs::symlink("/etc/passwd", out.join("clean/passwd.arrow")).unwrap();
    let o = verify(&out, &keys);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("symlink") && err.contains("clean/passwd.arrow"), "{err}");
}

/// A listed output replaced by a symlink to a copy of itself: same bytes, but no longer a file of the run.
#[test]
fn verify_does_not_follow_a_listed_output_replaced_by_a_symlink() {
    let (d, out, keys) = finished_run();
    sign(&out, &keys);
    let part = common::parts(&out, "clean")[0].clone();
    let copy = d.path().join("copy.arrow");
    std::fs::copy(&part, &copy).unwrap();
    std::fs::remove_file(&part).unwrap();
    std::os::unix::fs::symlink(&copy, &part).unwrap();
    let o = verify(&out, &keys);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("symlink"), "{err}");
}

/// Output paths in a manifest are relative and stay inside the run directory.
#[test]
fn verify_refuses_manifest_paths_outside_the_run_directory() {
    for bad in ["../x", "/etc/passwd", "clean/../../x", ""] {
        let (_d, out, _keys) = finished_run();
        let path = out.join("manifest.json");
        let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m["outputs"].as_array_mut().unwrap().push(serde_json::json!({"path": bad, "blake3": "00", "bytes": 0}));
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        let o = run(&["verify", &s(&out)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(7), "{bad:?}: {err}");
        assert!(err.contains("unsafe output path"), "{bad:?}: {err}");
    }
}

/// The manifest re-hashes the run's inputs: an input that is a FIFO (`filter <(zcat …)`) must not block it.
#[test]
fn manifest_does_not_block_on_a_fifo_input() {
    let (d, out, _keys) = finished_run();
    let fifo = d.path().join("stream.jsonl");
    mkfifo(&fifo);
    let stats_path = out.join("stats.json");
    let mut stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    stats["inputs"][0]["path"] = serde_json::Value::String(s(&fifo));
    std::fs::write(&stats_path, serde_json::to_vec_pretty(&stats).unwrap()).unwrap();
    let o = run_with_timeout(&["manifest", &s(&out)], Duration::from_secs(10));
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("stream.jsonl") && err.contains("not a regular file"), "{err}");
}

/// A FIFO among the outputs cannot be certified, and is not silently left out either.
#[test]
fn manifest_and_verify_refuse_a_fifo_in_the_run_directory() {
    let (_d, out, keys) = finished_run();
    sign(&out, &keys);
    mkfifo(&out.join("clean/pipe.arrow"));
    let o = run_with_timeout(
        &["verify", &s(&out), "--pubkey", &s(&keys.join("svalbard-ed25519.pub"))],
        Duration::from_secs(10),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("clean/pipe.arrow") && err.contains("not a regular file"), "{err}");
    let o = run_with_timeout(&["manifest", &s(&out)], Duration::from_secs(10));
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("clean/pipe.arrow") && err.contains("not a regular file"), "{err}");
}

/// A FIFO named like a shard's stats file: `manifest` reads the stats files first, and must not block there.
#[test]
fn manifest_does_not_block_on_a_fifo_stats_file() {
    let (_d, out, _keys) = finished_run();
    mkfifo(&out.join("stats.shard-00001-of-00002.json"));
    let o = run_with_timeout(&["manifest", &s(&out)], Duration::from_secs(10));
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("stats.shard-00001-of-00002.json") && err.contains("not a regular file"), "{err}");
}

/// Logs read by a scheduler or written to a file carry no ANSI colour codes. The ensemble's "is off" warning
/// (a heuristics-only config) is the log line.
#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("heuristics.toml");
    std::fs::write(&cfg, "[signals]\nclassifiers = []\n").unwrap();
    let o = Command::new(bin()).args(["validate", &s(&cfg)]).env_remove("NO_COLOR").output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("WARN") && err.contains("ensemble is off"), "no warning logged: {err}");
    assert!(!err.contains("\x1b["), "ANSI escape codes in piped stderr: {err:?}");
}

/// `svalbard --help` lists every exit code, 7 (verify) included.
#[test]
fn help_lists_every_exit_code() {
    let o = Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for code in 0..=7 {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&format!("{code}  "))),
            "exit code {code} missing:\n{help}"
        );
    }
}

/// An input named relative to the directory `filter` ran in is still found by `verify --inputs` run elsewhere.
#[test]
fn verify_inputs_finds_an_input_named_by_a_relative_path() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("data")).unwrap();
    write_jsonl(&d.path().join("data/in.jsonl"), &good_docs(4));
    std::fs::write(d.path().join("light.toml"), "[signals]\nclassifiers = []\n").unwrap();
    let o = Command::new(bin())
        .current_dir(d.path())
        .args(["filter", "data/in.jsonl", "-o", "out", "-q", "-c", "light.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(bin()).args(["verify", "--inputs"]).arg(d.path().join("out")).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The manifest hashes inputs after the run: one that grew or shrank meanwhile is not certified (exit 4).
#[test]
fn manifest_refuses_an_input_changed_since_the_run_read_it() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(4));
    std::fs::write(d.path().join("light.toml"), "[signals]\nclassifiers = []\n").unwrap();
    let out = d.path().join("out");
    let o = Command::new(bin())
        .args(["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "-c"])
        .arg(d.path().join("light.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::OpenOptions::new().append(true).open(&input).unwrap().write_all(b"{\"text\":\"late\"}\n").unwrap();
    let o = Command::new(bin()).arg("manifest").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("changed since the run read it"));
}
