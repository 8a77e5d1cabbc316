//! Descriptions and dependencies read from SQLite's stored `CREATE` statements.
//!
//! SQLite has no `COMMENT`, but it keeps each statement's original text, comments included. So:
//! - a `-- text` (or `/* text */`) on the line where a column definition starts describes that
//!   column;
//! - comments between `CREATE TABLE name` and the first column definition (before the `(` or
//!   right after it) describe the table;
//! - comments before a view's `SELECT` (or `WITH`/`VALUES`) describe the view.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    /// A bare word (keyword or identifier).
    Word(String),
    /// A quoted identifier (`"x"`, `` `x` ``, `[x]`), unquoted.
    Quoted(String),
    /// A string literal (content dropped).
    Literal,
    /// A comment's text, without its markers, trimmed.
    Comment(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    line: usize,
    start: usize,
}

impl Token {
    fn is_comment(&self) -> bool {
        matches!(self.kind, TokenKind::Comment(_))
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(found) if found.eq_ignore_ascii_case(word))
    }

    fn identifier(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Word(name) | TokenKind::Quoted(name) => Some(name),
            _ => None,
        }
    }
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        sql,
        chars: sql.char_indices().collect(),
        line: 1,
    };
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < lexer.chars.len() {
        let (start, character) = lexer.chars[index];
        let next = lexer.char_at(index + 1);
        let line = lexer.line;
        let (kind, end) = match character {
            '\n' => {
                lexer.line += 1;
                index += 1;
                continue;
            }
            c if c.is_whitespace() => {
                index += 1;
                continue;
            }
            '-' if next == Some('-') => lexer.line_comment(index),
            '/' if next == Some('*') => lexer.block_comment(index),
            '\'' | '"' | '`' | '[' => lexer.quoted(index, character),
            c if c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii() => lexer.word(index),
            other => (TokenKind::Punct(other), index + 1),
        };
        tokens.push(Token { kind, line, start });
        index = end;
    }
    tokens
}

/// The statement's characters and the line reached; each method reads one token starting at a
/// character index and returns it with the index after it.
struct Lexer<'a> {
    sql: &'a str,
    chars: Vec<(usize, char)>,
    line: usize,
}

impl Lexer<'_> {
    fn char_at(&self, index: usize) -> Option<char> {
        self.chars.get(index).map(|(_, character)| *character)
    }

    fn byte_at(&self, index: usize) -> usize {
        self.chars
            .get(index)
            .map_or(self.sql.len(), |(byte, _)| *byte)
    }

    /// The comment's text, trimmed, between `from` and `to` (character indexes).
    fn comment(&self, from: usize, to: usize) -> TokenKind {
        TokenKind::Comment(
            self.sql[self.byte_at(from)..self.byte_at(to)]
                .trim()
                .to_owned(),
        )
    }

    /// `-- text` up to the end of the line.
    fn line_comment(&self, index: usize) -> (TokenKind, usize) {
        let mut end = index + 2;
        while end < self.chars.len() && self.chars[end].1 != '\n' {
            end += 1;
        }
        (self.comment(index + 2, end), end)
    }

    /// `/* text */`, over any number of lines.
    fn block_comment(&mut self, index: usize) -> (TokenKind, usize) {
        let mut end = index + 2;
        while end < self.chars.len()
            && !(self.chars[end].1 == '*' && self.char_at(end + 1) == Some('/'))
        {
            if self.chars[end].1 == '\n' {
                self.line += 1;
            }
            end += 1;
        }
        (
            self.comment(index + 2, end),
            (end + 2).min(self.chars.len()),
        )
    }

    /// A string literal (`'...'`) or a quoted identifier (`"x"`, `` `x` ``, `[x]`); a doubled
    /// quote inside is an escaped quote (not for `[...]`).
    fn quoted(&mut self, index: usize, open: char) -> (TokenKind, usize) {
        let close = if open == '[' { ']' } else { open };
        let mut end = index + 1;
        let mut content = String::new();
        while end < self.chars.len() {
            let current = self.chars[end].1;
            if current == close {
                if close != ']' && self.char_at(end + 1) == Some(close) {
                    content.push(close);
                    end += 2;
                    continue;
                }
                break;
            }
            if current == '\n' {
                self.line += 1;
            }
            content.push(current);
            end += 1;
        }
        let kind = if open == '\'' {
            TokenKind::Literal
        } else {
            TokenKind::Quoted(content)
        };
        (kind, end + 1)
    }

    /// A bare word: letters, digits, `_`, `$` and any non-ASCII character but whitespace.
    fn word(&self, index: usize) -> (TokenKind, usize) {
        let mut end = index;
        while end < self.chars.len() && {
            let c = self.chars[end].1;
            c.is_alphanumeric() || c == '_' || c == '$' || (!c.is_ascii() && !c.is_whitespace())
        } {
            end += 1;
        }
        let start = self.chars[index].0;
        (
            TokenKind::Word(self.sql[start..self.byte_at(end)].to_owned()),
            end,
        )
    }
}

