//! The shape of `src/`: no file-level import cycle, and no file over 700 lines.
//!
//! Every library file under `src/` (the binary under `src/bin/` is a separate crate) is read, its
//! `use` declarations and inline `crate::…`/`super::…` paths in code are resolved to the file that
//! defines the deepest module on the path, and the resulting file graph must be acyclic.
//! `pub use` (also `pub(crate) use`) declarations are re-exports: they name an item under another
//! path and are not dependencies of the file's own code, so they add no edge (a `mod.rs` that
//! re-exports its children and whose children import its trait is not a cycle). `mod` declarations
//! add no edge either. Comments (including doc links) and `#[cfg(test)]` modules are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files allowed to exceed [`MAX_LINES`] today, each to be split by concept; a new big file fails.
const ALLOWED_BIG: &[&str] = &[];

const MAX_LINES: usize = 700;

/// Module path (`["flow", "integrators", "gbs"]`) of a file relative to `src/`, `None` for the
/// binary.
fn module_of(rel: &str) -> Option<Vec<String>> {
    if rel.starts_with("bin/") {
        return None;
    }
    let no_ext = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = no_ext.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    Some(parts)
}

/// Drops comments, string contents and `#[cfg(test)]` modules.
fn code_of(src: &str) -> String {
    let mut out = String::new();
    let mut lines = src.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            // A test module runs only in the crate's own unit tests: skip its braces.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if opened && depth <= 0 {
                    break;
                }
            }
            continue;
        }
        let code = match t.find("//") {
            Some(i) => &t[..i],
            None => t,
        };
        // Blank out string literals (a path inside a message is no dependency).
        let mut in_str = false;
        let mut prev = ' ';
        for c in code.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                out.push('"');
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Expands a use tree such as `crate::a::{b, c::{d, e}}` into full paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|s| !s.is_empty())
        .flat_map(|s| expand_use(s).into_iter().map(move |p| format!("{prefix}{p}")))
        .collect()
}

/// Paths the code of a file depends on (as written, `crate::…`, `super::…` or `self::…`).
fn dependency_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    // `use` declarations (possibly over several lines), re-exports excluded; what remains is
    // scanned for inline paths.
    let mut rest_code = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = &rest[..i];
        let at_start = before.is_empty() || before.ends_with(|c: char| c.is_whitespace() || c == ';' || c == '{');
        if !at_start {
            rest_code.push_str(&rest[..i + 4]);
            rest = &rest[i + 4..];
            continue;
        }
        let end = rest[i..].find(';').map_or(rest.len(), |e| i + e);
        let line_start = before.rfind('\n').map_or(0, |k| k + 1);
        let head = before[line_start..].trim();
        if !head.starts_with("pub") {
            paths.extend(expand_use(&rest[i + 4..end]));
        }
        rest_code.push_str(&before[..line_start]);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    rest_code.push_str(rest);
    let text = rest_code;
    for kw in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(k) = text[from..].find(kw) {
            let s = from + k;
            let boundary = s == 0 || !text[..s].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            let mut e = s;
            while let Some(c) = text[e..].chars().next() {
                if c.is_alphanumeric() || c == '_' || c == ':' {
                    e += c.len_utf8();
                } else {
                    break;
                }
            }
            if boundary {
                paths.push(text[s..e].trim_end_matches(':').to_string());
            }
            from = e.max(s + kw.len());
        }
    }
    paths
}

/// Resolves `path` written in the file of module `here` to the file module it depends on: the
/// longest prefix of the absolute path that is a module with a file.
fn resolve(path: &str, here: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut abs: Vec<String> = match segs.first() {
        Some(&"crate") => {
            segs.remove(0);
            Vec::new()
        }
        Some(&"super") | Some(&"self") => {
            // `self` of a file is its module; `super` of `a/b.rs` is `a`, of `a/b/mod.rs` also `a`.
            let mut base = here.to_vec();
            while let Some(&s) = segs.first() {
                match s {
                    "self" => {}
                    "super" => {
                        base.pop();
                    }
                    _ => break,
                }
                segs.remove(0);
            }
            base
        }
        _ => return None, // an external crate or std
    };
    abs.extend(segs.iter().map(|s| s.to_string()));
    while !abs.is_empty() {
        if modules.contains(&abs) {
            return Some(abs);
        }
        abs.pop();
    }
    Some(Vec::new()) // the crate root
}

