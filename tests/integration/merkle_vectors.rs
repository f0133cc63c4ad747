//! RFC 6962 known-answer vectors for the audit log's Merkle tree (`qecnet::lifecycle::merkle`):
//! leaf and node hashes, tree heads, inclusion and consistency proofs, byte for byte.
//!
//! Two independent sources of expected bytes:
//! - literal hex constants: the Certificate Transparency test vectors of
//!   transparency-dev/merkle (`testonly/constants.go`: `LeafInputs`, `NodeHashes`,
//!   `RootHashes`, `EmptyRootHash`; `proof/verify_test.go`: `inclusionProofs`,
//!   `consistencyProofs`), the same as in google/certificate-transparency's C++ and Go tests.
//!   The empty root and the one-leaf root are also `printf '' | sha256sum` and
//!   `printf '\x00' | sha256sum` (leaf "" is hashed as the single byte 0x00);
//! - a reference written here from the RFC 6962 §2.1 definitions alone (MTH, PATH, PROOF),
//!   with `sha2` directly, compared with the crate for every tree of up to 8 leaves.

use qecnet::lifecycle::merkle::{
    self, Hash, MerkleFrontier, consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash,
    verify_consistency, verify_inclusion,
};
use sha2::{Digest, Sha256};

/// The eight leaf inputs of the CT test vectors (hex).
const LEAF_INPUTS: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

/// `SHA-256("")`: the root of the empty tree.
const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The leaf hashes `SHA-256(0x00 || d)` of the eight inputs (`NodeHashes()[0]`).
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// The interior nodes over pairs of leaves, `SHA-256(0x01 || l || r)` (`NodeHashes()[1]`).
const PAIR_HASHES: [&str; 4] = [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
];

/// The tree heads `MTH(D[n])` of the first `n` leaves, n = 1..8 (`RootHashes()[1..]`).
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Published audit paths: (leaf index from 0, tree size, path from the leaf up).
const INCLUSION_PROOFS: [(usize, usize, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// Published consistency proofs: (first size, second size, proof).
const CONSISTENCY_PROOFS: [(usize, usize, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// Bytes from hex (written here, so that no crate code decodes the expected values).
fn bytes(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex {hex}");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn h(hex: &str) -> Hash {
    bytes(hex).try_into().expect("32 bytes")
}

fn hashes(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|x| h(x)).collect()
}

fn inputs() -> Vec<Vec<u8>> {
    LEAF_INPUTS.iter().map(|x| bytes(x)).collect()
}

/// The reference, from RFC 6962 §2.1 alone.
mod rfc6962 {
    use super::{Digest, Hash, Sha256};

    fn sha256(parts: &[&[u8]]) -> Hash {
        let mut d = Sha256::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().into()
    }

    /// The largest power of two smaller than `n` (n > 1).
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// `MTH(D[n])` over the leaf inputs.
    pub fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => sha256(&[]),
            1 => sha256(&[&[0x00], &d[0]]),
            n => sha256(&[&[0x01], &mth(&d[..k(n)]), &mth(&d[k(n)..])]),
        }
    }

    /// `PATH(m, D[n])` (§2.1.1).
    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return Vec::new();
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// `PROOF(m, D[n])` = `SUBPROOF(m, D[n], true)` (§2.1.2).
    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
}

#[test]
fn the_empty_tree_and_the_one_leaf_tree_have_their_published_heads() {
    assert_eq!(empty_root(), h(EMPTY_ROOT));
    assert_eq!(merkle::root(&[]), h(EMPTY_ROOT));
    assert_eq!(MerkleFrontier::default().root(), h(EMPTY_ROOT));
    assert_eq!(rfc6962::mth(&[]), h(EMPTY_ROOT));
    // One leaf: the tree head is the leaf hash SHA-256(0x00 || "").
    let one = [leaf_hash(b"")];
    assert_eq!(merkle::root(&one), h(ROOTS[0]));
    assert_eq!(rfc6962::mth(&inputs()[..1]), h(ROOTS[0]));
}

#[test]
fn leaf_and_node_hashes_match_the_published_bytes() {
    let leaves: Vec<Hash> = inputs().iter().map(|d| leaf_hash(d)).collect();
    assert_eq!(leaves, hashes(&LEAF_HASHES));
    for (i, pair) in PAIR_HASHES.iter().enumerate() {
        assert_eq!(
            node_hash(&leaves[2 * i], &leaves[2 * i + 1]),
            h(pair),
            "node over leaves {} and {}",
            2 * i,
            2 * i + 1
        );
    }
    // The leaf and node prefixes keep the two domains apart: a node is not the leaf of its bytes.
    let concat = [leaves[0], leaves[1]].concat();
    assert_ne!(leaf_hash(&concat), h(PAIR_HASHES[0]));
}

#[test]
fn tree_heads_of_one_to_eight_leaves_match_the_published_roots() {
    let d = inputs();
    let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
    let mut frontier = MerkleFrontier::default();
    for n in 1..=8 {
        frontier.push(leaves[n - 1]);
        let expected = h(ROOTS[n - 1]);
        assert_eq!(rfc6962::mth(&d[..n]), expected, "the reference, {n} leaves");
        assert_eq!(merkle::root(&leaves[..n]), expected, "root, {n} leaves");
        assert_eq!(frontier.root(), expected, "frontier, {n} leaves");
        assert_eq!(frontier.size(), n as u64);
    }
}

#[test]
fn inclusion_proofs_match_the_published_paths_and_verify() {
    let leaves: Vec<Hash> = inputs().iter().map(|d| leaf_hash(d)).collect();
    for (index, size, path) in INCLUSION_PROOFS {
        let expected = hashes(path);
        assert_eq!(inclusion_proof(&leaves[..size], index), expected, "leaf {index} of {size}");
        assert_eq!(rfc6962::path(index, &inputs()[..size]), expected, "the reference, leaf {index} of {size}");
        let root = h(ROOTS[size - 1]);
        assert!(verify_inclusion(&leaves[index], index as u64, size as u64, &expected, &root));
        // A wrong index, size, leaf, root or path element fails.
        if size > 1 {
            assert!(!verify_inclusion(&leaves[index], (index as u64 + 1) % size as u64, size as u64, &expected, &root));
            let mut bad = expected.clone();
            bad[0][0] ^= 8;
            assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &bad, &root));
            assert!(!verify_inclusion(
                &leaves[index],
                index as u64,
                size as u64,
                &expected[..expected.len() - 1],
                &root
            ));
        }
        assert!(!verify_inclusion(&leaves[index], index as u64, 2 * size as u64, &expected, &root));
        assert!(!verify_inclusion(&leaf_hash(b"WrongLeaf"), index as u64, size as u64, &expected, &root));
        assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &expected, &h(EMPTY_ROOT)));
    }
}

