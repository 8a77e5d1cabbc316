//! Sign-in attempt counters: a window per key, shared by every node.

use crate::common::TestStore;

store_tests!(
    attempts_count_within_a_window_and_a_new_window_starts_over,
    a_refund_and_a_clear_take_attempts_back,
    pruning_bounds_the_table,
);

/// Counts an attempt of `key` at `now` in windows of `window` ms: `(attempts, window start)`.
async fn attempt(store: &TestStore, key: &str, now: i64, window: i64) -> (i64, i64) {
    store.count_sign_in_attempt(key, now, window).await.unwrap()
}

async fn attempts_count_within_a_window_and_a_new_window_starts_over(store: TestStore) {
    assert_eq!(attempt(&store, "k", 1000, 500).await, (1, 1000));
    assert_eq!(attempt(&store, "k", 1200, 500).await, (2, 1000));
    assert_eq!(attempt(&store, "other", 1200, 500).await, (1, 1200));
    // 1500 is past 1000 + 500: a new window.
    assert_eq!(attempt(&store, "k", 1500, 500).await, (1, 1500));
}

async fn a_refund_and_a_clear_take_attempts_back(store: TestStore) {
    attempt(&store, "k", 1000, 500).await;
    attempt(&store, "k", 1001, 500).await;
    store.refund_sign_in_attempt("k", 1000).await.unwrap();
    assert_eq!(attempt(&store, "k", 1002, 500).await, (2, 1000));
    // A refund for a window that has ended does nothing.
    store.refund_sign_in_attempt("k", 1).await.unwrap();
    assert_eq!(attempt(&store, "k", 1003, 500).await, (3, 1000));
    store.clear_sign_in_attempts("k").await.unwrap();
    assert_eq!(attempt(&store, "k", 1004, 500).await, (1, 1004));
}

async fn pruning_bounds_the_table(store: TestStore) {
    for (started, key) in (1000..).zip(["a", "b", "c", "d"]) {
        attempt(&store, key, started, 10_000).await;
    }
    // Windows started at or before 1000 go, then the oldest beyond two.
    store.prune_sign_in_attempts(1000, 2).await.unwrap();
    // A pruned key starts a fresh window; a kept one counts on.
    let expected = [
        ("a", (1, 1100)),
        ("b", (1, 1100)),
        ("c", (2, 1002)),
        ("d", (2, 1003)),
    ];
    for (key, counted) in expected {
        assert_eq!(attempt(&store, key, 1100, 10_000).await, counted, "{key}");
    }
}
