//! The engine's audit writer: the head of the hash chain (last record, Merkle tree of every
//! record, records and time since the last checkpoint), appending records, signing
//! checkpoints with the ACTIVE AUDIT_SIGNING key, and which key that is.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Connection;

use super::{Engine, Tx};
use crate::crypto::{AuditSigner, KeyType};
use crate::lifecycle::audit::{self, AuditRecord, Verdict, VerifyOptions, checkpoint_message};
use crate::lifecycle::merkle::MerkleFrontier;
use crate::lifecycle::store::{keys, log};
use crate::lifecycle::{KeyId, KeyState, LifecycleError};
use crate::units::SimTime;

type Result<T> = std::result::Result<T, LifecycleError>;

/// The head of the audit chain as the writer keeps it in memory.
#[derive(Clone, Debug)]
pub(crate) struct ChainHead {
    seq: u64,
    hash: [u8; 32],
    /// The Merkle tree of every record's hash so far.
    tree: MerkleFrontier,
    since_checkpoint: u64,
    last_checkpoint: SimTime,
}

impl ChainHead {
    /// The head of a new, empty chain created at `now`.
    pub(crate) fn genesis(now: SimTime) -> ChainHead {
        ChainHead {
            seq: 0,
            hash: audit::GENESIS_HASH,
            tree: MerkleFrontier::default(),
            since_checkpoint: 0,
            last_checkpoint: now,
        }
    }

    /// The head of the chain stored in `conn`: last record, Merkle tree of every record, and
    /// the records and time since the last checkpoint.
    pub(crate) fn load(conn: &Connection) -> Result<ChainHead> {
        let (seq, hash) = log::chain_head(conn)?;
        let tree = log::merkle_frontier(conn)?;
        let (cp_seq, cp_ns) = log::last_checkpoint(conn)?.unwrap_or((0, 0));
        Ok(ChainHead { seq, hash, tree, since_checkpoint: seq.saturating_sub(cp_seq), last_checkpoint: SimTime(cp_ns) })
    }

    /// Sequence number of the last record (0 when none).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

impl Tx<'_> {
    /// Appends an audit record chained to the head; signs a checkpoint when
    /// `checkpoint_every` records or `checkpoint_interval` passed. Returns its sequence number.
    pub(crate) fn append_audit(
        &mut self,
        event: &str,
        key: Option<KeyId>,
        from: Option<KeyState>,
        to: Option<KeyState>,
        detail: &str,
    ) -> Result<u64> {
        let now = self.clock.now();
        let rec = AuditRecord {
            seq: self.head.seq + 1,
            at_ns: now.0,
            event: event.to_string(),
            key_id: key,
            from,
            to,
            actor: self.actor.clone(),
            detail: detail.to_string(),
        };
        let hash = rec.hash(&self.head.hash);
        log::insert_record(&self.conn, &rec, &self.head.hash, &hash)?;
        let head = &mut self.head;
        head.seq = rec.seq;
        head.hash = hash;
        head.tree.push(audit::record_leaf(&hash));
        head.since_checkpoint += 1;
        if self.head.since_checkpoint >= self.config.checkpoint_every
            || now.saturating_since(self.head.last_checkpoint) >= self.config.checkpoint_interval
        {
            self.write_checkpoint()?;
        }
        Ok(rec.seq)
    }

    /// Sign the current chain head with the ACTIVE AUDIT_SIGNING key (no-op
    /// when nothing new was appended or no signing key is available).
    pub(crate) fn write_checkpoint(&mut self) -> Result<()> {
        let Some(signer) = self.signer.clone() else {
            return Ok(());
        };
        if self.head.seq == 0 || self.head.since_checkpoint == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let (signer_id, key) = (&signer.0, &signer.1);
        let root = self.head.tree.root();
        let msg = checkpoint_message(self.head.seq, now.0, &self.head.hash, Some(&root), *signer_id);
        let sig = key.sign(&msg);
        let checkpoint = log::NewCheckpoint {
            seq: self.head.seq,
            at_ns: now.0,
            head: &self.head.hash,
            signer: *signer_id,
            signature: &sig[..],
            root: &root,
        };
        log::insert_checkpoint(&self.conn, &checkpoint)?;
        self.head.since_checkpoint = 0;
        self.head.last_checkpoint = now;
        Ok(())
    }

    /// Makes the ACTIVE AUDIT_SIGNING key `id` the signer, and stores its public key for
    /// verifiers.
    pub(crate) fn install_signer(&mut self, id: KeyId) -> Result<()> {
        let material = self.unwrap_material(id, KeyType::AuditSigning)?;
        let signer =
            AuditSigner::from_material(&material).map_err(|source| LifecycleError::Crypto { key: id, source })?;
        log::register_audit_key(&self.conn, id, &signer.public()[..])?;
        self.signer = Some(Arc::new((id, signer)));
        Ok(())
    }
}

impl Engine {
    /// Sign a checkpoint now (e.g. before shutdown) in its own transaction.
    pub fn checkpoint_now(&mut self) -> Result<()> {
        self.atomic(|tx| tx.write_checkpoint())
    }

    /// Loads the signer from the store: the ACTIVE AUDIT_SIGNING key (or the newest ROTATING
    /// one), none when there is neither.
    pub(crate) fn refresh_signer(&mut self) -> Result<()> {
        self.signer = match keys::current_audit_signer(&self.conn)? {
            None => None,
            Some(id) => {
                let material = self.unwrap_material(id, KeyType::AuditSigning)?;
                let signer = AuditSigner::from_material(&material)
                    .map_err(|source| LifecycleError::Crypto { key: id, source })?;
                Some(Arc::new((id, signer)))
            }
        };
        Ok(())
    }

    /// Verify the whole audit chain and its checkpoints (read-only).
    /// Checked with the store's own keys: nothing is authenticated (see
    /// [`VerifyReport::authenticated`](crate::lifecycle::VerifyReport::authenticated)); pin keys with [`audit::verify`] for that.
    pub fn verify_audit(&self) -> Result<Verdict> {
        audit::verify(&self.conn, &VerifyOptions::default())
    }

    /// Key states as replayed from the audit chain.
    pub fn replay_audit(&self) -> Result<BTreeMap<KeyId, KeyState>> {
        Ok(audit::replay_states(&self.conn)?)
    }

    /// Number of audit records.
    pub fn audit_len(&self) -> u64 {
        self.head.seq
    }
}
