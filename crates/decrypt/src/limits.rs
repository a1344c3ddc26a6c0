//! Bounds on what decryption reads, so a hostile file cannot make the
//! controller allocate without bound.

/// The largest encrypted document decrypted (Flux's limit: 5 MiB).
pub const MAX_ENCRYPTED_FILE_SIZE: usize = 5 << 20;

/// The most key groups a file may name (SOPS files rarely have more than
/// three; each group costs an unwrap attempt per key).
pub const MAX_KEY_GROUPS: usize = 16;

/// The most master keys of one kind in a group.
pub const MAX_KEYS_PER_GROUP: usize = 64;
