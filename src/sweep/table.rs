//! The CSV of a sweep: its header, rows keyed by (point, replicate), the marker line that
//! identifies shard and partial files, and the merge of shards into the unsharded CSV.

use std::collections::BTreeMap;
use std::path::Path;

use crate::sweep::spec::Sweep;

/// Identity of a sweep run written at the top of partial and shard files:
/// `# qecnet-sweep fingerprint=… seed=… points=… replicates=… shard=I/N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// [`Sweep::fingerprint`].
    pub fingerprint: u64,
    /// Sweep seed.
    pub seed: u64,
    /// Grid points.
    pub points: u64,
    /// Replicates per point.
    pub replicates: u32,
    /// This shard's index.
    pub shard: u64,
    /// Number of shards.
    pub shards: u64,
}

impl Marker {
    /// The marker of `sweep` for shard `shard` of `shards` (0 of 1 when unsharded).
    pub fn new(sweep: &Sweep, shard: u64, shards: u64) -> Self {
        Marker {
            fingerprint: sweep.fingerprint(),
            seed: sweep.seed,
            points: sweep.points(),
            replicates: sweep.replicates,
            shard,
            shards,
        }
    }

    /// The marker line (without newline).
    pub fn line(&self) -> String {
        format!(
            "# qecnet-sweep fingerprint={:016x} seed={} points={} replicates={} shard={}/{}",
            self.fingerprint, self.seed, self.points, self.replicates, self.shard, self.shards
        )
    }

    /// Parses a marker line.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("# qecnet-sweep ")?;
        let mut fields = BTreeMap::new();
        for part in rest.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            fields.insert(k, v);
        }
        let (shard, shards) = fields.get("shard")?.split_once('/')?;
        Some(Marker {
            fingerprint: u64::from_str_radix(fields.get("fingerprint")?, 16).ok()?,
            seed: fields.get("seed")?.parse().ok()?,
            points: fields.get("points")?.parse().ok()?,
            replicates: fields.get("replicates")?.parse().ok()?,
            shard: shard.parse().ok()?,
            shards: shards.parse().ok()?,
        })
    }

    /// Whether `other` belongs to the same sweep (everything but the shard index).
    pub fn same_sweep(&self, other: &Marker) -> bool {
        self.fingerprint == other.fingerprint
            && self.seed == other.seed
            && self.points == other.points
            && self.replicates == other.replicates
            && self.shards == other.shards
    }
}

/// The CSV header of `sweep`: point, replicate, seed, swept fields, figures, error.
pub fn header(sweep: &Sweep) -> String {
    let mut cols = vec!["point".to_string(), "replicate".into(), "seed".into()];
    cols.extend(sweep.swept_fields());
    cols.extend(crate::sweep::figures::figure_names(sweep));
    cols.push("error".into());
    cols.join(",")
}

/// One CSV row (without newline); `error` is quoted if present, on one line.
pub fn row(point: u64, replicate: u32, seed: u64, swept: &[String], figures: &[String], error: Option<&str>) -> String {
    let mut cols = vec![point.to_string(), replicate.to_string(), seed.to_string()];
    cols.extend(swept.iter().cloned());
    cols.extend(figures.iter().cloned());
    cols.push(error.map(|e| format!("\"{}\"", e.replace(['\n', '\r'], " ").replace('"', "\"\""))).unwrap_or_default());
    cols.join(",")
}

/// Fields of one CSV line, counting commas outside double quotes.
pub fn field_count(line: &str) -> usize {
    let mut quoted = false;
    1 + line
        .chars()
        .filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .count()
}

