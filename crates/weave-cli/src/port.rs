//! `weave port PATH [--fix]`: finds the std (and crossbeam-channel) items a
//! crate uses that weave replaces, says what to use instead and why, and
//! with `--fix` rewrites the `use` lines (and `thread_local!` / `select!`
//! invocations) it can.
//!
//! A program that keeps `std::sync::Mutex`, `std::thread::sleep` or
//! `std::thread_local!` on weave compiles and runs, but blocks a whole LWP
//! or shares "per-thread" data between the ULTs of one LWP. This scan makes
//! that visible. It reads the sources with `syn` (so a `use` tree spread
//! over lines, nested groups, renames and `self` are understood as the
//! compiler does) and rewrites text only inside the spans it changes, so
//! comments and formatting elsewhere stay as they were.
//!
//! What it knows is the table [`RULES`]; what it cannot see is types: a
//! `let g = m.lock()` is only taken for a std guard in a file that names a
//! std lock. It never touches code it does not understand: full paths in
//! code (`std::thread::sleep(..)` inside a body), globs, and calls of a std
//! module it cannot swap whole (`io::stdin()` with `use std::io;`) are
//! listed for a person to change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// The options of `weave port`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A crate directory (its src/, tests/, examples/ and benches/ are
    /// read) or one Rust file
    path: PathBuf,
    /// Rewrite the `use` lines (and `thread_local!`, `select!`) that can
    /// be moved to weave; list the rest
    #[arg(long)]
    fix: bool,
}

/// One std item weave replaces.
struct Rule {
    /// The std path, as segments joined by `::`.
    std: &'static str,
    /// The weave path that replaces it.
    weave: &'static str,
    /// Why, in a few words.
    why: &'static str,
    /// A module: `use` of it moves whole when every name the file takes
    /// from it is in `names`, the public names of the weave module.
    names: Option<&'static [&'static str]>,
}

const ULT: &str = "blocks only the ULT, not its LWP";
const SPAWN: &str = "a ULT, not a kernel thread";
const LOCK: &str = "waits block only the ULT; a std lock blocks the LWP and can freeze it for good";
const CHAN: &str = "send/recv block only the ULT";
const IO: &str = "blocks only the ULT (the reactor wakes it)";
const FS: &str = "runs on the blocking pool, so it blocks only the ULT";

const THREAD_NAMES: &[&str] = &[
    "spawn",
    "sleep",
    "sleep_until",
    "scope",
    "Scope",
    "ScopedJoinHandle",
    "Builder",
    "park",
    "park_timeout",
    "yield_now",
    "current",
    "JoinHandle",
    "Thread",
    "ThreadId",
    "LocalKey",
    "AccessError",
];
const MPSC_NAMES: &[&str] = &[
    "channel",
    "sync_channel",
    "Sender",
    "SyncSender",
    "Receiver",
    "Iter",
    "TryIter",
    "IntoIter",
    "RecvError",
    "RecvTimeoutError",
    "SendError",
    "TryRecvError",
    "TrySendError",
];
const NET_NAMES: &[&str] = &[
    "TcpListener",
    "TcpStream",
    "UdpSocket",
    "Incoming",
    "AddrParseError",
    "IpAddr",
    "Ipv4Addr",
    "Ipv6Addr",
    "Shutdown",
    "SocketAddr",
    "SocketAddrV4",
    "SocketAddrV6",
    "ToSocketAddrs",
];
const UNIX_NET_NAMES: &[&str] = &[
    "UnixListener",
    "UnixStream",
    "UnixDatagram",
    "Incoming",
    "SocketAddr",
];
const FS_NAMES: &[&str] = &[
    "read",
    "read_to_string",
    "write",
    "copy",
    "rename",
    "remove_file",
    "remove_dir",
    "remove_dir_all",
    "create_dir",
    "create_dir_all",
    "metadata",
    "symlink_metadata",
    "canonicalize",
    "hard_link",
    "read_link",
    "exists",
    "set_permissions",
    "read_dir",
    "ReadDir",
    "File",
    "OpenOptions",
    "DirEntry",
    "FileType",
    "Metadata",
    "Permissions",
];
const MPMC_NAMES: &[&str] = &[
    "bounded",
    "unbounded",
    "Sender",
    "Receiver",
    "Iter",
    "TryIter",
    "IntoIter",
    "RecvError",
    "RecvTimeoutError",
    "SendError",
    "SendTimeoutError",
    "TryRecvError",
    "TrySendError",
    "select",
];

macro_rules! rules {
    ($($std:literal => $weave:literal, $why:expr $(, $names:expr)?;)*) => {
        &[$(Rule { std: $std, weave: $weave, why: $why, names: rules!(@names $($names)?) }),*]
    };
    (@names) => { None };
    (@names $names:expr) => { Some($names) };
}

