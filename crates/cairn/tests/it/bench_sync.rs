//! `cairn bench sync` end to end on a small warehouse: each store's sync beside the store's
//! engine alone writing the same rows.

use std::process::Command;

#[test]
fn bench_sync_prints_each_store_s_sync_beside_its_engine_alone() {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", "sync", "--tables", "7", "--columns", "4"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    if printed.contains("skipping:") {
        println!("{printed}");
        return;
    }
    let objects = printed
        .lines()
        .find_map(|line| {
            line.strip_prefix("crawl alone")?
                .strip_suffix(" objects")?
                .rsplit(' ')
                .next()
        })
        .unwrap_or_else(|| panic!("the crawl's objects: {printed}"));
    for store in ["SQLite", "PostgreSQL"] {
        let section = printed
            .split(&format!("store on {store}:"))
            .nth(1)
            .unwrap_or_else(|| panic!("a section for {store}: {printed}"));
        let section = section.split("store on ").next().unwrap();
        assert!(
            section.contains("the store's engine alone, same rows"),
            "{store}: {section}"
        );
        assert!(
            section.contains(&format!(", {objects} resources added")),
            "{store} adds the crawl's {objects} objects: {section}"
        );
        assert!(
            section.contains("x the engine alone's time"),
            "{store}: {section}"
        );
    }
}