/// The (point, replicate) key of a data row.
pub fn row_key(line: &str) -> Option<(u64, u32)> {
    let mut it = line.splitn(3, ',');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// A parsed partial or shard file.
#[derive(Debug)]
pub struct TableFile {
    /// Its marker.
    pub marker: Marker,
    /// Its header line.
    pub header: String,
    /// Data rows by key.
    pub rows: BTreeMap<(u64, u32), String>,
}

/// Reads a shard file (complete, so every line ends with a newline); the error says what is
/// wrong with it.
pub fn read_table(path: &Path) -> Result<TableFile, String> {
    let (table, torn) = read_rows(path)?;
    match torn {
        Some(_) => Err(format!("{}: the last row has no newline (the file was cut short)", path.display())),
        None => Ok(table),
    }
}

/// Reads the partial file of an interrupted run. A last row without its newline (the run was
/// killed while writing it) is dropped; the second value is then the length, in bytes, the
/// file must be cut to before rows are appended again.
pub fn read_partial(path: &Path) -> Result<(TableFile, Option<u64>), String> {
    read_rows(path)
}

fn read_rows(path: &Path) -> Result<(TableFile, Option<u64>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (complete, torn) = match text.rfind('\n') {
        Some(i) if i + 1 < text.len() => (&text[..=i], Some(i as u64 + 1)),
        Some(_) => (text.as_str(), None),
        None => ("", Some(0)),
    };
    let mut lines = complete.lines();
    let marker = lines
        .next()
        .and_then(Marker::parse)
        .ok_or_else(|| format!("{}: not a qecnet sweep shard (no `# qecnet-sweep` first line)", path.display()))?;
    let header = lines.next().ok_or_else(|| format!("{}: no header line", path.display()))?.to_owned();
    let columns = field_count(&header);
    let mut rows = BTreeMap::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = |why: &str| format!("{}: line {}: {why} `{line}`", path.display(), i + 3);
        let key = row_key(line).ok_or_else(|| bad("malformed row"))?;
        if field_count(line) != columns {
            return Err(bad(&format!("{} fields where the header has {columns}", field_count(line))));
        }
        if rows.insert(key, line.to_owned()).is_some() {
            return Err(format!("{}: point {} replicate {} appears twice", path.display(), key.0, key.1));
        }
    }
    Ok((TableFile { marker, header, rows }, torn))
}

/// Shard ids as `sbatch --array=` takes them: `0,2-4,7`.
pub fn array_spec(ids: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

/// Merges shard files into the unsharded CSV text (header + rows sorted by point, replicate).
/// Refuses shards of different sweeps or seeds, duplicated shards or points, and missing
/// shards (listing them in `sbatch --array=` form).
pub fn merge(paths: &[&Path]) -> Result<String, String> {
    let tables: Vec<TableFile> = paths.iter().map(|p| read_table(p)).collect::<Result<_, _>>()?;
    let first = tables.first().ok_or("no shard files given")?;
    let mut seen_shards = BTreeMap::new();
    let mut rows = BTreeMap::new();
    for (t, path) in tables.iter().zip(paths) {
        if !t.marker.same_sweep(&first.marker) || t.header != first.header {
            return Err(format!(
                "{} belongs to another sweep or seed than {} ({} vs {})",
                path.display(),
                paths[0].display(),
                t.marker.line(),
                first.marker.line()
            ));
        }
        if let Some(other) = seen_shards.insert(t.marker.shard, path) {
            return Err(format!("shard {} given twice: {} and {}", t.marker.shard, other.display(), path.display()));
        }
        for (key, line) in &t.rows {
            if rows.insert(*key, line.clone()).is_some() {
                return Err(format!("point {} replicate {} appears in two shards", key.0, key.1));
            }
        }
    }
    let m = &first.marker;
    let missing_shards: Vec<u64> = (0..m.shards)
        .filter(|&s| {
            (s..m.points).step_by(m.shards as usize).any(|p| (0..m.replicates).any(|r| !rows.contains_key(&(p, r))))
        })
        .collect();
    if !missing_shards.is_empty() {
        return Err(format!(
            "incomplete: shards missing or unfinished: {} (resubmit with --array={})",
            missing_shards.len(),
            array_spec(&missing_shards)
        ));
    }
    let mut out = first.header.clone();
    out.push('\n');
    for line in rows.values() {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_spec_compresses_runs() {
        assert_eq!(array_spec(&[0, 2, 3, 4, 7]), "0,2-4,7");
        assert_eq!(array_spec(&[5]), "5");
    }

    #[test]
    fn marker_round_trips() {
        let m = Marker { fingerprint: 0xabc, seed: 3, points: 10, replicates: 2, shard: 1, shards: 4 };
        assert_eq!(Marker::parse(&m.line()), Some(m));
    }
}
