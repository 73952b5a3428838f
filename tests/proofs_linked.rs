//! Every derivation in proofs/ names the tests that check it (`checked-by: tests/F.rs::NAME`);
//! this test fails when a named file or test function does not exist, or a derivation names none.

use std::path::Path;

#[test]
fn every_proof_names_existing_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut proofs = 0;
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("proofs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") || path.file_name().unwrap() == "README.md" {
            continue;
        }
        proofs += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let links: Vec<&str> =
            text.lines().filter_map(|l| l.trim().strip_prefix("checked-by:")).map(str::trim).collect();
        if links.is_empty() {
            missing.push(format!("{}: no checked-by line", path.display()));
        }
        for link in links {
            let Some((file, name)) = link.split_once("::") else {
                missing.push(format!("{}: malformed link `{link}`", path.display()));
                continue;
            };
            let src = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            let defined = src.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with(&format!("fn {name}(")) || l.starts_with(&format!("pub fn {name}("))
            });
            if !defined {
                missing.push(format!("{}: `{link}` names no test function", path.display()));
            }
        }
    }
    assert!(proofs > 0, "proofs/ holds no derivations");
    assert!(missing.is_empty(), "broken links:\n{}", missing.join("\n"));
}