/// Every std item weave replaces. Longer paths first is not needed: a
/// path matches the rule whose `std` is its longest prefix.
const RULES: &[Rule] = rules! {
    "std::thread" => "weave::thread", "weave's threads are ULTs", THREAD_NAMES;
    "std::thread::spawn" => "weave::thread::spawn", SPAWN;
    "std::thread::Builder" => "weave::thread::Builder", SPAWN;
    "std::thread::scope" => "weave::thread::scope", SPAWN;
    "std::thread::Scope" => "weave::thread::Scope", SPAWN;
    "std::thread::ScopedJoinHandle" => "weave::thread::ScopedJoinHandle", "joins a ULT";
    "std::thread::JoinHandle" => "weave::thread::JoinHandle", "joins a ULT";
    "std::thread::sleep" => "weave::thread::sleep", ULT;
    "std::thread::park" => "weave::thread::park", ULT;
    "std::thread::park_timeout" => "weave::thread::park_timeout", ULT;
    "std::thread::yield_now" => "weave::thread::yield_now", "yields to the next ULT, not to the kernel";
    "std::thread::current" => "weave::thread::current", "names the ULT, not its LWP";
    "std::thread_local" => "weave::thread_local", "per ULT; std's is per LWP, shared by the ULTs placed on it";
    "std::sync::Mutex" => "weave::sync::Mutex", LOCK;
    "std::sync::MutexGuard" => "weave::sync::MutexGuard", LOCK;
    "std::sync::RwLock" => "weave::sync::RwLock", LOCK;
    "std::sync::RwLockReadGuard" => "weave::sync::RwLockReadGuard", LOCK;
    "std::sync::RwLockWriteGuard" => "weave::sync::RwLockWriteGuard", LOCK;
    "std::sync::Condvar" => "weave::sync::Condvar", ULT;
    "std::sync::Barrier" => "weave::sync::Barrier", ULT;
    "std::sync::Once" => "weave::sync::Once", "a waiter blocks only its ULT";
    "std::sync::OnceLock" => "weave::sync::OnceLock", "a waiter blocks only its ULT";
    "std::sync::LazyLock" => "weave::sync::LazyLock", "a waiter blocks only its ULT";
    "std::sync::mpsc" => "weave::sync::mpsc", CHAN, MPSC_NAMES;
    "std::net" => "weave::net", IO, NET_NAMES;
    "std::net::TcpListener" => "weave::net::TcpListener", IO;
    "std::net::TcpStream" => "weave::net::TcpStream", IO;
    "std::net::UdpSocket" => "weave::net::UdpSocket", IO;
    "std::os::unix::net" => "weave::os::unix::net", IO, UNIX_NET_NAMES;
    "std::os::unix::net::UnixListener" => "weave::os::unix::net::UnixListener", IO;
    "std::os::unix::net::UnixStream" => "weave::os::unix::net::UnixStream", IO;
    "std::os::unix::net::UnixDatagram" => "weave::os::unix::net::UnixDatagram", IO;
    "std::fs" => "weave::fs", FS, FS_NAMES;
    "std::fs::File" => "weave::fs::File", FS;
    "std::fs::OpenOptions" => "weave::fs::OpenOptions", FS;
    "std::fs::read" => "weave::fs::read", FS;
    "std::fs::read_to_string" => "weave::fs::read_to_string", FS;
    "std::fs::write" => "weave::fs::write", FS;
    "std::fs::read_dir" => "weave::fs::read_dir", FS;
    "std::fs::copy" => "weave::fs::copy", FS;
    "std::fs::rename" => "weave::fs::rename", FS;
    "std::fs::remove_file" => "weave::fs::remove_file", FS;
    "std::fs::remove_dir" => "weave::fs::remove_dir", FS;
    "std::fs::remove_dir_all" => "weave::fs::remove_dir_all", FS;
    "std::fs::create_dir" => "weave::fs::create_dir", FS;
    "std::fs::create_dir_all" => "weave::fs::create_dir_all", FS;
    "std::fs::metadata" => "weave::fs::metadata", FS;
    "std::fs::symlink_metadata" => "weave::fs::symlink_metadata", FS;
    "std::fs::canonicalize" => "weave::fs::canonicalize", FS;
    "std::fs::hard_link" => "weave::fs::hard_link", FS;
    "std::fs::read_link" => "weave::fs::read_link", FS;
    "std::fs::exists" => "weave::fs::exists", FS;
    "std::fs::set_permissions" => "weave::fs::set_permissions", FS;
    "std::io::stdin" => "weave::io::stdin", "reads block only the ULT";
    "std::io::stdout" => "weave::io::stdout", "writes block only the ULT";
    "std::io::stderr" => "weave::io::stderr", "writes block only the ULT";
    "std::process::Command" => "weave::process::Command", "waiting for the child blocks only the ULT";
    "crossbeam_channel" => "weave::sync::mpmc", CHAN, MPMC_NAMES;
    "crossbeam_channel::select" => "weave::select", "selects block only the ULT";
};

/// The rule for `path` (segments), matched on the longest `std` prefix.
fn rule_for(path: &[String]) -> Option<(&'static Rule, usize)> {
    RULES
        .iter()
        .filter_map(|r| {
            let n = r.std.split("::").count();
            let hit = path.len() >= n && r.std.split("::").zip(path).all(|(a, b)| a == b);
            hit.then_some((r, n))
        })
        .max_by_key(|&(_, n)| n)
}

