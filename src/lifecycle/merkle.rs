//! The Merkle tree of the audit log, after RFC 6962 §2.1 (Certificate Transparency; the same
//! algorithms as RFC 9162 §2.1): leaf hash `SHA-256(0x00 || data)`, interior node
//! `SHA-256(0x01 || left || right)`, the tree of `n` leaves split at the largest power of two
//! below `n`. Provides the incremental root ([`MerkleFrontier`]), audit paths and their
//! verification (inclusion of one record in a signed tree head), and consistency proofs (a
//! later signed head extends an earlier one: the log is append-only).
//!
//! The leaves of the audit log are the records' chained hashes (see
//! [`crate::lifecycle::audit`]), in sequence order: leaf `i` is record `i + 1`.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 value.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of an empty tree: `SHA-256()` of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n ≥ 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle tree hash `MTH(D[n])` of the leaf hashes `leaves` (RFC 6962 §2.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The roots of the perfect subtrees covering the leaves appended so far, largest first: the
/// root of the whole tree in O(log n) space, one leaf at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleFrontier {
    /// (subtree root, height) with strictly decreasing heights.
    subtrees: Vec<(Hash, u32)>,
    size: u64,
}

impl MerkleFrontier {
    /// Appends the leaf whose hash is `leaf` (already [`leaf_hash`]ed).
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (leaf, 0);
        while let Some(&(left, height)) = self.subtrees.last() {
            if height != node.1 {
                break;
            }
            self.subtrees.pop();
            node = (node_hash(&left, &node.0), height + 1);
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree hash of every leaf so far: the subtrees folded from the right.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(mut acc, _)) = iter.next() else { return empty_root() };
        for (left, _) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// The audit path `PATH(m, D[n])` of leaf `index` in the tree of `leaves`, from the leaf up
/// (RFC 6962 §2.1.1).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    assert!(index < leaves.len(), "leaf {index} outside a tree of {}", leaves.len());
    let mut path = Vec::new();
    build_path(leaves, index, &mut path);
    path
}

fn build_path(leaves: &[Hash], m: usize, path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        build_path(&leaves[..k], m, path);
        path.push(root(&leaves[k..]));
    } else {
        build_path(&leaves[k..], m - k, path);
        path.push(root(&leaves[..k]));
    }
}

/// Shifts `fn_` and `sn` right together until `fn_` is odd or zero.
fn shift_while_even(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// Whether `path` proves that the leaf hash `leaf` is leaf `index` of the tree of `size`
/// leaves whose root is `root` (the verification algorithm of RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            shift_while_even(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

/// The consistency proof `PROOF(m, D[n])` between the tree of the first `first` leaves and
/// the tree of all `leaves` (RFC 6962 §2.1.2); `0 < first ≤ n`.
pub fn consistency_proof(leaves: &[Hash], first: usize) -> Vec<Hash> {
    assert!(first > 0 && first <= leaves.len(), "consistency from {first} of {} leaves", leaves.len());
    let mut proof = Vec::new();
    build_subproof(leaves, first, true, &mut proof);
    proof
}

fn build_subproof(leaves: &[Hash], m: usize, complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        build_subproof(&leaves[..k], m, complete, proof);
        proof.push(root(&leaves[k..]));
    } else {
        build_subproof(&leaves[k..], m - k, false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Whether `proof` shows that the tree of `first` leaves with root `first_root` is a prefix
/// of the tree of `second` leaves with root `second_root` (RFC 9162 §2.1.4.2; equal sizes
/// need an empty proof and equal roots).
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, proof: &[Hash]) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else { return false };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            shift_while_even(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    &fr == first_root && &sr == second_root && sn == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn known_shapes() {
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(root(&[]), empty_root());
        assert_eq!(inclusion_proof(&l, 2), vec![node_hash(&l[0], &l[1])]);
        assert_eq!(inclusion_proof(&l, 0), vec![l[1], l[2]]);
        // The example of RFC 6962 §2.1.3, a tree of 7 leaves (g = leaves 0-1, k = 0-3,
        // i = 4-5, l = 4-6, c and d leaves 2 and 3, j leaf 6): PROOF(3, D[7]) = [c, d, g, l],
        // PROOF(4, D[7]) = [l], PROOF(6, D[7]) = [i, j, k]; and the audit path of d0.
        let l7 = leaves(7);
        let (g, k, i, l) = (root(&l7[0..2]), root(&l7[0..4]), root(&l7[4..6]), root(&l7[4..7]));
        assert_eq!(consistency_proof(&l7, 3), vec![l7[2], l7[3], g, l]);
        assert_eq!(consistency_proof(&l7, 4), vec![l]);
        assert_eq!(consistency_proof(&l7, 6), vec![i, l7[6], k]);
        assert_eq!(inclusion_proof(&l7, 0), vec![l7[1], root(&l7[2..4]), l]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn frontier_equals_the_recursive_root(n in 0usize..300) {
            let l = leaves(n);
            let mut f = MerkleFrontier::default();
            for leaf in &l {
                f.push(*leaf);
            }
            prop_assert_eq!(f.size(), n as u64);
            prop_assert_eq!(f.root(), root(&l));
        }

        #[test]
        fn every_inclusion_proof_verifies_and_a_wrong_one_does_not(n in 1usize..200, pick in 0usize..1000) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick % n;
            let path = inclusion_proof(&l, i);
            prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &path, &r));
            // Another leaf, another index or a damaged path must all fail. (The tree size is not
            // always pinned by the path alone: for leaf 0 of 9 or 10 leaves the path has the
            // same shape. It is pinned by the signed tree head, which signs size and root.)
            let other = leaf_hash(b"not in the log");
            prop_assert!(!verify_inclusion(&other, i as u64, n as u64, &path, &r));
            if n > 1 {
                prop_assert!(!verify_inclusion(&l[i], ((i + 1) % n) as u64, n as u64, &path, &r));
            }
            if let Some(first) = path.first() {
                let mut bad = path.clone();
                bad[0] = node_hash(first, first);
                prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &bad, &r));
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_rewritten_prefix_does_not(n in 1usize..150, pick in 0usize..1000) {
            let l = leaves(n);
            let m = 1 + pick % n;
            let proof = consistency_proof(&l, m);
            let (first_root, second_root) = (root(&l[..m]), root(&l));
            prop_assert!(verify_consistency(m as u64, n as u64, &first_root, &second_root, &proof));
            // The same later tree against a different earlier history fails.
            let mut rewritten = l.clone();
            rewritten[m - 1] = leaf_hash(b"rewritten");
            let forged = root(&rewritten[..m]);
            prop_assert!(!verify_consistency(m as u64, n as u64, &forged, &second_root, &proof));
            prop_assert!(!verify_consistency(m as u64, n as u64, &first_root, &root(&rewritten), &proof));
        }
    }
}
