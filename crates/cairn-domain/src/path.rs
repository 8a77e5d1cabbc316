//! Where a resource sits: its path as segments, and the readable text it is stored as.

use std::fmt;

/// A resource's path: the integration's name (or a term's or document's own name), then the
/// names of the database objects down to the resource, e.g. `shop`, `public`, `orders`.
///
/// Stored and shown as text joined by `.`, the first segment as it is (it is the
/// integration resource's own path) and any later segment that holds a `.` or starts with `"`
/// in double quotes, a `"` in it doubled: `shop.public."order.lines"`. Paths of names without
/// dots read as they always did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePath {
    segments: Vec<String>,
}

impl ResourcePath {
    /// A path from its segments, root first.
    pub fn new(segments: Vec<String>) -> ResourcePath {
        ResourcePath { segments }
    }

    /// The path of a crawled object: the integration's name, then the object's own segments.
    pub fn under(root: &str, object: &[String]) -> ResourcePath {
        let mut segments = Vec::with_capacity(object.len() + 1);
        segments.push(root.to_string());
        segments.extend(object.iter().cloned());
        ResourcePath { segments }
    }

    /// Every segment, root first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The segments below the root: the database objects' names.
    pub fn below_root(&self) -> &[String] {
        self.segments.get(1..).unwrap_or_default()
    }

    /// Reads stored text. The root is taken to end at the first `.`; when it may hold dots
    /// itself (an integration's name), read with [`ResourcePath::parse_under`].
    pub fn parse(stored: &str) -> ResourcePath {
        ResourcePath {
            segments: split_segments(stored),
        }
    }

    /// Reads stored text under a known root; `None` when the text is not under it.
    pub fn parse_under(root: &str, stored: &str) -> Option<ResourcePath> {
        let rest = stored.strip_prefix(root)?;
        let mut segments = vec![root.to_string()];
        if !rest.is_empty() {
            segments.extend(split_segments(rest.strip_prefix('.')?));
        }
        Some(ResourcePath { segments })
    }
}

fn needs_quotes(segment: &str) -> bool {
    segment.is_empty() || segment.contains('.') || segment.starts_with('"')
}

/// Where the separating dots of stored text are: every `.` outside a quoted segment. A quote
/// left open runs to the end of the text.
fn separators(text: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut segment_start = true;
    let mut quoted = false;
    while let Some((index, c)) = chars.next() {
        match c {
            '"' if segment_start => quoted = true,
            '"' if quoted => {
                // A doubled quote stays in the name; a single one closes the quotes.
                quoted = chars.next_if(|(_, next)| *next == '"').is_some();
            }
            '.' if !quoted => {
                found.push(index);
                segment_start = true;
                continue;
            }
            _ => {}
        }
        segment_start = false;
    }
    found
}

/// A segment's name from its stored text: quotes taken off, doubled quotes made single.
fn unquote(segment: &str) -> String {
    let Some(inner) = segment.strip_prefix('"') else {
        return segment.to_string();
    };
    let mut name = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' && chars.next_if_eq(&'"').is_none() {
            // Whatever follows the closing quote belongs to the segment too.
            name.extend(chars);
            break;
        }
        name.push(c);
    }
    name
}

/// Splits stored text into its segments' names.
fn split_segments(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut start = 0;
    for dot in separators(text) {
        segments.push(unquote(&text[start..dot]));
        start = dot + 1;
    }
    segments.push(unquote(&text[start..]));
    segments
}

impl ResourcePath {
    /// Appends one segment below the path whose stored text is `rendered`: a separating dot
    /// and the name, quoted when it holds a dot or a quote. Rendering a child from its
    /// parent's text gives what rendering the whole path gives.
    pub fn push_segment(rendered: &mut String, segment: &str) {
        rendered.push('.');
        if needs_quotes(segment) {
            rendered.push('"');
            rendered.push_str(&segment.replace('"', "\"\""));
            rendered.push('"');
        } else {
            rendered.push_str(segment);
        }
    }

    /// The stored text of the path one level up (a table's schema, a column's table): the
    /// text before the last separating dot, empty when there is none. Reads no more than it
    /// must, for ranking many resources.
    pub fn parent_text(stored: &str) -> &str {
        if !stored.contains('"') {
            // Nothing quoted: every dot separates.
            return stored.rfind('.').map_or("", |dot| &stored[..dot]);
        }
        separators(stored).last().map_or("", |dot| &stored[..*dot])
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((root, below)) = self.segments.split_first() else {
            return Ok(());
        };
        let mut text = root.clone();
        for segment in below {
            ResourcePath::push_segment(&mut text, segment);
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(segments: &[&str]) -> ResourcePath {
        ResourcePath::new(segments.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn plain_names_read_as_before() {
        let orders = path(&["shop", "public", "orders"]);
        assert_eq!(orders.to_string(), "shop.public.orders");
        assert_eq!(ResourcePath::parse("shop.public.orders"), orders);
        assert_eq!(orders.below_root(), ["public", "orders"]);
        assert_eq!(ResourcePath::parse("Pipeline"), path(&["Pipeline"]));
    }

    #[test]
    fn a_dot_in_a_name_stays_in_its_segment() {
        let lines = path(&["shop", "public", "order.lines", "id"]);
        assert_eq!(lines.to_string(), r#"shop.public."order.lines".id"#);
        assert_eq!(ResourcePath::parse(&lines.to_string()), lines);
        let quoted = path(&["wh", "\"odd\"", "a\"b"]);
        assert_eq!(quoted.to_string(), r#"wh."""odd""".a"b"#);
        assert_eq!(ResourcePath::parse(&quoted.to_string()), quoted);
    }

    #[test]
    fn the_parent_is_the_text_before_the_last_separator() {
        assert_eq!(
            ResourcePath::parent_text("shop.public.orders"),
            "shop.public"
        );
        assert_eq!(
            ResourcePath::parent_text(r#"shop.public."order.lines""#),
            "shop.public"
        );
        assert_eq!(
            ResourcePath::parent_text(r#"shop.public."order.lines".id"#),
            r#"shop.public."order.lines""#
        );
        assert_eq!(ResourcePath::parent_text("Pipeline"), "");
    }

    #[test]
    fn a_root_with_dots_is_read_under_its_name() {
        let stored = ResourcePath::under("prod.wh", &["main".into(), "t.x".into()]).to_string();
        assert_eq!(stored, r#"prod.wh.main."t.x""#);
        let read = ResourcePath::parse_under("prod.wh", &stored).unwrap();
        assert_eq!(read.below_root(), ["main", "t.x"]);
        assert_eq!(
            ResourcePath::parse_under("prod.wh", "prod.wh")
                .unwrap()
                .below_root(),
            [] as [String; 0]
        );
        assert_eq!(
            ResourcePath::parse_under("prod", "prod.wh.main"),
            Some(path(&["prod", "wh", "main"]))
        );
        assert_eq!(ResourcePath::parse_under("other", &stored), None);
        assert_eq!(ResourcePath::parse_under("prod.w", &stored), None);
    }

    proptest! {
        #[test]
        fn text_reads_back_as_the_segments_it_was_written_from(
            root in "[a-z.]{1,6}",
            object in proptest::collection::vec("[a-z.\"]{0,5}", 0..4),
        ) {
            let written = ResourcePath::under(&root, &object);
            let read = ResourcePath::parse_under(&root, &written.to_string());
            prop_assert_eq!(read, Some(written));
        }
    }
}
