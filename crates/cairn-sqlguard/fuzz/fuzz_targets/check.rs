#![no_main]
//! Fuzzes the guard with arbitrary text in all three dialects. It must never panic, and anything
//! it accepts must be accepted again with the same tables (the verdict is a pure function).

use cairn_sqlguard::{RelationResolver, Dialect, TableRef, check};
use libfuzzer_sys::fuzz_target;

struct Everything;

impl RelationResolver for Everything {
    fn resolve(&self, schema: Option<&str>, name: &str) -> Option<TableRef> {
        // Everything but one relation is visible, so the walk goes as deep as it can.
        (name != "secrets").then(|| TableRef {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(sql) = std::str::from_utf8(rest) else {
        return;
    };
    let dialect = match selector % 3 {
        0 => Dialect::Postgres,
        1 => Dialect::Mysql,
        _ => Dialect::Sqlite,
    };
    if let Ok(query) = check(dialect, sql, &Everything) {
        let again = check(dialect, sql, &Everything).expect("accepted twice");
        assert_eq!(query.tables(), again.tables());
        assert!(query.tables().iter().all(|table| table.name != "secrets"));
    }
});
