//! Reading a corpus file, shared by the tests that run the corpora (included with `#[path]`).
//! A line is `allow` or `deny`, a tab, then the SQL with `\n`, `\t` and `\\` escaped; blank
//! lines and lines starting with `#` are skipped.

/// One line of a corpus.
pub struct Case {
    pub line: usize,
    pub allow: bool,
    pub sql: String,
}

/// Reads `crates/cairn-sqlguard/corpus/FILE`.
pub fn load(file: &str) -> Vec<Case> {
    // Both crates that read the corpora sit beside each other under `crates/`.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cairn-sqlguard/corpus")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("corpus file");
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| {
            let (verdict, sql) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{file}:{}: missing tab", index + 1));
            let allow = match verdict {
                "allow" => true,
                "deny" => false,
                other => panic!("{file}:{}: unknown verdict {other}", index + 1),
            };
            Case {
                line: index + 1,
                allow,
                sql: unescape(sql),
            }
        })
        .collect()
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
