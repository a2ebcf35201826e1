//! Budgets that bound a render's memory by design (issue 16): hostile width or alias
//! expansion fails with exit 2 naming the limit, before the memory is allocated, never with an
//! abort or an OOM kill.
//!
//! What a render holds is the input text (read once per file) and the trees parsed from it.
//! A tree costs per node: its slot (`size_of::<Node>()` = 56 bytes; a mapping entry, key and
//! value, is 112), the heap block of its text (≥ 32 bytes for a non-empty scalar), the parser's
//! transient stacks and duplicate-key index, and what the stages and the emitter build from it.
//! Measured over a whole debug render (`/usr/bin/time -v`, see docs/robustness.md): ≈ 140–155
//! bytes per node at the peak for the widest shape (a ConfigMap with 1–2 M keys), ≈ 75 bytes per
//! node for the corpus. Without aliases a node costs at least 2 bytes of input (`-\n`, `a,`),
//! so the text does not bound the tree: the node count must be bounded itself. Three budgets:
//!
//! - [`MAX_INPUT_BYTES`] per render (sum of the files' sizes), checked from the listing before a
//!   byte is read, and again on every read (a file read never exceeds its `fstat` size);
//! - [`MAX_NODES`] per render: every node of every file, alias expansions included, counted
//!   while parsing on one counter shared by the parser threads (each adds its count every
//!   16,384 nodes, so counting costs an add and a compare per node);
//! - alias expansion per file at most [`ALIAS_FACTOR`] × the file's own nodes, and at least
//!   [`ALIAS_FLOOR`] (the per-document cap [`crate::yaml::MAX_ALIAS_NODES`] still applies): a
//!   file's tree is never more than 5× the nodes its text spells out, whatever its number of
//!   documents.
//!
//! With both render budgets full (4 M nodes, 128 MiB), a render stays under 1 GiB of address
//! space (`ulimit -v 1048576`); the real openDesk render is 270,000 nodes and 10 MB, the 10×
//! replicated corpus 2.7 M nodes and 100 MiB.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Most input bytes one render reads (sum of the sizes of its YAML files): 128 MiB, 12× a full
/// openDesk render (10.5 MB) and above the 10× replicated corpus (100 MiB).
pub const MAX_INPUT_BYTES: u64 = 128 << 20;

/// Most bytes of one config-like file: the instance config, the release graph, a patch file,
/// a fixture's meta, an output tree's `render-meta.yaml`, a step's `runtime-state.json`:
/// 16 MiB, far above any such file of an openDesk instance (the bundled patch set's biggest
/// file is 2.4 KB, the release graph 9 KB, the example config 7 KB), and small enough that a
/// mistaken `--config` (a disk image, a log) is refused without being read.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A size bound on reading one file ([`crate::fsio::read_regular_into_max`]): its value, and
/// the name and the files docs/robustness.md gives it, for the message of a file over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileLimit {
    /// The constant's name (`MAX_CONFIG_BYTES`).
    pub name: &'static str,
    /// Most bytes.
    pub bytes: u64,
    /// What files it bounds, for the message (`a config-like file`).
    pub what: &'static str,
}

/// The bound of one config-like file: [`MAX_CONFIG_BYTES`].
pub const CONFIG_FILE: FileLimit =
    FileLimit { name: "MAX_CONFIG_BYTES", bytes: MAX_CONFIG_BYTES, what: "a config-like file" };

/// The bound of one data file (an input document file, a CRD file, a `--previous-secrets`
/// payload, a file of a tree `diff`, `plan` or `push` reads, a file `validate` checks):
/// [`MAX_INPUT_BYTES`]; the input of a render is bounded by it as a whole too.
pub const INPUT_FILE: FileLimit = FileLimit { name: "MAX_INPUT_BYTES", bytes: MAX_INPUT_BYTES, what: "one data file" };

/// Most YAML nodes one render builds (scalars, collections and mapping keys of every file,
/// alias expansions included): 4,000,000, 15× a full openDesk render (270,776) and 1.5× the
/// 10× replicated corpus; ≈ 600 MB at the measured ≈ 150 bytes per node.
pub const MAX_NODES: usize = 4_000_000;

