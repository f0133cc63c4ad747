//! Cascade parameters: the block size of every pass, sub-block parity reuse and BICONF.
//!
//! The variants are those compared by Martinez-Mateo et al., "Demystifying the information
//! reconciliation protocol Cascade", QIC 15 (2015) (their names in quotes), with `Q` the
//! (estimated) QBER and `n` the frame length; Sugimoto & Yamazaki, IEICE Trans. Fundamentals
//! E83-A (2000); Yan et al., ICNC 2008:
//!
//! | variant | passes | k₁ | k₂ | kᵢ, i ≥ 3 | reuse | source |
//! |---|---|---|---|---|---|---|
//! | `original` | 4 | ⌈0.73/Q⌉ | 2k₁ | 2kᵢ₋₁ | no | Brassard & Salvail 1993 |
//! | `biconf` | 2 + BICONF | ⌈0.92/Q⌉ | 3k₁ | BICONF until 10 clean rounds | no | Sugimoto & Yamazaki 2000 ("Cascade mod. (1)") |
//! | `yan` | 10 | ⌈0.80/Q⌉ | 5k₁ | ⌈n/2⌉ | no | Yan et al. 2008 ("Cascade opt. (2)") |
//! | `option7` | 14 | 2^⌈log₂(1/Q)⌉ | 4k₁ | ⌈n/2⌉ | yes | Martinez-Mateo et al. ("Cascade opt. (7)") |
//! | `option8` | 14 | 2^⌈α⌉ | 2^⌈(α+12)/2⌉ | k₃ = 4096, then ⌈n/2⌉ | yes | Martinez-Mateo et al. ("Cascade opt. (8)"), α = log₂(1/Q) − 1/2 |
//! | `biconf-cascading` | 2 + BICONF | ⌈0.92/Q⌉ | 3k₁ | BICONF, cascaded, until 10 clean rounds | no | ours: a modification of `biconf` |
//!
//! Block sizes are capped at `n`. A BICONF round (Brassard–Salvail's *BICONF*, used as
//! passes by Sugimoto–Yamazaki) discloses the parity of a random half of the key and, if it
//! disagrees, binary-searches that half and flips the error found; the protocol stops after
//! the given number of consecutive rounds that correct nothing. In `biconf`, as in
//! Martinez-Mateo et al.'s simulations, a BICONF correction is not cascaded back into the
//! blocks of earlier passes; `biconf-cascading` cascades it (each round becomes a pass of one
//! block), which corrects more errors per disclosed parity: a lower f than the paper's curve
//! and fewer frame errors, so it is not the published protocol.
//!
//! Option 8's k₃ = 4096 is Martinez-Mateo et al.'s choice for frames of n = 2¹⁴ bits (their
//! Fig. 13); at other lengths it is that parameter set applied unchanged, not a tuned one.

use crate::postprocess::PostprocessError;

/// A published Cascade parameter set (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CascadeVariant {
    /// Brassard–Salvail 1993: k₁ = ⌈0.73/Q⌉, doubling, 4 passes.
    Original,
    /// Sugimoto–Yamazaki as run by Martinez-Mateo et al.: k₁ = ⌈0.92/Q⌉, k₂ = 3k₁, then
    /// BICONF until 10 clean rounds, BICONF corrections not cascaded into earlier passes.
    Biconf,
    /// Yan et al.: k₁ = ⌈0.80/Q⌉, k₂ = 5k₁, then ⌈n/2⌉, 10 passes.
    Yan,
    /// Martinez-Mateo et al. option 7: powers of two, k₂ = 4k₁, then ⌈n/2⌉, 14 passes, reuse.
    Option7,
    /// Martinez-Mateo et al. option 8: powers of two tuned to Q, k₃ = 4096, 14 passes, reuse
    /// (defined for n = 2¹⁴ bits, their Fig. 13).
    Option8,
    /// Ours, a modification of `biconf`: each BICONF correction is cascaded back into the
    /// blocks of every earlier pass and round (lower f and fewer frame errors than published).
    #[serde(rename = "biconf-cascading")]
    BiconfCascading,
}

impl CascadeVariant {
    /// Every variant, in table order.
    pub const ALL: [CascadeVariant; 6] = [
        CascadeVariant::Original,
        CascadeVariant::Biconf,
        CascadeVariant::Yan,
        CascadeVariant::Option7,
        CascadeVariant::Option8,
        CascadeVariant::BiconfCascading,
    ];

    /// The name used on the command line and in output files.
    pub fn name(self) -> &'static str {
        match self {
            CascadeVariant::Original => "original",
            CascadeVariant::Biconf => "biconf",
            CascadeVariant::Yan => "yan",
            CascadeVariant::Option7 => "option7",
            CascadeVariant::Option8 => "option8",
            CascadeVariant::BiconfCascading => "biconf-cascading",
        }
    }
}

