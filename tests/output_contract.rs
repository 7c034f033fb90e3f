//! The output directory contract, through the binary as a user or a scheduler drives it: svalbard deletes only
//! what it wrote, never writes inside its inputs, runs one at a time per directory, says "output not writable"
//! when the disk refuses, and stops cleanly on SIGTERM.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn svalbard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svalbard")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config without the ONNX classifier, so these tests need no runtime library.
fn light_config(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("light.toml");
    std::fs::write(&p, format!("[signals]\nclassifiers = []\n{extra}")).unwrap();
    p
}

#[test]
fn overwrite_into_the_input_directory_deletes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("d");
    std::fs::create_dir(&data).unwrap();
    write_jsonl(&data.join("corpus.jsonl"), &good_docs(3));
    std::fs::write(data.join("thesis.txt"), "precious").unwrap();
    let cfg = light_config(d.path(), "");
    let dir = data.to_str().unwrap();
    for output in [dir.to_string(), format!("{dir}/out")] {
        let o = svalbard(&["filter", dir, "-o", &output, "--overwrite", "-q", "-c", cfg.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("inside the input directory"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read_to_string(data.join("thesis.txt")).unwrap(), "precious");
    assert!(data.join("corpus.jsonl").exists());
    assert!(!data.join("out").exists());
}

#[test]
fn foreign_files_refuse_the_run_unless_allowed_and_survive_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(6));
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("thesis.txt"), "precious").unwrap();
    let cfg = light_config(d.path(), "");
    let base = ["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap()];
    let refused = svalbard(&base);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("thesis.txt"), "{}", stderr(&refused));
    assert!(!out.join("stats.json").exists());

    let allowed = [&base[..], &["--allow-foreign-files"]].concat();
    let o = svalbard(&allowed);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(rows(&out, "clean") + rows(&out, "rejected"), 6);
    let o = svalbard(&[&allowed[..], &["--overwrite"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("thesis.txt")).unwrap(), "precious");
    assert_eq!(rows(&out, "clean") + rows(&out, "rejected"), 6, "overwrite redid the run, once");
}

#[test]
fn an_input_inside_the_output_directory_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3));
    let cfg = light_config(d.path(), "");
    let o = svalbard(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        d.path().to_str().unwrap(),
        "-q",
        "-c",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("lies inside --output"), "{}", stderr(&o));
}

#[test]
fn a_locked_output_directory_refuses_a_second_run() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3));
    let out = d.path().join("out");
    let held = svalbard::sink::output_dir::OutputDir::acquire(&out, &[], &[], Default::default()).unwrap();
    let cfg = light_config(d.path(), "");
    let args = ["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap()];
    let o = svalbard(&args);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("in use by another run"), "{}", stderr(&o));
    assert!(!out.join("stats.json").exists());
    drop(held);
    let o = svalbard(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A full disk, as the kernel reports it to a process over its file-size limit (EFBIG, the same path as
/// ENOSPC): the run exits 5, "output not writable", which a scheduler retries elsewhere.
#[test]
fn a_refused_write_exits_output_not_writable() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    write_jsonl(&input, &good_docs(3000));
    let out = d.path().join("out");
    let cfg = light_config(d.path(), "");
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec {} filter {} -o {} -q -c {}",
        env!("CARGO_BIN_EXE_svalbard"),
        input.display(),
        out.display(),
        cfg.display()
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("output"), "{}", stderr(&o));
}

#[test]
fn sigterm_stops_cleanly_and_a_rerun_completes_the_same_outputs() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for k in 0..12 {
        let p = d.path().join(format!("in{k:02}.jsonl"));
        write_jsonl(&p, &good_docs(3000));
        inputs.push(p.display().to_string());
    }
    let cfg = light_config(d.path(), "[input]\nbatch_docs = 200\n[output]\nmax_file_bytes = 100000\n");
    let args = |out: &Path| {
        let mut a = vec!["filter".to_string(), "-j".into(), "1".into()];
        a.extend(inputs.iter().cloned());
        a.extend(["-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap()].map(String::from));
        a
    };
    let out = d.path().join("out");
    let child = Command::new(bin).args(args(&out)).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Signal once the first input is finished, so that the run is surely in the middle of its work.
    let first_marker = out.join("_progress/part-00000.json");
    let started = std::time::Instant::now();
    while !first_marker.exists() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Safety: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["interrupted"], true);
    let finished = stats["inputs"].as_array().unwrap().len();
    assert!((1..12).contains(&finished), "{finished} inputs finished");
    let t = &stats["totals"];
    assert_eq!(t["docs_in"].as_u64().unwrap(), 3000 * finished as u64);
    // Nothing half-written: no temporaries, and parts only of the finished inputs.
    let mut leftovers = Vec::new();
    for category in ["clean", "rejected", "quarantine"] {
        for entry in std::fs::read_dir(out.join(category)).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let input: usize = name.trim_start_matches('.').get(5..10).and_then(|s| s.parse().ok()).unwrap_or(999);
            if name.starts_with('.') || input >= finished {
                leftovers.push(format!("{category}/{name}"));
            }
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!out.join("manifest.json").exists(), "an interrupted run is not certified");

    let o = Command::new(bin).args(args(&out)).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reference = d.path().join("reference");
    assert_eq!(Command::new(bin).args(args(&reference)).output().unwrap().status.code(), Some(0));
    for category in ["clean", "rejected", "quarantine"] {
        let names =
            |dir: &Path| parts(dir, category).iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(&out), names(&reference), "{category}");
        for (a, b) in parts(&out, category).iter().zip(parts(&reference, category)) {
            assert_eq!(std::fs::read(a).unwrap(), std::fs::read(&b).unwrap(), "{}", a.display());
        }
    }
}

/// The shards of an array job write into one directory at the same time (README's Slurm example): each holds
/// its own shard's lock, none removes another's files, and together they cover every input once.
#[test]
fn concurrent_shards_share_one_output_directory() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for k in 0..6 {
        let p = d.path().join(format!("in{k}.jsonl"));
        write_jsonl(&p, &good_docs(2000));
        inputs.push(p.display().to_string());
    }
    let cfg = light_config(d.path(), "[input]\nbatch_docs = 200\n");
    let out = d.path().join("out");
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut args = vec!["filter".to_string()];
            args.extend(inputs.iter().cloned());
            args.extend(
                [
                    "-o",
                    out.to_str().unwrap(),
                    "-q",
                    "-j",
                    "1",
                    "-c",
                    cfg.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/3"),
                ]
                .map(String::from),
            );
            Command::new(bin).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = svalbard(&["merge-stats", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["totals"]["docs_in"], 12000);
    assert_eq!(rows(&out, "clean") + rows(&out, "rejected") + rows(&out, "quarantine"), 12000);
    let o = svalbard(&["manifest", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