fn join_comments<'a>(comments: impl Iterator<Item = &'a Token>) -> Option<String> {
    let texts: Vec<&str> = comments
        .filter_map(|token| match &token.kind {
            TokenKind::Comment(text) if !text.is_empty() => Some(text.as_str()),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join(" "))
}

/// The table's description and its columns' descriptions (keyed by lower-cased column name),
/// from a `CREATE TABLE` statement.
pub(crate) fn table_comments(sql: &str) -> (Option<String>, HashMap<String, String>) {
    let tokens = tokenize(sql);
    let Some(open) = tokens
        .iter()
        .position(|token| token.kind == TokenKind::Punct('('))
    else {
        return (join_comments(tokens.iter()), HashMap::new());
    };
    let first_body_token = tokens[open + 1..]
        .iter()
        .position(|token| !token.is_comment())
        .map_or(tokens.len(), |offset| open + 1 + offset);
    let first_body_line = tokens.get(first_body_token).map(|token| token.line);
    // comments before the body, and comments after `(` that are not on the first column's line
    let table_description =
        join_comments(tokens[..first_body_token].iter().filter(|token| {
            token.start < tokens[open].start || Some(token.line) != first_body_line
        }));
    let first_line_comments: Vec<&Token> = tokens[open + 1..first_body_token]
        .iter()
        .filter(|token| Some(token.line) == first_body_line)
        .collect();

    let items = body_items(&tokens, open);
    let mut line_comments: Vec<&Token> = tokens[first_body_token..]
        .iter()
        .filter(|token| token.is_comment())
        .collect();
    line_comments.extend(first_line_comments);
    let columns = column_comments(&tokens, &items, line_comments);
    (table_description, columns)
}

/// The items of a table body (after the `(` at `open`), split at top-level commas: each one's
/// first token index and, for a column definition, its name (`None` for a constraint).
fn body_items(tokens: &[Token], open: usize) -> Vec<(usize, Option<String>)> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut expecting_item = true;
    for (index, token) in tokens.iter().enumerate().skip(open + 1) {
        if token.is_comment() {
            continue;
        }
        match token.kind {
            TokenKind::Punct('(') => depth += 1,
            TokenKind::Punct(')') if depth == 0 => break,
            TokenKind::Punct(')') => depth -= 1,
            TokenKind::Punct(',') if depth == 0 => {
                expecting_item = true;
                continue;
            }
            _ => {}
        }
        if expecting_item {
            expecting_item = false;
            let is_constraint = ["CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"]
                .iter()
                .any(|keyword| token.is_word(keyword));
            let name = if is_constraint {
                None
            } else {
                token.identifier().map(str::to_owned)
            };
            items.push((index, name));
        }
    }
    items
}

/// Each comment describes the column whose definition starts last on its line before it;
/// several comments of one column are joined. Keyed by lower-cased column name.
fn column_comments(
    tokens: &[Token],
    items: &[(usize, Option<String>)],
    comments: Vec<&Token>,
) -> HashMap<String, String> {
    let mut columns = HashMap::new();
    for comment in comments {
        let TokenKind::Comment(text) = &comment.kind else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let owner = items.iter().rev().find(|(first, _)| {
            tokens[*first].line == comment.line && tokens[*first].start < comment.start
        });
        if let Some((_, Some(name))) = owner {
            columns
                .entry(name.to_lowercase())
                .and_modify(|existing: &mut String| {
                    existing.push(' ');
                    existing.push_str(text);
                })
                .or_insert_with(|| text.clone());
        }
    }
    columns
}

/// A view's description (comments before its query) and its query text (after `AS`).
pub(crate) fn view_parts(sql: &str) -> (Option<String>, Option<String>) {
    let tokens = tokenize(sql);
    let query_start = tokens.iter().position(|token| {
        token.is_word("SELECT") || token.is_word("WITH") || token.is_word("VALUES")
    });
    let description = join_comments(tokens[..query_start.unwrap_or(tokens.len())].iter());
    let body = tokens
        .iter()
        .position(|token| token.is_word("AS"))
        .and_then(|as_index| tokens.get(as_index + 1..))
        .and_then(|rest| rest.iter().find(|token| !token.is_comment()))
        .map(|token| sql[token.start..].trim().to_owned());
    (description, body)
}