/// Alias expansion in one file may add at most this many times the nodes the file itself
/// spells out (its own nodes so far, counted while parsing)…
pub const ALIAS_FACTOR: usize = 4;

/// …and always at least this many (the per-document cap, so a small file keeps it).
pub const ALIAS_FLOOR: usize = crate::yaml::MAX_ALIAS_NODES;

/// Nodes a parser counts before it adds them to the shared counter.
const CHUNK: usize = 1 << 14;

/// Which budget was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`MAX_INPUT_BYTES`].
    InputBytes,
    /// [`MAX_NODES`].
    Nodes,
    /// [`ALIAS_FACTOR`] / [`ALIAS_FLOOR`].
    FileAliasNodes,
}

impl Limit {
    /// The limit's name, as messages and docs/robustness.md spell it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::InputBytes => "MAX_INPUT_BYTES",
            Limit::Nodes => "MAX_NODES",
            Limit::FileAliasNodes => "ALIAS_FACTOR",
        }
    }
}

/// A budget hit while parsing one text, with its 1-based position in that text (0 = none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    /// Which budget.
    pub limit: Limit,
    /// The budget's value when it was hit (nodes).
    pub value: u64,
    /// The file's own nodes so far ([`Limit::FileAliasNodes`]; 0 otherwise).
    pub own: u64,
    /// 1-based line in the text (0 = unknown).
    pub line: usize,
    /// 1-based column (0 = unknown).
    pub col: usize,
}

impl LimitHit {
    /// What happened, for a message after `file:line:col: `; names the limit and its value and
    /// what to do.
    pub fn describe(&self) -> String {
        match self.limit {
            Limit::Nodes => format!(
                "more than {} YAML nodes in this render (limit {} = {} nodes per render, counted over every file, alias \
                 expansions included; a full openDesk render has ~270,000): refusing to build a tree that large. Check \
                 that this is the input you meant, or render fewer releases at a time (--module)",
                self.value,
                self.limit.name(),
                self.value
            ),
            Limit::FileAliasNodes => format!(
                "alias expansion in this file exceeds {} nodes (limit {} = {ALIAS_FACTOR} × the file's own {} nodes, at \
                 least {ALIAS_FLOOR}; possible \"billion laughs\" input): write the repeated content out or split the \
                 file",
                self.value,
                self.limit.name(),
                self.own
            ),
            Limit::InputBytes => format!(
                "more than {} bytes of input (limit {} = {} bytes per render)",
                self.value,
                self.limit.name(),
                self.value
            ),
        }
    }
}

/// The budgets of one render, shared by the threads that load its files.
#[derive(Debug)]
pub struct RenderBudget {
    nodes: AtomicUsize,
    max_nodes: usize,
    bytes: AtomicU64,
    max_bytes: u64,
}

impl Default for RenderBudget {
    fn default() -> Self {
        RenderBudget::new(MAX_NODES, MAX_INPUT_BYTES)
    }
}

impl RenderBudget {
    /// Budgets of `max_nodes` nodes and `max_bytes` input bytes ([`Default`]: [`MAX_NODES`],
    /// [`MAX_INPUT_BYTES`]).
    pub fn new(max_nodes: usize, max_bytes: u64) -> Self {
        RenderBudget { nodes: AtomicUsize::new(0), max_nodes, bytes: AtomicU64::new(0), max_bytes }
    }

    /// The node budget.
    pub fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    /// The input byte budget.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Nodes counted so far (by files still being parsed: up to their last flush).
    pub fn nodes_used(&self) -> usize {
        self.nodes.load(Ordering::Relaxed)
    }

    /// Account for `n` input bytes; `false` (and nothing counted) when they do not fit.
    pub fn take_bytes(&self, n: u64) -> bool {
        let mut cur = self.bytes.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&x| x <= self.max_bytes) else { return false };
            match self.bytes.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(c) => cur = c,
            }
        }
    }

    /// The budget of one file of this render.
    pub fn file(&self) -> FileBudget<'_> {
        FileBudget { render: self, seen: self.nodes_used(), local: 0, own: 0, alias: 0 }
    }
}