/// Runs `weave port`.
pub fn run(args: &Args) -> Result<(), String> {
    let files = sources(&args.path)?;
    let mut listed = 0;
    let mut by_hand = 0;
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("port: cannot read {}: {e}", file.display()))?;
        let shown = file.display().to_string();
        let mut scan = match Scan::of(&text) {
            Ok(scan) => scan,
            Err(e) => {
                let at = e.span().start();
                println!("{shown}:{}: cannot parse ({e}); skipped", at.line);
                continue;
            }
        };
        if args.fix {
            let fixed = scan.fixed(&text);
            if fixed != text {
                std::fs::write(file, &fixed)
                    .map_err(|e| format!("port: cannot write {}: {e}", file.display()))?;
                println!("{shown}: rewrote {} place(s)", scan.edits.len());
                scan = Scan::of(&fixed)
                    .map_err(|e| format!("port: {shown} no longer parses after --fix: {e}"))?;
            }
        }
        for f in &scan.findings {
            listed += 1;
            by_hand += usize::from(f.by_hand.is_some());
            println!("{shown}:{}", f.render());
        }
    }
    let fixable = listed - by_hand;
    println!(
        "{listed} use(s) of std items weave replaces in {} file(s): {fixable} for --fix, {by_hand} by hand",
        files.len()
    );
    Ok(())
}

/// The Rust files of a crate directory (src/, tests/, examples/,
/// benches/), or `path` itself if it is a file; sorted.
fn sources(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    if !path.is_dir() {
        return Err(format!("port: no file or directory {}", path.display()));
    }
    let mut out = Vec::new();
    let mut found = false;
    for sub in ["src", "tests", "examples", "benches"] {
        let dir = path.join(sub);
        if dir.is_dir() {
            found = true;
            walk(&dir, &mut out)
                .map_err(|e| format!("port: cannot read {}: {e}", dir.display()))?;
        }
    }
    if !found {
        return Err(format!(
            "port: {} has no src/, tests/, examples/ or benches/: give a crate directory or a .rs file",
            path.display()
        ));
    }
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// One line of the listing.
#[derive(Debug)]
struct Finding {
    line: usize,
    item: String,
    replacement: String,
    why: String,
    /// Why `--fix` leaves it; `None` when `--fix` rewrites it.
    by_hand: Option<String>,
}

impl Finding {
    fn render(&self) -> String {
        let mut s = format!(
            "{}: {} -> {} ({})",
            self.line, self.item, self.replacement, self.why
        );
        match &self.by_hand {
            None => s.push_str(" [--fix]"),
            Some(reason) => {
                let _ = write!(s, " [by hand: {reason}]");
            }
        }
        s
    }
}

/// A replacement of the text between two byte offsets.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// What one file uses, what it should use, and the edits `--fix` makes.
struct Scan {
    findings: Vec<Finding>,
    edits: Vec<Edit>,
}

impl Scan {
    fn of(text: &str) -> syn::Result<Scan> {
        let file = syn::parse_file(text)?;
        let mut c = Collect::default();
        c.visit_file(&file);
        let lines = LineIndex::new(text);
        Ok(analyse(&c, &lines, text))
    }

    /// `text` with every edit applied.
    fn fixed(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut edits: Vec<&Edit> = self.edits.iter().collect();
        edits.sort_by_key(|e| std::cmp::Reverse(e.start));
        for e in edits {
            out.replace_range(e.start..e.end, &e.text);
        }
        out
    }
}

/// One name a `use` item brings in: `std::sync::Mutex`, `... as M`,
/// a module (`self`), or a glob.
#[derive(Clone, Debug)]
struct Leaf {
    path: Vec<String>,
    rename: Option<String>,
    glob: bool,
    line: usize,
}

impl Leaf {
    /// The name it binds in the file.
    fn alias(&self) -> Option<&str> {
        if self.glob {
            return None;
        }
        self.rename
            .as_deref()
            .or(self.path.last().map(String::as_str))
    }
}

/// One `use` item: its leaves and where its text starts and ends.
struct UseItem {
    leaves: Vec<Leaf>,
    leading_colon: bool,
    /// Byte range from the visibility (or `use`) to the `;`.
    start: usize,
    /// Where `use` starts: the visibility is `start..use_at`.
    use_at: usize,
    end: usize,
    /// The item's attributes, repeated on each item `--fix` writes.
    attrs: String,
    indent: String,
}

/// A path in code (an expression, type, pattern or macro name).
struct CodePath {
    segs: Vec<String>,
    leading_colon: bool,
    line: usize,
    start: usize,
    end: usize,
    is_macro: bool,
}

/// `let g = x.lock()` (or `.read()`/`.write()`, unwrapped or not) and the
/// first call after it in the same block that waits.
struct HeldGuard {
    name: String,
    method: String,
    line: usize,
    wait: String,
    wait_line: usize,
}

#[derive(Default)]
struct Collect {
    uses: Vec<UseItemRaw>,
    paths: Vec<RawPath>,
    guards: Vec<HeldGuard>,
}

/// A `use` item as found; turned into a [`UseItem`] once the text's line
/// index is at hand.
struct UseItemRaw {
    leaves: Vec<Leaf>,
    leading_colon: bool,
    start: proc_macro2::LineColumn,
    end: proc_macro2::LineColumn,
    attrs: Option<(proc_macro2::LineColumn, proc_macro2::LineColumn)>,
    use_token: proc_macro2::LineColumn,
}

struct RawPath {
    segs: Vec<String>,
    leading_colon: bool,
    start: proc_macro2::LineColumn,
    end: proc_macro2::LineColumn,
    is_macro: bool,
}

impl Collect {
    fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Leaf>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                Self::flatten(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => out.push(Self::leaf(prefix, &n.ident, None, false)),
            syn::UseTree::Rename(r) => out.push(Self::leaf(
                prefix,
                &r.ident,
                Some(r.rename.to_string()),
                false,
            )),
            syn::UseTree::Glob(g) => out.push(Leaf {
                path: prefix.clone(),
                rename: None,
                glob: true,
                line: g.star_token.span.start().line,
            }),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    Self::flatten(t, prefix, out);
                }
            }
        }
    }

    fn leaf(prefix: &[String], ident: &syn::Ident, rename: Option<String>, glob: bool) -> Leaf {
        let mut path = prefix.to_vec();
        // `self` in a group names the group's module itself.
        if ident != "self" {
            path.push(ident.to_string());
        }
        Leaf {
            path,
            rename,
            glob,
            line: ident.span().start().line,
        }
    }

    fn push_path(&mut self, p: &syn::Path, is_macro: bool) {
        let Some(first) = p.segments.first() else {
            return;
        };
        let start = match &p.leading_colon {
            Some(c) => c.spans[0].start(),
            None => first.ident.span().start(),
        };
        let end = p.segments.last().map_or(start, |s| s.ident.span().end());
        self.paths.push(RawPath {
            segs: p.segments.iter().map(|s| s.ident.to_string()).collect(),
            leading_colon: p.leading_colon.is_some(),
            start,
            end,
            is_macro,
        });
    }
}

