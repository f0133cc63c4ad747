//! Key-relay routing over the fibre graph: the shortest trusted-node path between two nodes.
//!
//! Trusted-node relay (the SECOQC and Tokyo QKD networks; ETSI GR QKD 003 §5.3, ITU-T Y.3800
//! §8): the key travels hop by hop, one-time-pad encrypted with each hop's QKD key, so every
//! hop spends one session key's worth of bits from its own buffer and every intermediate node
//! sees the key in the clear. The cost of a path is therefore compared lexicographically:
//!
//! 1. **hops** first: the key consumed is `hops × session_key_bits` (the same on every hop),
//!    and the nodes that must be trusted are `hops − 1`; both grow with the hop count, and both
//!    matter far more than latency;
//! 2. **latency** second (fibre propagation plus processing per hop, ns): control messages
//!    take well under a millisecond per hop, so it only separates paths of equal hop count;
//! 3. **ties** are broken deterministically: every node's predecessor on its path is the
//!    optimal predecessor of smallest index (Dijkstra settles nodes in (cost, index) order,
//!    and a strictly cheaper predecessor always settles first, since each hop adds a hop).
//!
//! A weighted sum would let a long, fast path beat a short one and would need a conversion
//! rate between key bits and nanoseconds that the spec does not give; the lexicographic order
//! needs none. [`Graph::shortest`] is pure: which links can carry key (QKD mode, not severed,
//! enough key) and which nodes may relay (not compromised, isolated or down) are the caller's
//! predicates.

/// A path found by [`Graph::shortest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The nodes from the source to the destination (both included).
    pub nodes: Vec<usize>,
    /// The links of the hops, in order (`links.len() == nodes.len() - 1`).
    pub links: Vec<usize>,
    /// Total latency of the hops (ns).
    pub latency_ns: u64,
}

impl Route {
    /// Number of hops (links).
    pub fn hops(&self) -> usize {
        self.links.len()
    }

    /// The trusted relays: the nodes strictly between the two ends.
    pub fn relays(&self) -> &[usize] {
        &self.nodes[1..self.nodes.len() - 1]
    }
}

/// The cost of a path: hops, then latency (ns); compared lexicographically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathCost {
    /// Links on the path.
    pub hops: u32,
    /// Sum of the hops' latencies (ns).
    pub latency_ns: u64,
}

/// An undirected fibre graph: nodes `0..n`, link `i` joining `a` and `b` with a latency.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Per node: (neighbour, link index, latency ns), in link order.
    adjacent: Vec<Vec<(usize, usize, u64)>>,
}

impl Graph {
    /// A graph of `nodes` nodes whose link `i` is `links[i] = (a, b, latency_ns)`.
    pub fn new(nodes: usize, links: &[(usize, usize, u64)]) -> Self {
        let mut adjacent = vec![Vec::new(); nodes];
        for (i, &(a, b, latency)) in links.iter().enumerate() {
            adjacent[a].push((b, i, latency));
            adjacent[b].push((a, i, latency));
        }
        Graph { adjacent }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.adjacent.len()
    }

