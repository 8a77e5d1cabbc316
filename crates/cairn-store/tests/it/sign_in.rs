//! Sign-in attempt counters: a window per key, shared by every node.

use crate::common::TestStore;

store_tests!(
    attempts_count_within_a_window_and_a_new_window_starts_over,
    a_refund_and_a_clear_take_attempts_back,
    pruning_bounds_the_table,
);

async fn attempts_count_within_a_window_and_a_new_window_starts_over(store: TestStore) {
    assert_eq!(
        store.count_sign_in_attempt("k", 1000, 500).await.unwrap(),
        (1, 1000)
    );
    assert_eq!(
        store.count_sign_in_attempt("k", 1200, 500).await.unwrap(),
        (2, 1000)
    );
    assert_eq!(
        store
            .count_sign_in_attempt("other", 1200, 500)
            .await
            .unwrap(),
        (1, 1200)
    );
    // 1500 is past 1000 + 500: a new window.
    assert_eq!(
        store.count_sign_in_attempt("k", 1500, 500).await.unwrap(),
        (1, 1500)
    );
}

async fn a_refund_and_a_clear_take_attempts_back(store: TestStore) {
    store.count_sign_in_attempt("k", 1000, 500).await.unwrap();
    store.count_sign_in_attempt("k", 1001, 500).await.unwrap();
    store.refund_sign_in_attempt("k", 1000).await.unwrap();
    assert_eq!(
        store.count_sign_in_attempt("k", 1002, 500).await.unwrap(),
        (2, 1000)
    );
    // A refund for a window that has ended does nothing.
    store.refund_sign_in_attempt("k", 1).await.unwrap();
    assert_eq!(
        store.count_sign_in_attempt("k", 1003, 500).await.unwrap(),
        (3, 1000)
    );
    store.clear_sign_in_attempts("k").await.unwrap();
    assert_eq!(
        store.count_sign_in_attempt("k", 1004, 500).await.unwrap(),
        (1, 1004)
    );
}

async fn pruning_bounds_the_table(store: TestStore) {
    for (n, key) in ["a", "b", "c", "d"].iter().enumerate() {
        store
            .count_sign_in_attempt(key, 1000 + n as i64, 10_000)
            .await
            .unwrap();
    }
    // Windows started at or before 1000 go, then the oldest beyond two.
    store.prune_sign_in_attempts(1000, 2).await.unwrap();
    // A pruned key starts a fresh window; a kept one counts on.
    assert_eq!(
        store
            .count_sign_in_attempt("a", 1100, 10_000)
            .await
            .unwrap(),
        (1, 1100)
    );
    assert_eq!(
        store
            .count_sign_in_attempt("b", 1100, 10_000)
            .await
            .unwrap(),
        (1, 1100)
    );
    assert_eq!(
        store
            .count_sign_in_attempt("c", 1100, 10_000)
            .await
            .unwrap(),
        (2, 1002)
    );
    assert_eq!(
        store
            .count_sign_in_attempt("d", 1100, 10_000)
            .await
            .unwrap(),
        (2, 1003)
    );
}