/// Calls after which a held std guard means trouble: each waits in weave
/// (or in the kernel), and while it waits the guard's lock is held by a
/// ULT that another ULT of the same LWP may need.
const WAITS: &[&str] = &[
    "sleep",
    "sleep_until",
    "join",
    "recv",
    "recv_timeout",
    "send",
    "park",
    "park_timeout",
    "yield_now",
    "wait",
    "wait_timeout",
    "wait_while",
    "scope",
    "accept",
    "read_line",
];

impl<'ast> Visit<'ast> for Collect {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        Self::flatten(&u.tree, &mut Vec::new(), &mut leaves);
        let start = match &u.vis {
            syn::Visibility::Inherited => u.use_token.span.start(),
            syn::Visibility::Public(p) => p.span.start(),
            syn::Visibility::Restricted(r) => r.pub_token.span.start(),
        };
        let attrs = match (u.attrs.first(), u.attrs.last()) {
            (Some(a), Some(b)) => Some((
                a.pound_token.span.start(),
                b.bracket_token.span.close().end(),
            )),
            _ => None,
        };
        self.uses.push(UseItemRaw {
            leaves,
            leading_colon: u.leading_colon.is_some(),
            start,
            end: u.semi_token.span.end(),
            attrs,
            use_token: u.use_token.span.start(),
        });
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.push_path(p, false);
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.push_path(&m.path, true);
        // The arguments of `println!`, `assert!` and most others are
        // expressions: read them so that a std call inside one is seen.
        use syn::parse::Parser;
        let exprs = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = exprs.parse2(m.tokens.clone()) {
            for e in &args {
                self.visit_expr(e);
            }
        }
        for s in m.path.segments.iter().skip(1) {
            visit::visit_path_arguments(self, &s.arguments);
        }
    }

    fn visit_block(&mut self, b: &'ast syn::Block) {
        for (i, stmt) in b.stmts.iter().enumerate() {
            if let Some((name, method, line)) = guard_binding(stmt) {
                if let Some((wait, wait_line)) = first_wait(&b.stmts[i + 1..], &name) {
                    self.guards.push(HeldGuard {
                        name,
                        method,
                        line,
                        wait,
                        wait_line,
                    });
                }
            }
        }
        visit::visit_block(self, b);
    }
}