/// The node budget of one file: nodes are counted locally and added to the render's shared
/// counter every [`CHUNK`] nodes, at the end of the file, and whenever the local count plus the
/// shared count last seen would pass the budget. Only counted nodes are ever added, so the
/// budget is exact: a render of `max` nodes passes, one more fails (threads parsing at once
/// see each other's counts up to [`CHUNK`] nodes late, so one of them may build that many
/// more before it stops).
#[derive(Debug)]
pub struct FileBudget<'a> {
    render: &'a RenderBudget,
    /// The shared count at the last flush.
    seen: usize,
    /// Counted since the last flush.
    local: usize,
    own: usize,
    alias: usize,
}

impl FileBudget<'_> {
    /// Count `n` nodes on the render's budget.
    #[inline]
    fn count(&mut self, n: usize, line: usize, col: usize) -> Result<(), LimitHit> {
        self.local += n;
        if self.local < CHUNK && self.seen + self.local <= self.render.max_nodes {
            return Ok(());
        }
        self.flush(line, col)
    }

    /// Add the local count to the shared one; a hit when the sum passes the budget.
    #[cold]
    fn flush(&mut self, line: usize, col: usize) -> Result<(), LimitHit> {
        let n = std::mem::take(&mut self.local);
        self.seen = self.render.nodes.fetch_add(n, Ordering::Relaxed) + n;
        if self.seen > self.render.max_nodes {
            return Err(self.full_at(line, col));
        }
        Ok(())
    }

    fn full_at(&self, line: usize, col: usize) -> LimitHit {
        LimitHit { limit: Limit::Nodes, value: self.render.max_nodes as u64, own: 0, line, col }
    }

    /// Add what is left to the render's count: a hit when the file's last nodes pass the
    /// budget. (Dropping the budget adds them too, without the check.)
    pub fn finish(mut self) -> Result<(), LimitHit> {
        self.flush(0, 0)
    }

    /// Count `n` nodes the file's text spells out, at `line`:`col` of the text being parsed.
    #[inline]
    pub fn own(&mut self, n: usize, line: usize, col: usize) -> Result<(), LimitHit> {
        self.own += n;
        self.count(n, line, col)
    }

    /// Count `n` nodes an alias adds (a copy of its anchor), before they are copied.
    pub fn alias(&mut self, n: usize, line: usize, col: usize) -> Result<(), LimitHit> {
        self.alias += n;
        let allowed = (self.own.saturating_mul(ALIAS_FACTOR)).max(ALIAS_FLOOR);
        if self.alias > allowed {
            return Err(LimitHit {
                limit: Limit::FileAliasNodes,
                value: allowed as u64,
                own: self.own as u64,
                line,
                col,
            });
        }
        self.count(n, line, col)
    }

    /// The counts so far, for [`FileBudget::rewind`].
    pub fn mark(&self) -> BudgetMark {
        BudgetMark { own: self.own, alias: self.alias }
    }

    /// Forget what was counted since `m` (a parse attempt whose nodes were dropped): the local
    /// count, and what was flushed since (given back to the shared count).
    pub fn rewind(&mut self, m: BudgetMark) {
        let now = self.own + self.alias;
        let since = now.saturating_sub(m.own + m.alias);
        let from_local = since.min(self.local);
        self.local -= from_local;
        let flushed = since - from_local;
        if flushed > 0 {
            self.seen = self.render.nodes.fetch_sub(flushed, Ordering::Relaxed) - flushed;
        }
        self.own = m.own;
        self.alias = m.alias;
    }

    /// The hit of a parser that counted on its own and found more nodes than [`FileBudget::room`]
    /// (at `line`, column unknown).
    pub fn full(&self, line: usize) -> LimitHit {
        self.full_at(line, 0)
    }

    /// How many nodes a parser that counts on its own (the fast path) may build now.
    pub fn room(&self) -> usize {
        self.render.max_nodes.saturating_sub(self.render.nodes.load(Ordering::Relaxed) + self.local)
    }
}

