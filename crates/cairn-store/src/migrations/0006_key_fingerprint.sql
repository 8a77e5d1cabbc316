-- The fingerprint of the secret key the store was first opened with: nodes with another key
-- refuse to start instead of failing to open (or re-sealing) integration credentials.
CREATE TABLE key_fingerprint (
    id BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