/// `let NAME = EXPR.lock()` (also `.read()`, `.write()`, with any of
/// `.unwrap()`, `.expect(..)`, `?` after): the guard's name and line.
fn guard_binding(stmt: &syn::Stmt) -> Option<(String, String, usize)> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let name = match &local.pat {
        syn::Pat::Ident(p) => p.ident.to_string(),
        syn::Pat::Type(t) => match &*t.pat {
            syn::Pat::Ident(p) => p.ident.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    let mut e = &*local.init.as_ref()?.expr;
    loop {
        match e {
            syn::Expr::Try(t) => e = &t.expr,
            syn::Expr::MethodCall(m) if m.method == "unwrap" || m.method == "expect" => {
                e = &m.receiver
            }
            syn::Expr::MethodCall(m)
                if m.args.is_empty()
                    && ["lock", "read", "write"].contains(&&*m.method.to_string()) =>
            {
                return Some((name, m.method.to_string(), m.method.span().start().line));
            }
            _ => return None,
        }
    }
}

/// The first waiting call in `stmts` before `drop(name)`, and its line.
fn first_wait(stmts: &[syn::Stmt], name: &str) -> Option<(String, usize)> {
    struct Find<'n> {
        name: &'n str,
        dropped: bool,
        wait: Option<(String, usize)>,
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let syn::Expr::Path(p) = &*c.func {
                if let Some(last) = p.path.segments.last() {
                    let is_drop_of_guard = last.ident == "drop"
                        && c.args.len() == 1
                        && matches!(&c.args[0], syn::Expr::Path(a) if a.path.is_ident(self.name));
                    if is_drop_of_guard {
                        self.dropped = true;
                    } else if self.wait.is_none() && WAITS.contains(&&*last.ident.to_string()) {
                        self.wait = Some((last.ident.to_string(), last.ident.span().start().line));
                    }
                }
            }
            visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            visit::visit_expr_method_call(self, m);
            if self.wait.is_none() && WAITS.contains(&&*m.method.to_string()) {
                self.wait = Some((m.method.to_string(), m.method.span().start().line));
            }
        }
    }
    let mut f = Find {
        name,
        dropped: false,
        wait: None,
    };
    for s in stmts {
        f.visit_stmt(s);
        if f.wait.is_some() {
            return f.wait;
        }
        if f.dropped {
            return None;
        }
    }
    None
}

/// Byte offsets of line starts, to turn a span's line and column (in
/// chars) into a byte offset.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    fn offset(&self, at: proc_macro2::LineColumn) -> usize {
        let start = self.starts[at.line - 1];
        let line = &self.text[start..];
        start
            + line
                .char_indices()
                .nth(at.column)
                .map_or(line.len(), |(i, _)| i)
    }

    /// The blanks that open line `line`.
    fn indent(&self, line: usize) -> String {
        let rest = &self.text[self.starts[line - 1]..];
        rest.chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect()
    }
}

fn join(segs: &[String]) -> String {
    segs.join("::")
}

/// The std path a file-level name stands for: the path itself when it
/// starts at a crate root this scan watches, else through a `use` alias.
fn resolve(
    segs: &[String],
    leading_colon: bool,
    aliases: &[(String, &Leaf)],
) -> Option<Vec<String>> {
    let first = segs.first()?;
    if matches!(first.as_str(), "std" | "crossbeam_channel") {
        return Some(segs.to_vec());
    }
    if leading_colon {
        return None;
    }
    let (_, leaf) = aliases.iter().rev().find(|(a, _)| a == first)?;
    let mut full = leaf.path.clone();
    full.extend_from_slice(&segs[1..]);
    Some(full)
}