/// The names (as written) of the relations a query reads: the identifiers following `FROM`,
/// `JOIN`, or a comma inside a `FROM` list (a `schema.` prefix is skipped).
pub(crate) fn referenced_relations(sql: &str) -> Vec<String> {
    let tokens: Vec<Token> = tokenize(sql)
        .into_iter()
        .filter(|token| !token.is_comment())
        .collect();
    let clause_keywords = [
        "SELECT",
        "WHERE",
        "GROUP",
        "ORDER",
        "HAVING",
        "LIMIT",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "WINDOW",
        "VALUES",
        "SET",
    ];
    let mut names = Vec::new();
    // whether a FROM list is open, per parenthesis depth (subqueries have their own)
    let mut in_from: Vec<bool> = vec![false];
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        let depth = in_from.len() - 1;
        let starts_relation = match &token.kind {
            TokenKind::Punct('(') => {
                in_from.push(false);
                false
            }
            TokenKind::Punct(')') => {
                if depth > 0 {
                    in_from.pop();
                }
                false
            }
            TokenKind::Punct(',') => in_from[depth],
            _ if token.is_word("FROM") || token.is_word("JOIN") => {
                in_from[depth] = true;
                true
            }
            _ => {
                if clause_keywords.iter().any(|keyword| token.is_word(keyword)) {
                    in_from[depth] = false;
                }
                false
            }
        };
        index += 1;
        if !starts_relation {
            continue;
        }
        let Some(mut name) = tokens.get(index).and_then(Token::identifier) else {
            continue;
        };
        if tokens.get(index + 1).map(|token| &token.kind) == Some(&TokenKind::Punct('.'))
            && let Some(qualified) = tokens.get(index + 2).and_then(Token::identifier)
        {
            name = qualified;
            index += 2;
        }
        if !name.eq_ignore_ascii_case("SELECT") {
            names.push(name.to_owned());
        }
        index += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_comments_on_their_line_describe_the_column() {
        let sql = "CREATE TABLE employee ( -- people on the payroll\n\
                   -- one row per person\n\
                   id INTEGER PRIMARY KEY, -- surrogate key\n\
                   \"full name\" TEXT NOT NULL, /* as on the contract */\n\
                   salary NUMERIC CHECK (salary > 0) -- yearly, in EUR\n\
                   , [team id] INTEGER -- team, see team.id\n\
                   -- a note about nothing\n\
                   , note TEXT\n\
                   , a INT, b INT -- only b\n\
                   , FOREIGN KEY (\"team id\") REFERENCES team(id) -- not a column\n\
                   )";
        let (table, columns) = table_comments(sql);
        assert_eq!(
            table.as_deref(),
            Some("people on the payroll one row per person")
        );
        assert_eq!(columns["id"], "surrogate key");
        assert_eq!(columns["full name"], "as on the contract");
        assert_eq!(columns["salary"], "yearly, in EUR");
        assert_eq!(columns["team id"], "team, see team.id");
        assert_eq!(columns["b"], "only b");
        assert!(!columns.contains_key("note"));
        assert!(!columns.contains_key("a"));
        assert_eq!(columns.len(), 5);
    }

    #[test]
    fn a_comment_before_the_body_describes_the_table() {
        let (table, columns) = table_comments("CREATE TABLE t -- the t table\n(x INT -- ex\n)");
        assert_eq!(table.as_deref(), Some("the t table"));
        assert_eq!(columns["x"], "ex");
        let (table, _) = table_comments("CREATE TABLE t (x INT)");
        assert_eq!(table, None);
    }

    #[test]
    fn a_comment_on_the_first_column_line_is_the_columns() {
        let (table, columns) = table_comments("CREATE TABLE t (x INT, -- ex\n y INT)");
        assert_eq!(table, None);
        assert_eq!(columns["x"], "ex");
    }

    #[test]
    fn views_give_description_body_and_dependencies() {
        let sql = "CREATE VIEW v_sales AS\n-- revenue per month\nSELECT o.id, c.name \
                   FROM main.orders o JOIN \"customer\" c ON c.id = o.customer_id, \
                   region r WHERE o.x IN (SELECT y FROM refunds)";
        let (description, body) = view_parts(sql);
        assert_eq!(description.as_deref(), Some("revenue per month"));
        assert!(body.unwrap().starts_with("SELECT o.id"));
        assert_eq!(
            referenced_relations(sql),
            vec!["orders", "customer", "region", "refunds"]
        );
    }
}