    /// The cheapest path from `from` to `to` (see the module doc for the cost and the
    /// tie-break) over the links for which `usable(link)` holds, relaying only through nodes
    /// for which `can_relay(node)` holds (the two ends need not); `None` when there is none
    /// or `from == to`.
    pub fn shortest(
        &self,
        from: usize,
        to: usize,
        usable: impl Fn(usize) -> bool,
        can_relay: impl Fn(usize) -> bool,
    ) -> Option<Route> {
        let n = self.nodes();
        if from == to || from >= n || to >= n {
            return None;
        }
        let mut cost: Vec<Option<PathCost>> = vec![None; n];
        // The predecessor of each reached node: (node, link).
        let mut previous: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut settled = vec![false; n];
        cost[from] = Some(PathCost { hops: 0, latency_ns: 0 });
        loop {
            // The unsettled node of least (cost, index): O(n²) overall, no heap needed for
            // meshes of tens of nodes, and the settling order is fixed.
            let next = (0..n).filter(|&v| !settled[v]).filter_map(|v| cost[v].map(|c| (c, v))).min();
            let (c, u) = next?;
            if u == to {
                break;
            }
            settled[u] = true;
            if u != from && !can_relay(u) {
                continue; // reachable, but may not pass key on
            }
            for &(v, link, latency) in &self.adjacent[u] {
                if settled[v] || !usable(link) {
                    continue;
                }
                let through = PathCost { hops: c.hops + 1, latency_ns: c.latency_ns + latency };
                let better = match (cost[v], previous[v]) {
                    (None, _) => true,
                    (Some(old), Some((p, _))) => through < old || (through == old && u < p),
                    (Some(old), None) => through < old,
                };
                if better {
                    cost[v] = Some(through);
                    previous[v] = Some((u, link));
                }
            }
        }
        let mut nodes = vec![to];
        let mut links = Vec::new();
        let mut at = to;
        while let Some((p, link)) = previous[at] {
            nodes.push(p);
            links.push(link);
            at = p;
        }
        nodes.reverse();
        links.reverse();
        Some(Route { nodes, links, latency_ns: cost[to].expect("reached").latency_ns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square 0-1-2-3-0 with a diagonal 0-2 (latencies in ns).
    fn square() -> Graph {
        Graph::new(4, &[(0, 1, 10), (1, 2, 10), (2, 3, 10), (3, 0, 10), (0, 2, 100)])
    }

    #[test]
    fn fewer_hops_beat_lower_latency() {
        // 0-2 directly (1 hop, 100 ns) against 0-1-2 (2 hops, 20 ns).
        let r = square().shortest(0, 2, |_| true, |_| true).unwrap();
        assert_eq!((r.nodes.clone(), r.links.clone(), r.latency_ns), (vec![0, 2], vec![4], 100));
        assert_eq!(r.hops(), 1);
        assert!(r.relays().is_empty());
    }

    #[test]
    fn equal_hops_are_separated_by_latency() {
        // Without the diagonal, 1 → 3 goes 1-0-3 (20 ns) or 1-2-3 (20 + 5 ns).
        let g = Graph::new(4, &[(0, 1, 10), (1, 2, 15), (2, 3, 10), (3, 0, 10)]);
        let r = g.shortest(1, 3, |_| true, |_| true).unwrap();
        assert_eq!(r.nodes, vec![1, 0, 3]);
        assert_eq!(r.latency_ns, 20);
    }

    #[test]
    fn equal_cost_paths_take_the_predecessor_of_smallest_index() {
        // 1 → 3 via 0 or via 2, both 2 hops and 20 ns: the relay of smallest index wins, in
        // either link order.
        let g = Graph::new(4, &[(0, 1, 10), (1, 2, 10), (2, 3, 10), (3, 0, 10)]);
        assert_eq!(g.shortest(1, 3, |_| true, |_| true).unwrap().nodes, vec![1, 0, 3]);
        let g = Graph::new(4, &[(2, 3, 10), (1, 2, 10), (3, 0, 10), (0, 1, 10)]);
        assert_eq!(g.shortest(1, 3, |_| true, |_| true).unwrap().nodes, vec![1, 0, 3]);
        // The other way round the same rule applies to the last relay before 1.
        assert_eq!(g.shortest(3, 1, |_| true, |_| true).unwrap().nodes, vec![3, 0, 1]);
    }

    #[test]
    fn unusable_links_and_forbidden_relays_are_avoided() {
        let g = square();
        // Without the diagonal: two hops through 1 or 3 (tie: 1).
        let r = g.shortest(0, 2, |l| l != 4, |_| true).unwrap();
        assert_eq!(r.nodes, vec![0, 1, 2]);
        // 1 may not relay: through 3.
        let r = g.shortest(0, 2, |l| l != 4, |n| n != 1).unwrap();
        assert_eq!(r.nodes, vec![0, 3, 2]);
        // Neither may: no path.
        assert_eq!(g.shortest(0, 2, |l| l != 4, |n| n != 1 && n != 3), None);
        // The ends themselves need not be allowed to relay.
        assert_eq!(g.shortest(0, 2, |_| true, |n| n != 0 && n != 2).unwrap().nodes, vec![0, 2]);
    }

    #[test]
    fn a_forbidden_relay_is_not_crossed_even_when_it_is_the_only_way() {
        // A line 0-1-2: with 1 forbidden, 0 and 2 are cut off; 0-1 still works.
        let g = Graph::new(3, &[(0, 1, 5), (1, 2, 5)]);
        assert_eq!(g.shortest(0, 2, |_| true, |n| n != 1), None);
        assert_eq!(g.shortest(0, 1, |_| true, |n| n != 1).unwrap().nodes, vec![0, 1]);
    }

    #[test]
    fn the_path_is_the_cheapest_of_all_simple_paths() {
        // Against exhaustive enumeration on a small irregular graph, every pair, with one
        // relay forbidden.
        let links = [(0, 1, 7), (1, 2, 3), (2, 3, 9), (3, 4, 1), (4, 0, 4), (1, 3, 20), (0, 2, 30), (2, 4, 2)];
        let g = Graph::new(5, &links);
        let forbidden = 4;
        fn all_paths(
            links: &[(usize, usize, u64)],
            at: usize,
            to: usize,
            seen: &mut Vec<usize>,
            forbidden: usize,
            out: &mut Vec<PathCost>,
            cost: PathCost,
        ) {
            if at == to {
                out.push(cost);
                return;
            }
            if seen.len() > 1 && at == forbidden {
                return;
            }
            for &(a, b, l) in links {
                let next = if a == at {
                    b
                } else if b == at {
                    a
                } else {
                    continue;
                };
                if seen.contains(&next) {
                    continue;
                }
                seen.push(next);
                let c = PathCost { hops: cost.hops + 1, latency_ns: cost.latency_ns + l };
                all_paths(links, next, to, seen, forbidden, out, c);
                seen.pop();
            }
        }
        for from in 0..5 {
            for to in 0..5 {
                if from == to {
                    continue;
                }
                let mut costs = Vec::new();
                all_paths(
                    &links,
                    from,
                    to,
                    &mut vec![from],
                    forbidden,
                    &mut costs,
                    PathCost { hops: 0, latency_ns: 0 },
                );
                let best = costs.into_iter().min();
                let found = g.shortest(from, to, |_| true, |n| n != forbidden);
                let found_cost = found.as_ref().map(|r| PathCost { hops: r.hops() as u32, latency_ns: r.latency_ns });
                assert_eq!(found_cost, best, "{from} -> {to}: {found:?}");
                if let Some(r) = found {
                    assert!(!r.relays().contains(&forbidden), "{r:?}");
                }
            }
        }
    }
}