/// A point to go back to: [`FileBudget::mark`].
#[derive(Debug, Clone, Copy)]
pub struct BudgetMark {
    own: usize,
    alias: usize,
}

impl Drop for FileBudget<'_> {
    fn drop(&mut self) {
        if self.local > 0 {
            self.render.nodes.fetch_add(self.local, Ordering::Relaxed);
        }
    }
}

/// The elements of `stack` from `start` on, as their own exact-size `Vec`: the children of a
/// collection the parsers just closed. A wide collection (4,096 children and more) takes the
/// stack's buffer itself, shrunk in place, and the few elements below it move to a new stack:
/// collecting it into a fresh `Vec` would hold the wide part twice (1.99 M flow-map entries:
/// 223 MB on top of the stack's 235, the allocation that failed under a 1 GiB cap).
pub(crate) fn take_tail<T>(stack: &mut Vec<T>, start: usize) -> Vec<T> {
    if stack.len() - start < 4096 {
        return stack.drain(start..).collect();
    }
    let mut tail = std::mem::take(stack);
    stack.extend(tail.drain(..start));
    tail.shrink_to_fit();
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_counted_across_files_exactly() {
        let r = RenderBudget::new(100_000, 10);
        let mut a = r.file();
        let mut b = r.file();
        for _ in 0..60_000 {
            a.own(1, 1, 1).unwrap();
        }
        assert!(b.room() <= 40_000 + CHUNK, "{}", b.room());
        b.own(30_000, 1, 1).unwrap();
        a.finish().unwrap();
        assert_eq!(b.room(), 10_000);
        let m = b.mark();
        b.own(5_000, 1, 1).unwrap();
        b.rewind(m);
        assert_eq!(b.room(), 10_000);
        b.own(10_000, 1, 1).unwrap();
        // `b` saw the shared count before `a` finished: it may be late by up to a chunk, and
        // its end is exact.
        b.own(1, 7, 3).unwrap();
        let e = b.finish().unwrap_err();
        assert_eq!((e.limit, e.value, e.line, e.col), (Limit::Nodes, 100_000, 0, 0));
        assert_eq!(r.nodes_used(), 100_001, "only counted nodes are added");
        let mut c = r.file();
        let e = c.own(1, 7, 3).unwrap_err();
        assert_eq!((e.line, e.col), (7, 3), "a fresh file sees the count at once");
        assert!(r.take_bytes(10) && !r.take_bytes(1));
    }

    #[test]
    fn take_tail_keeps_order_and_the_rest_of_the_stack() {
        for (len, start) in [(10, 3), (5000, 0), (5000, 3), (9000, 4000)] {
            let mut v: Vec<usize> = (0..len).collect();
            let t = take_tail(&mut v, start);
            assert_eq!(v, (0..start).collect::<Vec<_>>());
            assert_eq!(t, (start..len).collect::<Vec<_>>());
            assert_eq!(t.capacity(), t.len());
        }
    }

    #[test]
    fn alias_expansion_is_bounded_by_the_files_own_nodes() {
        let r = RenderBudget::default();
        let mut f = r.file();
        f.own(1_000, 1, 1).unwrap();
        f.alias(ALIAS_FLOOR, 2, 1).unwrap();
        let e = f.alias(1, 3, 5).unwrap_err();
        assert_eq!((e.limit, e.value, e.own), (Limit::FileAliasNodes, ALIAS_FLOOR as u64, 1_000));
        let mut g = r.file();
        g.own(50_000, 1, 1).unwrap();
        g.alias(4 * 50_000, 2, 1).unwrap();
        assert_eq!(g.alias(1, 2, 1).unwrap_err().value, 200_000);
        assert!(e.describe().contains("ALIAS_FACTOR = 4 × the file's own 1000 nodes"), "{}", e.describe());
    }
}
