//! The QBER stream: the key's error rate per block of N sifted signal bits in the Z basis,
//! the quantity a QKD monitor watches.

use std::io::Write;

use serde::Serialize;

use crate::photonics::link::record::Detection;
use crate::photonics::source::{Basis, IntensityClass};

/// One block of the QBER stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QberBlock {
    /// Block number, from 0.
    pub block: u64,
    /// Pulse index of the block's first sifted bit.
    pub first_pulse: u64,
    /// Pulse index of the block's last sifted bit.
    pub last_pulse: u64,
    /// Sifted key bits in the block (the block size, or fewer for the final partial block).
    pub bits: u64,
    /// Bits where Bob differs from Alice.
    pub errors: u64,
}

impl QberBlock {
    /// The block's error rate.
    pub fn qber(&self) -> f64 {
        if self.bits == 0 { 0.0 } else { self.errors as f64 / self.bits as f64 }
    }
}

/// Cuts the sifted key into blocks of `block_bits` and counts errors in each.
#[derive(Debug, Clone)]
pub struct QberStream {
    block_bits: u64,
    current: Option<QberBlock>,
    blocks: Vec<QberBlock>,
}

impl QberStream {
    /// A stream of blocks of `block_bits` sifted key bits (at least 1).
    pub fn new(block_bits: u64) -> Self {
        QberStream { block_bits: block_bits.max(1), current: None, blocks: Vec::new() }
    }

    /// Feeds one detection (only sifted signal Z-basis detections count).
    #[inline]
    pub fn push(&mut self, d: &Detection) {
        if !(d.is_sifted() && d.class == IntensityClass::Signal && d.alice_basis == Basis::Z) {
            return;
        }
        let next_block = self.blocks.len() as u64;
        let block = self.current.get_or_insert(QberBlock {
            block: next_block,
            first_pulse: d.pulse,
            last_pulse: d.pulse,
            bits: 0,
            errors: 0,
        });
        block.last_pulse = d.pulse;
        block.bits += 1;
        block.errors += d.is_error() as u64;
        if block.bits == self.block_bits {
            self.blocks.push(*block);
            self.current = None;
        }
    }

    /// The blocks, with the final partial block (if any) last.
    pub fn finish(mut self) -> Vec<QberBlock> {
        if let Some(partial) = self.current.take() {
            self.blocks.push(partial);
        }
        self.blocks
    }
}

/// CSV header of [`write_csv`].
pub const CSV_HEADER: &str = "block,first_pulse,last_pulse,bits,errors,qber";

/// Writes the blocks as CSV (header first).
pub fn write_csv<W: Write + ?Sized>(blocks: &[QberBlock], out: &mut W) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for b in blocks {
        writeln!(out, "{},{},{},{},{},{}", b.block, b.first_pulse, b.last_pulse, b.bits, b.errors, b.qber())?;
    }
    Ok(())
}
