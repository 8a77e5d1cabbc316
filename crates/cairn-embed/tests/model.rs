//! The encoder against the model's published behaviour. Needs the model files: `CAIRN_TEST_MODEL`
//! names a directory holding them (`scripts/test.sh` installs them with `cairn model install`);
//! without it the tests say so and skip.

use cairn_embed::{EmbedError, Embedder, similarity};

/// sentence-transformers' own quick-start example for all-MiniLM-L6-v2 prints these
/// similarities (to four places): 0.6660, 0.1046 and 0.1411.
#[test]
fn similarities_match_sentence_transformers() {
    let Some(dir) = cairn_testkit::test_model() else {
        return;
    };
    let model = Embedder::load(&dir).expect("model loads");
    let texts = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ];
    let vectors = model.embed(&texts).expect("embeds");
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[0].len(), 384);
    let norm: f32 = vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
    let pairs = [((0, 1), 0.6660), ((0, 2), 0.1046), ((1, 2), 0.1411)];
    for ((a, b), expected) in pairs {
        let found = similarity(&vectors[a], &vectors[b]);
        assert!(
            (found - expected).abs() < 2e-3,
            "similarity of {a} and {b}: expected {expected}, found {found}"
        );
    }
    // Padding changes nothing: a text alone and in a batch with a longer one.
    let alone = model.embed(&[texts[2]]).expect("embeds");
    assert!(similarity(&alone[0], &vectors[2]) > 0.9999);
}

#[test]
fn a_changed_file_is_refused_by_its_checksum() {
    let Some(dir) = cairn_testkit::test_model() else {
        return;
    };
    let copy = tempfile::tempdir().expect("temp dir");
    for name in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::fs::copy(dir.join(name), copy.path().join(name)).expect("copy");
    }
    let mut config = std::fs::read_to_string(copy.path().join("config.json")).expect("read");
    config.push(' ');
    std::fs::write(copy.path().join("config.json"), config).expect("write");
    match Embedder::load(copy.path()) {
        Err(EmbedError::Checksum { file, .. }) => assert_eq!(file, "config.json"),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}