/// A fully specified Cascade run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeConfig {
    /// Block size of each ordinary pass, in bits (pass 1 first; each in `1..=n`).
    pub block_sizes: Vec<usize>,
    /// Remember every parity of Alice's already disclosed (top-level or found during a binary
    /// search) and never ask for it again ("sub-block reuse", Martinez-Mateo et al.).
    pub reuse_subblock_parities: bool,
    /// After the ordinary passes, BICONF rounds until this many consecutive rounds correct
    /// nothing (0: none).
    pub biconf_clean_rounds: u32,
    /// Whether an error found by a BICONF round is cascaded back into the blocks of the
    /// earlier passes and rounds (`biconf-cascading`, ours) or only flipped (Martinez-Mateo et
    /// al.'s BICONF, every other variant).
    pub biconf_cascades: bool,
}

/// Upper bound on BICONF rounds, whatever happens (each round discloses at least one parity).
pub const MAX_BICONF_ROUNDS: u32 = 1000;

impl CascadeConfig {
    /// The parameters of `variant` for frame length `n` bits and QBER estimate `qber`.
    pub fn new(variant: CascadeVariant, qber: f64, n: usize) -> Result<Self, PostprocessError> {
        if !(qber > 0.0 && qber < 0.5) {
            return Err(PostprocessError::Qber(qber));
        }
        if n == 0 {
            return Err(PostprocessError::Size { name: "frame length n", value: 0, allowed: "must be >= 1".into() });
        }
        let ceil = |x: f64| x.ceil() as usize;
        let pow2 = |e: f64| 1usize << (e.ceil().max(0.0) as u32).min(40);
        let half = n.div_ceil(2);
        let (sizes, reuse, biconf): (Vec<usize>, bool, u32) = match variant {
            CascadeVariant::Original => {
                let k1 = ceil(0.73 / qber);
                (vec![k1, 2 * k1, 4 * k1, 8 * k1], false, 0)
            }
            CascadeVariant::Biconf | CascadeVariant::BiconfCascading => {
                let k1 = ceil(0.92 / qber);
                (vec![k1, 3 * k1], false, 10)
            }
            CascadeVariant::Yan => {
                let k1 = ceil(0.80 / qber);
                let mut v = vec![k1, 5 * k1];
                v.resize(10, half);
                (v, false, 0)
            }
            CascadeVariant::Option7 => {
                let k1 = pow2((1.0 / qber).log2());
                let mut v = vec![k1, 4 * k1];
                v.resize(14, half);
                (v, true, 0)
            }
            CascadeVariant::Option8 => {
                let alpha = (1.0 / qber).log2() - 0.5;
                let mut v = vec![pow2(alpha), pow2((alpha + 12.0) / 2.0), 4096];
                v.resize(14, half);
                (v, true, 0)
            }
        };
        let block_sizes = sizes.into_iter().map(|k| k.clamp(1, n)).collect();
        Ok(CascadeConfig {
            block_sizes,
            reuse_subblock_parities: reuse,
            biconf_clean_rounds: biconf,
            biconf_cascades: variant == CascadeVariant::BiconfCascading,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_block_sizes() {
        let c = CascadeConfig::new(CascadeVariant::Original, 0.02, 100_000).unwrap();
        assert_eq!(c.block_sizes, vec![37, 74, 148, 296]);
        let c = CascadeConfig::new(CascadeVariant::Yan, 0.02, 10_000).unwrap();
        assert_eq!(&c.block_sizes[..3], &[40, 200, 5000]);
        assert_eq!(c.block_sizes.len(), 10);
        let c = CascadeConfig::new(CascadeVariant::Option7, 0.03, 10_000).unwrap();
        assert_eq!(&c.block_sizes[..3], &[64, 256, 5000]);
        assert_eq!(c.block_sizes.len(), 14);
        // Q = 1 %: α = log2(100) − 0.5 = 6.14: k1 = 128, k2 = 2^⌈9.07⌉ = 1024.
        let c = CascadeConfig::new(CascadeVariant::Option8, 0.01, 10_000).unwrap();
        assert_eq!(&c.block_sizes[..4], &[128, 1024, 4096, 5000]);
        let c = CascadeConfig::new(CascadeVariant::Biconf, 0.05, 10_000).unwrap();
        assert_eq!((c.block_sizes.clone(), c.biconf_clean_rounds), (vec![19, 57], 10));
        let cascading = CascadeConfig::new(CascadeVariant::BiconfCascading, 0.05, 10_000).unwrap();
        assert_eq!(cascading, CascadeConfig { biconf_cascades: true, ..c.clone() });
        assert!(
            CascadeVariant::ALL.iter().all(|&v| CascadeConfig::new(v, 0.05, 10_000).unwrap().biconf_cascades
                == (v == CascadeVariant::BiconfCascading))
        );
    }

    #[test]
    fn rejects_bad_qber() {
        for q in [0.0, 0.5, 0.7, -0.1, f64::NAN] {
            let e = CascadeConfig::new(CascadeVariant::Original, q, 100).unwrap_err();
            assert!(e.to_string().contains("must be in (0, 0.5)"), "{e}");
        }
    }
}