fn analyse(c: &Collect, lines: &LineIndex, text: &str) -> Scan {
    let uses: Vec<UseItem> = c
        .uses
        .iter()
        .map(|u| UseItem {
            leaves: u.leaves.clone(),
            leading_colon: u.leading_colon,
            start: lines.offset(u.start),
            use_at: lines.offset(u.use_token),
            end: lines.offset(u.end),
            attrs: u
                .attrs
                .map(|(a, b)| text[lines.offset(a)..lines.offset(b)].to_owned())
                .unwrap_or_default(),
            indent: lines.indent(u.start.line),
        })
        .collect();
    let paths: Vec<CodePath> = c
        .paths
        .iter()
        .map(|p| CodePath {
            segs: p.segs.clone(),
            leading_colon: p.leading_colon,
            line: p.start.line,
            start: lines.offset(p.start),
            end: lines.offset(p.end),
            is_macro: p.is_macro,
        })
        .collect();
    let aliases: Vec<(String, &Leaf)> = uses
        .iter()
        .flat_map(|u| &u.leaves)
        .filter_map(|l| Some((l.alias()?.to_owned(), l)))
        .collect();

    let mut findings = Vec::new();
    let mut edits = Vec::new();
    // Aliases whose `use` --fix moves to weave: their uses in code follow.
    let mut moved_aliases: Vec<String> = Vec::new();

    for u in &uses {
        let mut moved: Vec<Leaf> = Vec::new();
        let mut kept: Vec<Leaf> = Vec::new();
        for leaf in &u.leaves {
            let Some((rule, n)) = rule_for(&leaf.path) else {
                kept.push(leaf.clone());
                continue;
            };
            let exact = n == leaf.path.len();
            let item = join(&leaf.path);
            let weave_path = || {
                let mut p: Vec<String> = rule.weave.split("::").map(str::to_owned).collect();
                p.extend_from_slice(&leaf.path[n..]);
                p
            };
            let mut finding = Finding {
                line: leaf.line,
                item: if leaf.glob {
                    format!("{item}::*")
                } else {
                    item
                },
                replacement: join(&weave_path()),
                why: rule.why.to_owned(),
                by_hand: None,
            };
            let movable = if leaf.glob {
                finding.by_hand = Some("a glob import: name the items".into());
                false
            } else if let (true, Some(names)) = (exact, rule.names) {
                // A module: it moves only if weave's module has every
                // name this file takes from it.
                let alias = leaf.alias().unwrap_or_default();
                let mut missing: Vec<&str> = paths
                    .iter()
                    .filter(|p| !p.leading_colon && p.segs.len() > 1 && p.segs[0] == alias)
                    .map(|p| p.segs[1].as_str())
                    .filter(|name| !names.contains(name))
                    .collect();
                missing.sort_unstable();
                missing.dedup();
                if missing.is_empty() {
                    true
                } else {
                    finding.by_hand = Some(format!("{} has no {}", rule.weave, missing.join(", ")));
                    false
                }
            } else if exact {
                true
            } else if rule.names.is_none() {
                // `use std::thread::Builder::..`: inside an item.
                finding.by_hand = Some("an item inside a type: import the type".into());
                false
            } else if replaced_name(rule, &leaf.path[n]) {
                true
            } else {
                // `std::net::Ipv4Addr`: a plain type of a module weave
                // mirrors; std's stays.
                kept.push(leaf.clone());
                continue;
            };
            if movable {
                let mut m = leaf.clone();
                m.path = weave_path();
                if let Some(a) = leaf.alias() {
                    moved_aliases.push(a.to_owned());
                }
                moved.push(m);
            }
            findings.push(finding);
        }
        if !moved.is_empty() {
            let mut items = Vec::new();
            if !kept.is_empty() {
                items.push(render_use(&kept, u.leading_colon));
            }
            items.push(render_use(&moved, false));
            let vis = &text[u.start..u.use_at];
            let sep = if u.attrs.is_empty() {
                format!("\n{}", u.indent)
            } else {
                format!("\n{}{}\n{}", u.indent, u.attrs, u.indent)
            };
            let mut body = items
                .iter()
                .map(|i| format!("{vis}use {i};"))
                .collect::<Vec<_>>()
                .join(&sep);
            // Comments inside the old tree go above the new items, so
            // that nothing a person wrote is lost.
            let comments = comments_in(&text[u.start..u.end]);
            if !comments.is_empty() {
                let mut head = String::new();
                for c in comments {
                    let _ = write!(head, "{c}\n{}", u.indent);
                }
                body.insert_str(0, &head);
            }
            edits.push(Edit {
                start: u.start,
                end: u.end,
                text: body,
            });
        }
    }

    // The same span may be seen twice (a path inside a macro's arguments
    // is also a path of the expression): one finding each.
    let mut seen = std::collections::HashSet::new();
    let use_spans: Vec<(usize, usize)> = uses.iter().map(|u| (u.start, u.end)).collect();
    let local_thread_local = aliases.iter().any(|(a, _)| a == "thread_local");
    for p in &paths {
        if use_spans.iter().any(|&(s, e)| p.start >= s && p.end <= e) || !seen.insert(p.start) {
            continue;
        }
        // `thread_local!` unqualified is std's unless the file imports one.
        if p.is_macro && p.segs == ["thread_local"] && !local_thread_local {
            findings.push(Finding {
                line: p.line,
                item: "thread_local!".into(),
                replacement: "weave::thread_local!".into(),
                why: rule_for(&["std".into(), "thread_local".into()])
                    .map_or("", |(r, _)| r.why)
                    .into(),
                by_hand: None,
            });
            edits.push(Edit {
                start: p.start,
                end: p.end,
                text: "weave::thread_local".into(),
            });
            continue;
        }
        if !p.leading_colon && moved_aliases.contains(&p.segs[0]) {
            continue;
        }
        let Some(full) = resolve(&p.segs, p.leading_colon, &aliases) else {
            continue;
        };
        let Some((rule, n)) = rule_for(&full) else {
            continue;
        };
        match (rule.names, full.get(n)) {
            // The module itself (`thread` in `thread.join()` is a local).
            (Some(_), None) => continue,
            // `std::net::Ipv4Addr`, `thread::panicking`: nothing to replace.
            (Some(_), Some(name)) if !replaced_name(rule, name) => continue,
            _ => {}
        }
        let mut weave_path: Vec<String> = rule.weave.split("::").map(str::to_owned).collect();
        weave_path.extend_from_slice(&full[n..]);
        let direct = matches!(p.segs[0].as_str(), "std" | "crossbeam_channel");
        let suffix = if p.is_macro { "!" } else { "" };
        let mut finding = Finding {
            line: p.line,
            item: format!("{}{suffix}", join(&p.segs)),
            replacement: format!("{}{suffix}", join(&weave_path)),
            why: rule.why.to_owned(),
            by_hand: None,
        };
        if p.is_macro && direct {
            edits.push(Edit {
                start: p.start,
                end: p.end,
                text: join(&weave_path),
            });
        } else if direct {
            finding.by_hand = Some("named by its full path in code".into());
        } else {
            finding.by_hand = Some(format!(
                "`{}` is std's {} module, which weave does not replace whole",
                p.segs[0],
                join(&full[..full.len() - (p.segs.len() - 1)])
            ));
        }
        findings.push(finding);
    }

    // A std guard held across a wait: only where the file names a std lock.
    let std_lock = |path: &[String]| {
        matches!(
            join(path).as_str(),
            "std::sync::Mutex" | "std::sync::RwLock"
        ) || path.len() > 3
            && matches!(
                join(&path[..3]).as_str(),
                "std::sync::Mutex" | "std::sync::RwLock"
            )
    };
    let names_std_lock = uses
        .iter()
        .flat_map(|u| &u.leaves)
        .any(|l| std_lock(&l.path))
        || paths
            .iter()
            .filter_map(|p| resolve(&p.segs, p.leading_colon, &aliases))
            .any(|full| std_lock(&full));
    if names_std_lock {
        for g in &c.guards {
            findings.push(Finding {
                line: g.line,
                item: format!(
                    "a std lock guard `{}` (from .{}()) held across `{}` at line {}",
                    g.name, g.method, g.wait, g.wait_line
                ),
                replacement: "weave::sync locks, or drop the guard before waiting".into(),
                why: "a std lock held while its ULT waits can freeze the LWP for good".into(),
                by_hand: Some("the guard's scope is the program's logic".into()),
            });
        }
    }
    findings.sort_by_key(|f| f.line);
    Scan { findings, edits }
}

