-- Sign-in attempts per account and per client address, counted before the password is checked
-- so parallel guesses cannot all slip under the limit. Keys are SHA-256 hex digests of
-- `account:<e-mail>` or `address:<ip>`; a row counts the attempts of one fixed window.
CREATE TABLE sign_in_attempts (
    key_hash TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_window ON sign_in_attempts (window_start);