/// The file graph: module path → modules its code depends on.
fn graph(files: &BTreeMap<String, String>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeMap<Vec<String>, &String> =
        files.iter().filter_map(|(rel, src)| module_of(rel).map(|m| (m, src))).collect();
    let names: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, src) in &modules {
        let deps: BTreeSet<Vec<String>> =
            dependency_paths(&code_of(src)).iter().filter_map(|p| resolve(p, m, &names)).filter(|d| d != m).collect();
        g.insert(m.clone(), deps);
    }
    g
}

/// A cycle of the graph, if there is one (depth-first search with colours).
fn find_cycle<N: Ord + Clone>(g: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        n: &N,
        g: &BTreeMap<N, BTreeSet<N>>,
        state: &mut BTreeMap<N, u8>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d).copied().unwrap_or(0) {
                1 => {
                    let i = stack.iter().position(|x| x == d).expect("on the stack");
                    let mut c = stack[i..].to_vec();
                    c.push(d.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(d, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn src_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("readable src dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("readable file"));
            }
        }
    }
    out
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn src_has_no_file_level_import_cycle() {
    let files = src_files();
    let g = graph(&files);
    // The parse found the crate's structure: e.g. the integrators depend on the recorder.
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(g.len() > 40 && edges > 100, "{} files, {edges} edges: the parser read too little", g.len());
    let gbs = vec!["flow".to_string(), "integrators".into(), "gbs".into()];
    assert!(g[&gbs].contains(&vec!["flow".to_string(), "record".into()]), "{:?}", g[&gbs]);
    if let Some(c) = find_cycle(&g) {
        let names: Vec<String> = c.iter().map(|m| show(m)).collect();
        panic!("file-level import cycle: {}", names.join(" -> "));
    }
}

#[test]
fn no_src_file_is_over_the_line_limit() {
    let files = src_files();
    let mut over = Vec::new();
    for (rel, src) in &files {
        let n = src.lines().count();
        if n > MAX_LINES && !ALLOWED_BIG.contains(&rel.as_str()) {
            over.push(format!("{rel}: {n} lines"));
        }
    }
    assert!(over.is_empty(), "files over {MAX_LINES} lines (split them by concept): {over:?}");
    // The allow-list names files that exist (a stale entry would hide nothing but mislead).
    for a in ALLOWED_BIG {
        assert!(files.contains_key(*a), "allow-listed file {a} does not exist: remove it from ALLOWED_BIG");
    }
}

#[test]
fn the_cycle_finder_finds_a_fake_cycle_and_not_a_fake_chain() {
    let g: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2].into()), (2, [3].into()), (3, [1].into()), (4, [1].into())].into_iter().collect();
    let c = find_cycle(&g).expect("1 -> 2 -> 3 -> 1 is a cycle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    let dag: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2, 3].into()), (2, [3].into()), (3, BTreeSet::new()), (4, [1].into())].into_iter().collect();
    assert_eq!(find_cycle(&dag), None);
}

#[test]
fn the_parser_sees_a_cycle_through_use_and_super_and_ignores_reexports() {
    let file = |s: &str| s.to_string();
    // a/mod.rs re-exports b (no edge); b uses a's trait (edge b -> a); c uses b inline and a uses c.
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    files.insert("lib.rs".into(), file("pub mod a;\n"));
    files.insert("a/mod.rs".into(), file("pub mod b;\npub mod c;\npub use self::b::Thing;\npub trait T {}\n"));
    files.insert(
        "a/b.rs".into(),
        file("use super::T;\n/// [`crate::a::c`] in a doc link is no edge\npub struct Thing;\n"),
    );
    files.insert("a/c.rs".into(), file("pub fn f() -> usize { crate::a::b::Thing; 1 }\n"));
    assert_eq!(find_cycle(&graph(&files)), None, "{:?}", graph(&files));
    // Now b also uses c through a grouped import, and c's inline path points to b: b <-> c.
    files.insert("a/b.rs".into(), file("use crate::{a::{c::f, T}};\npub struct Thing;\n"));
    let c = find_cycle(&graph(&files)).expect("b -> c -> b");
    assert!(c.iter().any(|m| m.last().is_some_and(|x| x == "b")), "{c:?}");
}