#[test]
fn consistency_proofs_match_the_published_proofs_and_verify() {
    let leaves: Vec<Hash> = inputs().iter().map(|d| leaf_hash(d)).collect();
    for (first, second, proof) in CONSISTENCY_PROOFS {
        let expected = hashes(proof);
        assert_eq!(consistency_proof(&leaves[..second], first), expected, "{first} -> {second}");
        assert_eq!(rfc6962::proof(first, &inputs()[..second]), expected, "the reference, {first} -> {second}");
        let (r1, r2) = (h(ROOTS[first - 1]), h(ROOTS[second - 1]));
        assert!(verify_consistency(first as u64, second as u64, &r1, &r2, &expected), "{first} -> {second}");
        if first < second {
            // Swapped roots, a flipped bit, a truncated proof or an empty one fail.
            assert!(!verify_consistency(first as u64, second as u64, &r2, &r1, &expected));
            let mut bad = expected.clone();
            bad[0][0] ^= 16;
            assert!(!verify_consistency(first as u64, second as u64, &r1, &r2, &bad));
            assert!(!verify_consistency(first as u64, second as u64, &r1, &r2, &expected[..expected.len() - 1]));
            assert!(!verify_consistency(first as u64, second as u64, &r1, &r2, &[]));
        }
    }
}

#[test]
fn every_proof_of_trees_up_to_eight_leaves_equals_the_rfc_definition() {
    let d = inputs();
    let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
    for n in 1..=8 {
        let root = h(ROOTS[n - 1]);
        for m in 0..n {
            let path = rfc6962::path(m, &d[..n]);
            assert_eq!(inclusion_proof(&leaves[..n], m), path, "PATH({m}, D[{n}])");
            assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &path, &root), "PATH({m}, D[{n}])");
        }
        for m in 1..=n {
            let proof = rfc6962::proof(m, &d[..n]);
            assert_eq!(consistency_proof(&leaves[..n], m), proof, "PROOF({m}, D[{n}])");
            assert!(verify_consistency(m as u64, n as u64, &h(ROOTS[m - 1]), &root, &proof), "PROOF({m}, D[{n}])");
        }
    }
}