/// The `//` and `/* */` comments in the text of a `use` item (which holds
/// no string literals), each trimmed.
fn comments_in(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('/') {
        let tail = &rest[i..];
        let end = if tail.starts_with("//") {
            tail.find('\n').unwrap_or(tail.len())
        } else if tail.starts_with("/*") {
            tail.find("*/").map_or(tail.len(), |e| e + 2)
        } else {
            rest = &tail[1..];
            continue;
        };
        out.push(tail[..end].trim_end());
        rest = &tail[end..];
    }
    out
}

/// Modules whose every item weave has a twin of: an item of theirs
/// without a rule of its own is replaced too (`mpsc::Sender`).
const WHOLE: &[&str] = &["std::thread", "std::sync::mpsc", "crossbeam_channel"];

/// Whether `name`, an item of `rule`'s module with no rule of its own, is
/// replaced by weave's twin.
fn replaced_name(rule: &Rule, name: &str) -> bool {
    WHOLE.contains(&rule.std) && rule.names.is_some_and(|names| names.contains(&name))
}

/// A `use` tree for `leaves`, grouped by common prefixes in their order:
/// `std::sync::{Arc, atomic::AtomicUsize}`.
fn render_use(leaves: &[Leaf], leading_colon: bool) -> String {
    #[derive(Default)]
    struct Node {
        children: Vec<(String, Node)>,
        /// The node itself is imported (`self`), with these renames.
        this: Vec<Option<String>>,
        glob: bool,
    }
    fn insert(node: &mut Node, path: &[String], leaf: &Leaf) {
        match path.split_first() {
            None if leaf.glob => node.glob = true,
            None => node.this.push(leaf.rename.clone()),
            Some((first, rest)) => {
                let i = match node.children.iter().position(|(n, _)| n == first) {
                    Some(i) => i,
                    None => {
                        node.children.push((first.clone(), Node::default()));
                        node.children.len() - 1
                    }
                };
                insert(&mut node.children[i].1, rest, leaf);
            }
        }
    }
    fn items(node: &Node) -> Vec<String> {
        let mut out: Vec<String> = node
            .this
            .iter()
            .map(|r| match r {
                None => "self".to_owned(),
                Some(r) => format!("self as {r}"),
            })
            .collect();
        if node.glob {
            out.push("*".into());
        }
        for (name, child) in &node.children {
            let sub = items(child);
            match sub.as_slice() {
                [one] if one == "self" => out.push(name.clone()),
                [one] if one.starts_with("self as ") => {
                    out.push(format!("{name}{}", &one["self".len()..]))
                }
                [one] => out.push(format!("{name}::{one}")),
                many => out.push(format!("{name}::{{{}}}", many.join(", "))),
            }
        }
        out
    }
    let mut root = Node::default();
    for leaf in leaves {
        insert(&mut root, &leaf.path, leaf);
    }
    let all = items(&root);
    let colon = if leading_colon { "::" } else { "" };
    match all.as_slice() {
        [one] => format!("{colon}{one}"),
        many => format!("{colon}{{{}}}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(src: &str) -> Scan {
        Scan::of(src).expect("parses")
    }

    fn fix(src: &str) -> String {
        scan(src).fixed(src)
    }

    #[test]
    fn a_single_std_import_moves_to_weave() {
        assert_eq!(fix("use std::sync::Mutex;\n"), "use weave::sync::Mutex;\n");
    }

    #[test]
    fn a_group_keeps_what_weave_does_not_replace() {
        assert_eq!(
            fix("use std::sync::{Arc, Mutex};\n"),
            "use std::sync::Arc;\nuse weave::sync::Mutex;\n"
        );
    }

    #[test]
    fn a_nested_multi_line_tree_is_split_by_leaf() {
        let src = "fn f() {}\n    pub use std::{\n        sync::{Arc, atomic::AtomicUsize, Condvar as Cv},\n        thread,\n    };\n";
        assert_eq!(
            fix(src),
            "fn f() {}\n    pub use std::sync::{Arc, atomic::AtomicUsize};\n    pub use weave::{sync::Condvar as Cv, thread};\n"
        );
    }

    #[test]
    fn a_module_import_moves_only_if_weave_has_every_name_used() {
        let ok = "use std::thread;\nfn f() { thread::sleep(d); }\n";
        assert_eq!(
            fix(ok),
            "use weave::thread;\nfn f() { thread::sleep(d); }\n"
        );
        let missing = "use std::thread;\nfn f() { thread::panicking(); }\n";
        assert_eq!(fix(missing), missing);
        let s = scan(missing);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(
            s.findings[0].by_hand.as_deref(),
            Some("weave::thread has no panicking")
        );
    }

    #[test]
    fn a_full_path_in_code_is_listed_not_fixed() {
        let src = "fn f() { std::thread::sleep(d); }\n";
        assert_eq!(fix(src), src);
        let s = scan(src);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(
            s.findings[0].render(),
            "1: std::thread::sleep -> weave::thread::sleep (blocks only the ULT, not its LWP) [by hand: named by its full path in code]"
        );
    }

    #[test]
    fn thread_local_bare_or_std_becomes_weave() {
        assert_eq!(
            fix("thread_local! { static X: u8 = 0; }\n"),
            "weave::thread_local! { static X: u8 = 0; }\n"
        );
        assert_eq!(
            fix("std::thread_local!(static X: u8 = 0);\n"),
            "weave::thread_local!(static X: u8 = 0);\n"
        );
    }

    #[test]
    fn an_imported_thread_local_is_not_std() {
        let src = "use weave::thread_local;\nthread_local! { static X: u8 = 0; }\n";
        assert!(scan(src).findings.is_empty());
    }

    #[test]
    fn a_call_through_std_io_is_listed() {
        let src = "use std::io::{self, BufRead};\nfn f() { io::stdin().lock(); }\n";
        let s = scan(src);
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert_eq!(s.findings[0].replacement, "weave::io::stdin");
        assert!(s.findings[0].by_hand.is_some());
    }

    #[test]
    fn a_std_call_inside_a_macro_argument_is_seen() {
        let src = "fn f() { println!(\"{:?}\", std::thread::current().id()); }\n";
        let s = scan(src);
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert_eq!(s.findings[0].item, "std::thread::current");
    }

    #[test]
    fn crossbeam_channel_moves_to_mpmc_and_select_to_weave() {
        assert_eq!(
            fix("use crossbeam_channel::{bounded, select, Receiver};\n"),
            "use weave::{sync::mpmc::{bounded, Receiver}, select};\n"
        );
    }

    #[test]
    fn a_std_guard_held_across_a_wait_is_flagged() {
        let src = "use std::sync::Mutex;\nfn f(m: &Mutex<u8>) {\n    let g = m.lock().unwrap();\n    weave::thread::sleep(d);\n}\n";
        let s = scan(src);
        let guard = s.findings.iter().find(|f| f.item.contains("guard"));
        let guard = guard.expect("the guard is flagged");
        assert_eq!(guard.line, 3);
        assert!(guard.item.contains("`g`") && guard.item.contains("`sleep` at line 4"));
    }

    #[test]
    fn a_guard_dropped_before_the_wait_is_fine() {
        let src = "use std::sync::Mutex;\nfn f(m: &Mutex<u8>) {\n    let g = m.lock().unwrap();\n    drop(g);\n    weave::thread::sleep(d);\n}\n";
        assert!(scan(src).findings.iter().all(|f| !f.item.contains("guard")));
    }

    #[test]
    fn a_comment_inside_a_rewritten_use_is_kept_above_it() {
        assert_eq!(
            fix("use std::sync::{\n    Arc, // shared\n    Mutex, /* the lock */\n};\n"),
            "// shared\n/* the lock */\nuse std::sync::Arc;\nuse weave::sync::Mutex;\n"
        );
    }

    #[test]
    fn fixing_twice_changes_nothing_the_second_time() {
        let src = "use std::sync::{Arc, Mutex, mpsc::{self, Sender}};\nuse std::thread;\nthread_local!(static X: u8 = 0);\nfn f() { thread::spawn(|| ()); std::thread::sleep(d); }\n";
        let once = fix(src);
        assert_ne!(once, src);
        assert_eq!(fix(&once), once);
    }
}
